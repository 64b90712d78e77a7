"""ESP webhooks: real payloads (from the ESPs' documentation) posted to anymail's real
webhook URLs; bounces, complaints and ESP unsubscribes reach the ledger exactly once."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from suppression import policy
from suppression.addresses import address_hash
from suppression.models import Channel, ConsentEvent, EspEvent, Source, Suppression

pytestmark = pytest.mark.django_db

SECRET = "anymail-user:webhook-secret"
MAILGUN_KEY = "mailgun-webhook-signing-key"


@pytest.fixture(autouse=True)
def anymail_settings(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}


def auth(secret=SECRET):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def post_json(path, payload, **extra):
    return Client().post(path, data=json.dumps(payload), content_type="application/json", **{**auth(), **extra})


def channels(address):
    return set(Suppression.objects.filter(address_hash=address_hash(address)).values_list("channel", flat=True))


# --- Postmark -------------------------------------------------------------------------


def postmark_bounce(email, bounce_type="HardBounce", id_=901542550, record_type="Bounce"):
    return {
        "RecordType": record_type,
        "ID": id_,
        "Type": bounce_type,
        "TypeCode": {"HardBounce": 1, "SoftBounce": 4096, "SpamComplaint": 512}[bounce_type],
        "ServerID": 23,
        "Name": "Hard bounce",
        "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "sender@example.com",
        "BouncedAt": "2026-11-20T16:28:50.3963933-04:00",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Postmark event test",
        "Metadata": {"campaign": "7", "delivery": "123"},
    }


POSTMARK = "/webhooks/anymail/postmark/tracking/"


def test_postmark_hard_bounce_makes_the_address_undeliverable_once():
    payload = postmark_bounce("Bounce@Example.com ")
    assert post_json(POSTMARK, payload).status_code == 200
    assert post_json(POSTMARK, payload).status_code == 200  # the ESP retries
    assert channels("bounce@example.com") == {Channel.UNDELIVERABLE}
    suppression = Suppression.objects.get()
    assert (suppression.source, suppression.actor, suppression.campaign_id) == (Source.BOUNCE, "Postmark", 7)
    assert EspEvent.objects.count() == 1 and ConsentEvent.objects.count() == 1
    assert policy.blocked(["bounce@example.com"], "account") == {"bounce@example.com": Channel.UNDELIVERABLE}


def test_postmark_soft_bounces_count_and_the_third_suppresses():
    for number in (1, 2):
        post_json(POSTMARK, postmark_bounce("soft@example.com", "SoftBounce", id_=number))
    assert channels("soft@example.com") == set()
    post_json(POSTMARK, postmark_bounce("soft@example.com", "SoftBounce", id_=2))  # a retry is not a new bounce
    assert channels("soft@example.com") == set()
    post_json(POSTMARK, postmark_bounce("soft@example.com", "SoftBounce", id_=3))
    assert channels("soft@example.com") == {Channel.UNDELIVERABLE}


def test_postmark_spam_complaint_and_subscription_change():
    post_json(POSTMARK, postmark_bounce("spam@example.com", "SpamComplaint", record_type="SpamComplaint"))
    unsubscribe = {
        "RecordType": "SubscriptionChange",
        "MessageID": "a4909a96-73d7-4c49-b148-a54522d3f7ac",
        "ServerID": 23,
        "MessageStream": "broadcast",
        "ChangedAt": "2026-11-20T17:17:32Z",
        "Recipient": "john@example.com",
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "winter-offers",
        "Metadata": {"campaign": "7"},
    }
    assert post_json(POSTMARK, unsubscribe).status_code == 200
    assert post_json(POSTMARK, unsubscribe).status_code == 200  # no event id: payload digest dedups
    assert channels("spam@example.com") == {Channel.COMPLAINT}
    assert channels("john@example.com") == {Channel.EMAIL_MARKETING}
    assert Suppression.objects.get(channel=Channel.EMAIL_MARKETING).source == Source.ESP
    assert ConsentEvent.objects.count() == 2


def test_webhook_without_the_secret_is_refused_with_no_side_effect():
    response = post_json(POSTMARK, postmark_bounce("bounce@example.com"), HTTP_AUTHORIZATION="")
    assert response.status_code == 400
    response = post_json(POSTMARK, postmark_bounce("bounce@example.com"), **auth("anymail-user:wrong"))
    assert response.status_code == 400
    assert not Suppression.objects.exists() and not EspEvent.objects.exists()


# --- Mailgun (signed) -----------------------------------------------------------------

MAILGUN = "/webhooks/anymail/mailgun/tracking/"


def mailgun_event(event_data, token, key=MAILGUN_KEY):
    timestamp = str(int(time.time()))
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event_data}


def mailgun_failed(recipient, severity="permanent", timestamp=None):
    return {
        "event": "failed",
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": timestamp or time.time(),
        "log-level": "error",
        "severity": severity,
        "reason": "bounce" if severity == "permanent" else "generic",
        "recipient": recipient,
        "recipient-domain": recipient.split("@")[1],
        "delivery-status": {
            "attempt-no": 1,
            "code": 550 if severity == "permanent" else 452,
            "message": "5.1.1 The email account that you tried to reach does not exist",
            "description": "",
            "tls": True,
            "mx-host": "smtp-in.example.com",
        },
        "envelope": {"sender": "bob@mg.example.com", "transport": "smtp", "targets": recipient},
        "flags": {"is-routed": False, "is-authenticated": True, "is-system-test": False, "is-test-mode": False},
        "message": {
            "headers": {
                "to": f"Alice <{recipient}>",
                "message-id": "20130503182626.18666.16540@mg.example.com",
                "from": "Bob <bob@mg.example.com>",
                "subject": "Winter offers",
            },
            "attachments": [],
            "size": 111,
        },
        "tags": ["winter-offers"],
        "user-variables": {"campaign": "9", "delivery": "41"},
    }


def test_mailgun_signed_permanent_failure_and_complaint():
    assert post_json(MAILGUN, mailgun_event(mailgun_failed("alice@example.com"), "token-1")).status_code == 200
    complained = {
        "event": "complained",
        "id": "-Agny091SquKnsrW2NEKUA",
        "timestamp": time.time(),
        "log-level": "warn",
        "recipient": "carol@example.com",
        "message": {
            "headers": {
                "to": "carol@example.com",
                "message-id": "x@mg.example.com",
                "from": "bob@mg.example.com",
                "subject": "Offers",
            }
        },
        "user-variables": {},
    }
    assert post_json(MAILGUN, mailgun_event(complained, "token-2")).status_code == 200
    unsubscribed = {
        **complained,
        "event": "unsubscribed",
        "id": "Ase7i2zsRYeDXztHGENqRA",
        "recipient": "dave@example.com",
    }
    assert post_json(MAILGUN, mailgun_event(unsubscribed, "token-3")).status_code == 200
    assert channels("alice@example.com") == {Channel.UNDELIVERABLE}
    assert Suppression.objects.get(channel=Channel.UNDELIVERABLE).campaign_id == 9
    assert channels("carol@example.com") == {Channel.COMPLAINT}
    assert channels("dave@example.com") == {Channel.EMAIL_MARKETING}


def test_mailgun_temporary_failures_outside_30_days_do_not_count():
    old = time.time() - 40 * 86400
    post_json(MAILGUN, mailgun_event(mailgun_failed("slow@example.com", "temporary", timestamp=old), "t-old"))
    post_json(MAILGUN, mailgun_event(mailgun_failed("slow@example.com", "temporary"), "t-1"))
    post_json(MAILGUN, mailgun_event(mailgun_failed("slow@example.com", "temporary"), "t-2"))
    assert channels("slow@example.com") == set()
    post_json(MAILGUN, mailgun_event(mailgun_failed("slow@example.com", "temporary"), "t-3"))
    assert channels("slow@example.com") == {Channel.UNDELIVERABLE}


def test_mailgun_bad_signature_is_refused():
    payload = mailgun_event(mailgun_failed("alice@example.com"), "token-1", key="someone-elses-key")
    assert post_json(MAILGUN, payload).status_code == 400
    assert not Suppression.objects.exists()


# --- Amazon SES through SNS -----------------------------------------------------------

SES = "/webhooks/anymail/amazon_ses/tracking/"


def post_sns(ses_event, message_id="19ba9823-d7f2-53c1-860e-cb10e0d13dfc", **extra):
    sns = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:SES_Events",
        "Subject": "Amazon SES Email Event Notification",
        "Message": json.dumps(ses_event) + "\n",
        "Timestamp": "2026-11-20T17:58:59.675Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE-SIGNATURE==",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-12345abcde.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn",
    }
    return Client().post(
        SES,
        data=json.dumps(sns),
        content_type="text/plain; charset=UTF-8",  # SNS posts JSON as text/plain
        HTTP_X_AMZ_SNS_MESSAGE_ID=sns["MessageId"],
        HTTP_X_AMZ_SNS_MESSAGE_TYPE=sns["Type"],
        **{**auth(), **extra},
    )


def ses_bounce(bounce_type, recipients):
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": r,
                    "status": "5.1.1",
                    "action": "failed",
                    "diagnosticCode": "smtp; 550 5.1.1 User unknown",
                }
                for r in recipients
            ],
            "timestamp": "2026-11-20T14:59:44.101Z",
            "feedbackId": "00000138111222aa-44455566-cccc-cccc-cccc-ddddaaaa068a-000000",
            "reportingMTA": "dns; email.example.com",
        },
        "mail": {
            "timestamp": "2026-11-20T14:59:38.237Z",
            "source": "offers@example.com",
            "messageId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
            "destination": [*recipients, "mary@example.com"],
            "headers": [{"name": "X-Metadata", "value": '{"campaign": "5"}'}],
        },
    }


def test_ses_permanent_bounce_of_two_recipients_in_one_notification():
    assert post_sns(ses_bounce("Permanent", ["jane@example.com", "richard@example.com"])).status_code == 200
    assert post_sns(ses_bounce("Permanent", ["jane@example.com", "richard@example.com"])).status_code == 200
    assert channels("jane@example.com") == channels("richard@example.com") == {Channel.UNDELIVERABLE}
    assert channels("mary@example.com") == set()
    assert EspEvent.objects.count() == 2 and ConsentEvent.objects.count() == 2


def test_ses_transient_bounce_is_soft_and_complaint_is_complaint():
    post_sns(ses_bounce("Transient", ["busy@example.com"]), message_id="a1")
    assert channels("busy@example.com") == set()
    assert EspEvent.objects.get().kind == EspEvent.Kind.SOFT_BOUNCE
    complaint = {
        "notificationType": "Complaint",
        "complaint": {
            "userAgent": "AnyCompany Feedback Loop (V0.01)",
            "complainedRecipients": [{"emailAddress": "richard@example.com"}],
            "complaintFeedbackType": "abuse",
            "timestamp": "2026-11-20T14:59:44.101Z",
            "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
        },
        "mail": {
            "messageId": "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
            "destination": ["richard@example.com"],
        },
    }
    assert post_sns(complaint, message_id="a2").status_code == 200
    assert channels("richard@example.com") == {Channel.COMPLAINT}


def test_ses_without_basic_auth_gets_401_so_sns_retries_with_it():
    response = post_sns(ses_bounce("Permanent", ["jane@example.com"]), HTTP_AUTHORIZATION="")
    assert response.status_code == 401
    assert not Suppression.objects.exists()


# --- Brevo ----------------------------------------------------------------------------

BREVO = "/webhooks/anymail/brevo/tracking/"


def brevo(event, email, **extra):
    return {
        "event": event,
        "email": email,
        "id": 9999999,
        "date": "2026-11-20 11:10:23",
        "ts": 1795000000,
        "ts_event": 1795000000,
        "ts_epoch": 1795000000000,
        "message-id": "<202611201158.9876543210@smtp-relay.mailin.fr>",
        "subject": "Winter offers",
        "X-Mailin-custom": '{"campaign": "3"}',
        **extra,
    }


def test_brevo_hard_bounce_invalid_email_spam_and_unsubscribe():
    reason = " RecipientError: 550 5.5.0 Requested action not taken: mailbox unavailable."
    assert post_json(BREVO, brevo("hard_bounce", "gone@example.com", reason=reason)).status_code == 200
    post_json(BREVO, brevo("invalid_email", "typo@exmaple.com", reason="invalid"))
    post_json(BREVO, brevo("spam", "angry@example.com"))
    post_json(BREVO, brevo("unsubscribe", "bye@example.com"))
    post_json(BREVO, brevo("blocked", "policy@example.com", reason="blocked : due to blacklist user"))
    assert channels("gone@example.com") == {Channel.UNDELIVERABLE}
    assert Suppression.objects.get(address="gone@example.com").campaign_id == 3
    assert channels("typo@exmaple.com") == {Channel.UNDELIVERABLE}
    assert channels("angry@example.com") == {Channel.COMPLAINT}
    assert channels("bye@example.com") == {Channel.EMAIL_MARKETING}
    assert channels("policy@example.com") == set()  # the ESP's own policy block, not the mailbox


def test_brevo_soft_bounces_are_counted_not_suppressed_at_once():
    for ts in (1795000000, 1795000100):
        post_json(BREVO, brevo("soft_bounce", "full@example.com", ts_epoch=ts * 1000, reason="mailbox full"))
    post_json(BREVO, brevo("soft_bounce", "full@example.com", ts_epoch=1795000100 * 1000, reason="mailbox full"))
    assert channels("full@example.com") == set()
    assert EspEvent.objects.filter(kind=EspEvent.Kind.SOFT_BOUNCE).count() == 2
    post_json(BREVO, brevo("deferred", "full@example.com", ts_epoch=1795000200 * 1000))
    assert channels("full@example.com") == {Channel.UNDELIVERABLE}
