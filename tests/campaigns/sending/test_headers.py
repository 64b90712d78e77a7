"""Every campaign message carries a List-Id and a Reply-To, on every sending path: the
pre-encoded MIME skeleton (SMTP, outbox), the Postmark batch, and a plain EmailMessage."""

import email
import email.policy

import pytest
from django.core import mail

from cms.rendering import FrozenEmail
from config.settings.base import gateway_mailer
from tests.factories import send_until_idle, started_campaign

pytestmark = pytest.mark.django_db
PEOPLE = [("ada@example.com", "Ada"), ("grace@example.com", "Grace")]
LIST_ID = '"Example Offers" <offers.example.com>'


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.strict)


def test_mime_skeleton_messages_carry_list_id_and_reply_to_the_sender(sender_settings, outbox_dir):
    send_until_idle(started_campaign(PEOPLE))
    messages = [parse(path.read_bytes()) for path in outbox_dir.glob("*.eml")]
    assert len(messages) == 2
    for message in messages:
        assert message["List-Id"] == LIST_ID
        assert message["Reply-To"] == "Example Offers <offers@example.com>"  # no reply-to set: the sender


def test_reply_to_from_the_sender_settings_on_a_plain_email_message(sender_settings, settings):
    sender_settings.reply_to = "help@example.com"
    sender_settings.save()
    backend = "django.core.mail.backends.locmem.EmailBackend"
    settings.MAILERS = settings.MAILERS | {"promotional": gateway_mailer("promotional", backend, {})}
    send_until_idle(started_campaign(PEOPLE))
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert message.reply_to == ["Example Offers <help@example.com>"]
        assert message.extra_headers["List-Id"] == LIST_ID
        assert parse(message.message().as_bytes())["List-Id"] == LIST_ID


def test_postmark_batch_messages_carry_list_id_and_reply_to(sender_settings, postmark_mailers, settings):
    settings.MAILROOM_ESP_BATCH = True
    send_until_idle(started_campaign(PEOPLE))
    received = postmark_mailers.messages()
    assert {m["To"] for m in received} == {"ada@example.com", "grace@example.com"}
    for message in received:
        headers = {h["Name"]: h["Value"] for h in message["Headers"]}
        assert headers["List-Id"] == LIST_ID
        assert message["ReplyTo"] == "Example Offers <offers@example.com>"


def list_id(sender):
    return FrozenEmail(subject="", preheader="", html="", text="", from_email=sender, reply_to="").list_id


def test_list_id_is_plain_ascii_whatever_the_sender_is_called():
    assert list_id("Müller & Söhne <Angebote+Winter@Example.DE>") == '"Muller & Sohne" <angebote-winter.example.de>'
    assert list_id("offers@example.com") == "<offers.example.com>"
    hostile = list_id('"Evil\r\nBcc: x" <offers@example.com>')
    assert hostile.isascii() and "\r" not in hostile and "\n" not in hostile and '"' not in hostile[1:-1]
