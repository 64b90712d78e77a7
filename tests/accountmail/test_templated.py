"""Templated account-service mail reaches people who opted out of offers, never undeliverable
addresses; it goes through the default mailer on the account queue (a real worker)."""

import email
import email.policy
import time

import pytest

from accountmail import handoff
from accountmail.models import AccountMessage
from accountmail.tasks import send_account_message
from accountmail.templated import render, send_account_mail
from suppression import policy
from suppression.models import Channel, DroppedMessage, Source

ORDER = {
    "first_name": "<Ada>",
    "order_number": "A-1001",
    "items": [{"name": "Course: Django", "price": "€490"}],
    "total": "€490",
}


def body(raw, content_type):
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return next(p for p in message.walk() if p.get_content_type() == content_type).get_content()


@pytest.mark.django_db
def test_order_confirmation_reaches_an_offers_opt_out_but_not_an_undeliverable_address(outbox_dir):
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    policy.record_opt_out("ada@example.com", Channel.COMPLAINT, Source.COMPLAINT)
    policy.record_opt_out("bob@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    assert send_account_message(handoff.keep(["Ada@Example.com"], *render("order_confirmation", ORDER))) == 1
    registration = {"course": "Django", "starts": "1 Dec", "location": "Online"}
    assert send_account_message(handoff.keep(["bob@example.com"], *render("course_registration", registration))) == 0
    assert not AccountMessage.objects.exists()  # handed off (or dropped): nothing kept
    [sent] = outbox_dir.glob("*.eml")
    raw = sent.read_bytes()
    assert b"Subject: Your order A-1001 is confirmed" in raw
    assert "&lt;Ada&gt;" in body(raw, "text/html") and "Hello <Ada>," in body(raw, "text/plain")
    assert b"List-Unsubscribe" not in raw  # account mail is no offer
    assert DroppedMessage.objects.get().stream == "account"


@pytest.mark.django_db
def test_a_message_the_backend_could_not_take_stays_kept_and_beat_queues_it_again(settings):
    from datetime import timedelta

    from django.utils import timezone

    from config.settings.base import gateway_mailer
    from tests.services import free_port

    options = {"host": "127.0.0.1", "port": free_port(), "timeout": 5}  # nobody listens there
    settings.MAILERS = settings.MAILERS | {
        "default": gateway_mailer("account", "django.core.mail.backends.smtp.EmailBackend", options)
    }
    message_id = handoff.keep(["ada@example.com"], *render("order_confirmation", ORDER))
    with pytest.raises(OSError):
        handoff.hand_off(message_id)
    assert AccountMessage.objects.filter(pk=message_id).exists()
    assert handoff.unsent() == []  # its task was queued just now
    a_lease_later = timezone.now() + timedelta(seconds=settings.MAILROOM_CLAIM_LEASE_SECONDS + 1)
    assert handoff.unsent(now=a_lease_later) == [message_id]
    assert handoff.unsent(now=a_lease_later) == []  # queued again: not twice


@pytest.mark.django_db
def test_unknown_template_is_refused_before_queueing():
    with pytest.raises(ValueError):
        send_account_mail("ada@example.com", "newsletter", {})


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_on_the_account_queue_delivers_it(start_worker, smtp_inbox):
    start_worker(queues="account")
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.ONE_CLICK)
    policy.record_opt_out("bob@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    send_account_mail("bob@example.com", "order_confirmation", ORDER)
    send_account_mail(
        "ada@example.com", "course_registration", {"course": "Django in depth", "starts": "1 Dec", "location": "Online"}
    )
    [(_, recipients, raw)] = smtp_inbox.wait_for(1)
    assert recipients == ["ada@example.com"]
    assert "You are registered for Django in depth" in body(raw, "text/plain")
    deadline = time.monotonic() + 30
    while not DroppedMessage.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert DroppedMessage.objects.get().channel == Channel.UNDELIVERABLE
    assert len(smtp_inbox.messages) == 1
