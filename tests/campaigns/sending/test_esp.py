"""Sending through anymail's real Postmark backend to a stand-in Postmark API on loopback:
the batch path (a template per campaign, one call per chunk) and one call per message."""

import pytest

from campaigns.models import Campaign, Delivery
from campaigns.sending import pipeline
from campaigns.sending.delivery_errors import BackendUnavailable
from suppression import policy
from suppression.models import Channel, Source, Suppression
from tests.factories import send_until_idle, started_campaign
from tests.standins.esps import PEOPLE

pytestmark = pytest.mark.django_db


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
def test_an_esp_outage_hands_the_rows_back_unsent_without_spending_an_attempt(campaign, postmark_mailers, status):
    postmark_mailers.fail_next(status)  # the first API call fails
    with pytest.raises(BackendUnavailable):
        pipeline.send_next_batch(campaign.pk)
    back = list(Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING))
    assert back and all(d.attempts == 0 and d.claimed_until is None for d in back)
    assert not {d.contact.email for d in back} & {m["To"] for m in postmark_mailers.messages()}
    send_until_idle(campaign)
    received = [m["To"] for m in postmark_mailers.messages()]
    assert sorted(received) == ["ada@example.com", "grace@example.com", "optout@example.com"]
    assert statuses(campaign)["inactive@example.com"] == "failed"
    for delivery in Delivery.objects.filter(campaign=campaign, status=Delivery.Status.SENT):
        assert delivery.attempts == 1


def test_an_esp_retry_after_is_what_the_chain_waits(campaign, postmark_mailers):
    postmark_mailers.outage({"status": 429, "seconds": 30, "retry_after": 7})
    with pytest.raises(BackendUnavailable) as outage:
        pipeline.send_next_batch(campaign.pk)
    assert outage.value.retry_after == 7
    postmark_mailers.reset()


def test_no_call_carries_more_than_a_chunk(campaign, postmark_mailers, settings):
    settings.MAILROOM_CHUNK_SIZE = 2  # the batch path's own limit is Postmark's 500
    send_until_idle(campaign)
    calls = postmark_mailers.calls()
    assert max(calls) == (2 if settings.MAILROOM_ESP_BATCH else 1)
    assert sum(calls) == 4


def test_permanent_esp_error_fails_with_the_reason(campaign, postmark_mailers):
    postmark_mailers.fail_next(*[401] * 4)
    send_until_idle(campaign)
    failed = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.FAILED)
    assert failed.count() == 4
    assert all("401" in d.reason for d in failed)


def test_template_registration_is_idempotent_across_workers(postmark_mailers):
    from anymail.backends.postmark import EmailBackend

    from campaigns.sending.esp import templates

    backend = EmailBackend(alias="t", api_url=postmark_mailers.api_url, server_token="t")
    for _ in range(2):  # a second worker process: its own cache, the template already there
        templates._registered.clear()
        templates.postmark(backend, "mailroom-campaign-race", "s", "<p>{{{h0}}}</p>", "{{{t0}}}")
    assert templates._registered
