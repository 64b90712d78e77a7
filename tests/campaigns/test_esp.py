"""Sending through anymail's real Postmark backend to a stand-in Postmark API on loopback:
the batch path (a template per campaign, 500 recipients a call) and one call per message."""

import pytest
from django.utils import timezone

from campaigns import sending
from campaigns.models import Campaign, Delivery
from suppression import policy
from suppression.models import Channel, Source, Suppression
from tests.factories import make_audience, make_campaign, make_page

pytestmark = pytest.mark.django_db

PEOPLE = [("ada@example.com", "<Ada>"), ("grace@example.com", "Grace"), ("inactive@example.com", "Ina"), ("optout@example.com", "Opt")]


@pytest.fixture(params=[True, False], ids=["batch", "single"])
def campaign(request, sender_settings, postmark_mailers, settings):
    settings.MAILROOM_ESP_BATCH = request.param
    campaign = make_campaign(make_page(), make_audience("Customers", PEOPLE))
    sending.schedule(campaign)
    assert sending.begin(campaign.pk)
    return campaign


def run_until_idle(campaign):
    while sending.send_next_batch(campaign.pk):
        pass


def statuses(campaign):
    return dict(Delivery.objects.filter(campaign=campaign).values_list("contact__email", "status"))


def test_postmark_receives_personalised_messages_with_one_click_headers(campaign, postmark_mailers):
    policy.record_opt_out("optout@example.com", Channel.EMAIL_MARKETING, Source.ONE_CLICK)  # after the snapshot
    run_until_idle(campaign)
    received = {m["To"]: m for m in postmark_mailers.messages()}
    assert set(received) == {"ada@example.com", "grace@example.com"}
    ada = received["ada@example.com"]
    assert ada["Subject"] == "<Ada>, new offers"
    assert "Hello &lt;Ada&gt;!" in ada["HtmlBody"] and "<Ada>" not in ada["HtmlBody"]
    assert "Hello <Ada>!" in ada["TextBody"]
    headers = {h["Name"]: h["Value"] for h in ada["Headers"]}
    url = headers["List-Unsubscribe"][1:-1]
    assert url.startswith("https://mailroom.test/u/") and headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in ada["HtmlBody"] and url in ada["TextBody"]
    delivery = Delivery.objects.get(campaign=campaign, contact__email="ada@example.com")
    assert ada["Metadata"] == {"campaign": str(campaign.pk), "delivery": str(delivery.pk)}
    assert delivery.esp_message_id
    assert statuses(campaign) == {
        "ada@example.com": "sent", "grace@example.com": "sent",
        "inactive@example.com": "failed", "optout@example.com": "suppressed",
    }
    # Postmark's "inactive recipient" is a mailbox problem: suppressed as undeliverable.
    assert Suppression.objects.filter(address="inactive@example.com", channel=Channel.UNDELIVERABLE).exists()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_esp_errors_are_retried_then_sent(campaign, postmark_mailers, status):
    postmark_mailers.fail_next(status)  # the first API call fails: ada's, in either path
    assert sending.send_next_batch(campaign.pk)
    ada = Delivery.objects.get(campaign=campaign, contact__email="ada@example.com")
    assert ada.status == Delivery.Status.CLAIMED and ada.claimed_until > timezone.now()
    assert "ada@example.com" not in [m["To"] for m in postmark_mailers.messages()]
    Delivery.objects.filter(pk=ada.pk).update(claimed_until=timezone.now())  # the backoff has passed
    run_until_idle(campaign)
    assert [m["To"] for m in postmark_mailers.messages()].count("ada@example.com") == 1
    ada.refresh_from_db()
    assert (ada.status, ada.attempts) == (Delivery.Status.SENT, 2), ada.reason


def test_permanent_esp_error_fails_with_the_reason(campaign, postmark_mailers):
    postmark_mailers.fail_next(*[401] * 4)
    run_until_idle(campaign)
    failed = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.FAILED)
    assert failed.count() == 4
    assert all("401" in d.reason for d in failed)
