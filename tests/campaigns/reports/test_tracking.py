"""ESP events → DeliveryEvent rows: real Postmark webhook payloads posted to anymail's
webhook view, which parses them and sends anymail's `tracking` signal to our receiver."""

import base64
import json

import pytest
from anymail.signals import AnymailTrackingEvent, tracking

from campaigns.models import Delivery, DeliveryEvent
from campaigns.reports import stats
from tests.campaigns.report_data import PEOPLE
from tests.factories import make_audience, make_campaign, make_page, start

pytestmark = pytest.mark.django_db

AUTH = "Basic " + base64.b64encode(b"hook:secret").decode()


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret"}


@pytest.fixture
def campaign(sender_settings):
    campaign = start(make_campaign(make_page(), make_audience("Customers", PEOPLE[:3])))
    Delivery.objects.filter(campaign=campaign).update(status=Delivery.Status.SENT)
    return campaign


def delivery_of(campaign, email):
    return Delivery.objects.get(campaign=campaign, contact__email=email)


def metadata(delivery):
    """What campaigns.sending.personalise attaches to every message, as the ESP hands it back."""
    return {"campaign": str(delivery.campaign_id), "delivery": str(delivery.pk)}


def postmark(client, payload):
    return client.post(
        "/webhooks/anymail/postmark/tracking/",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH,
    )


def bounce(delivery, email, event_id=4323372036854775807):
    # Postmark's documented bounce webhook body.
    return {
        "RecordType": "Bounce",
        "ID": event_id,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "offers",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": metadata(delivery),
        "ServerID": 23,
        "MessageStream": "broadcast",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "offers@example.com",
        "BouncedAt": "2026-11-25T01:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Person0, new offers",
    }


def test_postmark_bounce_complaint_open_and_unsubscribe_are_recorded(client, campaign):
    first, second, third = (delivery_of(campaign, email) for email, _ in PEOPLE[:3])
    assert postmark(client, bounce(first, "person0@example.com")).status_code == 200
    assert (
        postmark(
            client,
            {
                "RecordType": "SpamComplaint",
                "ID": 42,
                "Type": "SpamComplaint",
                "TypeCode": 512,
                "Name": "Spam complaint",
                "MessageID": "00000000-0000-0000-0000-000000000002",
                "Metadata": metadata(second),
                "ServerID": 23,
                "MessageStream": "broadcast",
                "Description": "",
                "Details": "Test spam complaint details",
                "Email": "person1@example.com",
                "From": "offers@example.com",
                "BouncedAt": "2026-11-25T01:34:00Z",
                "Subject": "Person1, new offers",
            },
        ).status_code
        == 200
    )
    assert (
        postmark(
            client,
            {
                "RecordType": "Open",
                "MessageStream": "broadcast",
                "Metadata": metadata(third),
                "FirstOpen": True,
                "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
                "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
                "Platform": "WebMail",
                "UserAgent": "Mozilla/5.0",
                "ReadSeconds": 5,
                "Geo": {},
                "MessageID": "00000000-0000-0000-0000-000000000003",
                "ReceivedAt": "2026-11-25T01:35:00Z",
                "Tag": "offers",
                "Recipient": "person2@example.com",
            },
        ).status_code
        == 200
    )
    assert (
        postmark(
            client,
            {
                "RecordType": "SubscriptionChange",
                "MessageID": "00000000-0000-0000-0000-000000000004",
                "ServerID": 23,
                "MessageStream": "broadcast",
                "ChangedAt": "2026-11-25T01:36:00Z",
                "Recipient": "person2@example.com",
                "Origin": "Recipient",
                "SuppressSending": True,
                "SuppressionReason": "ManualSuppression",
                "Tag": "offers",
                "Metadata": metadata(third),
            },
        ).status_code
        == 200
    )

    recorded = set(DeliveryEvent.objects.values_list("delivery_id", "kind", "campaign_id"))
    assert recorded == {
        (first.pk, "bounced", campaign.pk),
        (second.pk, "complained", campaign.pk),
        (third.pk, "opened", campaign.pk),
        (third.pk, "unsubscribed", campaign.pk),
    }
    bounced = DeliveryEvent.objects.get(kind="bounced")
    assert bounced.esp_event_id == "4323372036854775807"
    assert bounced.occurred_at.isoformat().startswith("2026-11-25T01:33:54")
    results = stats.results(campaign)
    assert (results.bounced, results.complained, results.unsubscribed, results.opened) == (1, 1, 1, 1)


def test_a_retried_webhook_is_counted_once(client, campaign):
    first = delivery_of(campaign, "person0@example.com")
    for _ in range(3):
        assert postmark(client, bounce(first, "person0@example.com")).status_code == 200
    assert DeliveryEvent.objects.filter(delivery=first, kind="bounced").count() == 1


def test_events_without_campaign_metadata_or_for_other_campaigns_are_ignored(client, campaign):
    first = delivery_of(campaign, "person0@example.com")
    account_mail = bounce(first, "person0@example.com")
    account_mail["Metadata"] = {}
    assert postmark(client, account_mail).status_code == 200
    wrong_campaign = bounce(first, "person0@example.com")
    wrong_campaign["Metadata"] = {"campaign": str(campaign.pk + 1000), "delivery": str(first.pk)}
    assert postmark(client, wrong_campaign).status_code == 200
    delivered = {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "broadcast",
        "MessageID": "00000000-0000-0000-0000-000000000005",
        "Recipient": "person0@example.com",
        "Tag": "offers",
        "DeliveredAt": "2026-11-25T01:33:54Z",
        "Details": "Test delivery webhook details",
        "Metadata": metadata(first),
    }
    assert postmark(client, delivered).status_code == 200
    assert not DeliveryEvent.objects.exists()


def test_receiver_is_connected_to_anymail_tracking_signal(campaign):
    """Other ESPs reach us the same way: any AnymailTrackingEvent with our metadata."""
    delivery = delivery_of(campaign, "person1@example.com")
    event = AnymailTrackingEvent(
        event_type="clicked",
        event_id="mg-1",
        metadata=metadata(delivery),
        recipient="person1@example.com",
        click_url="https://example.com/offers",
        esp_event={},
    )
    tracking.send(sender=object, event=event, esp_name="Mailgun")
    clicked = DeliveryEvent.objects.get(delivery=delivery)
    assert (clicked.kind, clicked.description) == ("clicked", "https://example.com/offers")
