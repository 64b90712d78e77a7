"""Sending through anymail's real Postmark backend to a stand-in Postmark API on loopback:
the batch path (a template per campaign, 500 recipients a call) and one call per message."""

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Delivery
from campaigns.sending import pipeline
from suppression import policy
from suppression.models import Channel, Source, Suppression
from tests.factories import send_until_idle, started_campaign

pytestmark = pytest.mark.django_db

PEOPLE = [
    ("ada@example.com", "<Ada>"),
    ("grace@example.com", "Grace"),
    ("inactive@example.com", "Ina"),
    ("optout@example.com", "Opt"),
]


@pytest.fixture(params=[True, False], ids=["batch", "single"])
def campaign(request, sender_settings, postmark_mailers, settings):
    settings.MAILROOM_ESP_BATCH = request.param
    return started_campaign(PEOPLE)


def statuses(campaign):
    return dict(Delivery.objects.filter(campaign=campaign).values_list("contact__email", "status"))


def test_postmark_receives_personalised_messages_with_one_click_headers(campaign, postmark_mailers):
    policy.record_opt_out("optout@example.com", Channel.EMAIL_MARKETING, Source.ONE_CLICK)  # after the snapshot
    send_until_idle(campaign)
    received = {m["To"]: m for m in postmark_mailers.messages()}
    assert set(received) == {"ada@example.com", "grace@example.com"}
    ada = received["ada@example.com"]
    assert ada["Subject"] == "<Ada>, new offers"
    assert "Hello &lt;Ada&gt;!" in ada["HtmlBody"] and "<Ada>" not in ada["HtmlBody"]
    assert "Hello <Ada>!" in ada["TextBody"]
    headers = {h["Name"]: h["Value"] for h in ada["Headers"]}
    url = headers["List-Unsubscribe"][1:-1]
    assert (
        url.startswith("https://mailroom.test/u/") and headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    assert url in ada["HtmlBody"] and url in ada["TextBody"]
    delivery = Delivery.objects.get(campaign=campaign, contact__email="ada@example.com")
    assert ada["Metadata"] == {"campaign": str(campaign.pk), "delivery": str(delivery.pk)}
    assert delivery.esp_message_id
    assert statuses(campaign) == {
        "ada@example.com": "sent",
        "grace@example.com": "sent",
        "inactive@example.com": "failed",
        "optout@example.com": "suppressed",
    }
    # Postmark's "inactive recipient" is a mailbox problem: suppressed as undeliverable.
    assert Suppression.objects.filter(address="inactive@example.com", channel=Channel.UNDELIVERABLE).exists()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_esp_errors_are_retried_then_sent(campaign, postmark_mailers, status):
    postmark_mailers.fail_next(status)  # the first API call fails
    assert pipeline.send_next_batch(campaign.pk)
    retrying = list(Delivery.objects.filter(campaign=campaign, status=Delivery.Status.CLAIMED))
    assert retrying and all(d.claimed_until > timezone.now() for d in retrying)
    retried = {d.contact.email for d in retrying}
    assert not retried & {m["To"] for m in postmark_mailers.messages()}
    Delivery.objects.filter(pk__in=[d.pk for d in retrying]).update(claimed_until=timezone.now())  # backoff over
    send_until_idle(campaign)
    received = [m["To"] for m in postmark_mailers.messages()]
    for delivery in Delivery.objects.filter(campaign=campaign, contact__email__in=retried):
        if delivery.contact.email == "inactive@example.com":  # retried, then refused for good
            assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 2)
            continue
        assert received.count(delivery.contact.email) == 1
        assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 2)


def test_permanent_esp_error_fails_with_the_reason(campaign, postmark_mailers):
    postmark_mailers.fail_next(*[401] * 4)
    send_until_idle(campaign)
    failed = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.FAILED)
    assert failed.count() == 4
    assert all("401" in d.reason for d in failed)


def test_template_registration_is_idempotent_across_workers(postmark_mailers, settings):
    from anymail.backends.postmark import EmailBackend

    from campaigns.sending import builders

    backend = EmailBackend(alias="t", api_url=postmark_mailers.api_url, server_token="t")
    template = {"Name": "n", "Subject": "s", "HtmlBody": "<p>{{{h0}}}</p>", "TextBody": "{{{t0}}}"}
    for _ in range(2):  # a second worker process: its own cache, the template already there
        builders._registered.clear()
        builders.register_postmark_template(backend, "mailroom-campaign-race", template)
    assert ("http://" in postmark_mailers.api_url) and builders._registered
