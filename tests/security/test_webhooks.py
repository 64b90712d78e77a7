"""ESP webhooks trust nobody by default: refused without a configured secret in every
environment, 404 when switched off; forged posts change nothing. Every event the ledger
understands is recorded even when an ESP field it does not need is malformed (real
payload shapes, from tests/suppression/test_webhooks.py and the ESPs' documentation)."""

import json

import pytest
from django.test import Client

from campaigns.models import DeliveryEvent
from suppression.models import Channel, ConsentEvent, EspEvent, Suppression
from tests.suppression.test_webhooks import (
    BREVO,
    MAILGUN,
    MAILGUN_KEY,
    POSTMARK,
    SECRET,
    auth,
    brevo,
    channels,
    mailgun_event,
    mailgun_failed,
    post_json,
    post_sns,
    postmark_bounce,
    ses_bounce,
)

pytestmark = pytest.mark.django_db

POSTMARK_OPEN = {
    "RecordType": "Open",
    "MessageStream": "broadcast",
    "Metadata": {"campaign": "7", "delivery": "1"},
    "FirstOpen": True,
    "Recipient": "ada@example.com",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "ReceivedAt": "2026-11-20T16:28:50Z",
    "Platform": "WebMail",
    "ReadSeconds": 5,
    "UserAgent": "Mozilla/5.0",
}


def every_esp_post():
    """A bounce to each ESP's URL as its real payload, with the right secret if one is set."""
    return {
        "postmark": post_json(POSTMARK, postmark_bounce("victim@example.com")),
        "postmark-open": post_json(POSTMARK, POSTMARK_OPEN),
        "mailgun": post_json(MAILGUN, mailgun_event(mailgun_failed("victim@example.com"), "token-1")),
        "amazon_ses": post_sns(ses_bounce("Permanent", ["victim@example.com"])),
        "brevo": post_json(BREVO, brevo("hard_bounce", "victim@example.com")),
    }


def nothing_recorded():
    return not (
        Suppression.objects.exists()
        or EspEvent.objects.exists()
        or ConsentEvent.objects.exists()
        or DeliveryEvent.objects.exists()
    )


def test_without_a_configured_secret_every_webhook_is_refused(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}  # a signing key alone is not enough
    responses = every_esp_post()
    assert {name: response.status_code for name, response in responses.items()} == dict.fromkeys(responses, 403)
    assert nothing_recorded()


def test_switched_off_webhooks_answer_404_even_with_the_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    settings.MAILROOM_WEBHOOKS_ENABLED = False
    responses = every_esp_post()
    assert {name: response.status_code for name, response in responses.items()} == dict.fromkeys(responses, 404)
    assert nothing_recorded()


@pytest.mark.parametrize("credentials", [{"HTTP_AUTHORIZATION": ""}, auth("anymail-user:guessed")])
def test_forged_posts_change_nothing(settings, credentials):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    assert post_json(POSTMARK, postmark_bounce("victim@example.com"), **credentials).status_code == 400
    assert post_json(POSTMARK, POSTMARK_OPEN, **credentials).status_code == 400  # opens feed segments
    forged_signature = mailgun_event(mailgun_failed("victim@example.com"), "token-1", key="guessed-key")
    assert post_json(MAILGUN, forged_signature).status_code == 400  # right secret, wrong signature
    assert post_sns(ses_bounce("Permanent", ["victim@example.com"]), **credentials).status_code in (400, 401)
    assert post_json(BREVO, brevo("hard_bounce", "victim@example.com"), **credentials).status_code == 400
    assert nothing_recorded()


@pytest.fixture
def secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}


def test_brevo_bounce_with_a_custom_header_that_is_not_json_is_recorded(secret):
    # Brevo's own documentation shows "X-Mailin-custom": "some_custom_header".
    payload = brevo("hard_bounce", "gone@example.com", **{"X-Mailin-custom": "some_custom_header"})
    assert post_json(BREVO, payload).status_code == 200
    assert post_json(BREVO, payload).status_code == 200  # Brevo retries: applied once
    assert channels("gone@example.com") == {Channel.UNDELIVERABLE}
    assert EspEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("url", "payload", "channel"),
    [
        (BREVO, brevo("spam", "a@example.com", ts_epoch="yesterday"), Channel.COMPLAINT),
        (BREVO, brevo("hard_bounce", "b@example.com", **{"X-Mailin-custom": "[1, 2]"}), Channel.UNDELIVERABLE),
        (POSTMARK, {**postmark_bounce("c@example.com"), "BouncedAt": "2026-13-45T99:00:00Z"}, Channel.UNDELIVERABLE),
        (POSTMARK, {**postmark_bounce("d@example.com"), "Metadata": "campaign 7"}, Channel.UNDELIVERABLE),
        (
            MAILGUN,
            mailgun_event({**mailgun_failed("e@example.com"), "timestamp": "soon", "user-variables": "x"}, "t"),
            Channel.UNDELIVERABLE,
        ),
    ],
    ids=["brevo-timestamp", "brevo-custom-not-an-object", "postmark-date", "postmark-metadata", "mailgun-timestamp"],
)
def test_an_event_with_a_malformed_field_it_does_not_need_is_still_recorded(secret, url, payload, channel):
    address = (payload.get("email") or payload.get("Email") or payload.get("event-data", {}).get("recipient")).strip()
    assert post_json(url, payload).status_code == 200
    assert channels(address) == {channel}


def test_ses_metadata_that_is_not_an_object_still_records_the_bounce(secret):
    event = ses_bounce("Permanent", ["f@example.com"])
    event["mail"]["headers"] = [{"name": "X-Metadata", "value": json.dumps("campaign 5")}]
    assert post_sns(event).status_code == 200
    assert channels("f@example.com") == {Channel.UNDELIVERABLE}


def test_brevo_unsubscribed_closes_email_offers(secret):
    # Brevo's transactional webhook names it "unsubscribed" (anymail 15 maps only "unsubscribe").
    assert post_json(BREVO, brevo("unsubscribed", "bye@example.com")).status_code == 200
    assert channels("bye@example.com") == {Channel.EMAIL_MARKETING}


def test_webhooks_take_no_cookie_and_no_csrf_token(secret):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        POSTMARK, json.dumps(postmark_bounce("g@example.com")), content_type="application/json", **auth()
    )
    assert response.status_code == 200 and channels("g@example.com") == {Channel.UNDELIVERABLE}
