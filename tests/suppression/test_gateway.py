"""Invariant 1 and 2: every message passes the gateway, which knows its stream."""

import logging

import pytest
from django.core.mail import EmailMultiAlternatives, mailers, send_mail

from suppression import policy
from suppression.gateway import MissingUnsubscribe
from suppression.models import Channel, DroppedMessage, Source

URL = "https://mailroom.test/u/token/"


def promotional(to="ada@example.com", url=URL, headers=True, link_in_body=True):
    body = f"Offers. Unsubscribe: {url}" if link_in_body else "Offers."
    message = EmailMultiAlternatives("Offers", body, "offers@example.com", [to])
    message.attach_alternative(
        f'<p>Offers</p><a href="{url}">Unsubscribe</a>' if link_in_body else "<p>Offers</p>", "text/html"
    )
    if headers:
        message.extra_headers["List-Unsubscribe"] = f"<{url}>"
        message.extra_headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


def sent_files(outbox_dir):
    return sorted(outbox_dir.glob("*.eml"))


@pytest.mark.django_db
def test_promotional_without_unsubscribe_headers_is_refused(outbox_dir):
    with pytest.raises(MissingUnsubscribe):
        mailers["promotional"].send_messages([promotional(headers=False)])
    assert sent_files(outbox_dir) == []


@pytest.mark.django_db
def test_promotional_without_link_in_body_is_refused(outbox_dir):
    with pytest.raises(MissingUnsubscribe):
        mailers["promotional"].send_messages([promotional(link_in_body=False)])
    assert sent_files(outbox_dir) == []


@pytest.mark.django_db
def test_message_declaring_promotional_is_checked_even_on_the_account_mailer(outbox_dir):
    message = promotional(headers=False)
    message.mailroom_stream = "promotional"
    with pytest.raises(MissingUnsubscribe):
        mailers["default"].send_messages([message])
    assert sent_files(outbox_dir) == []


@pytest.mark.django_db
def test_gateway_adds_headers_from_the_pipelines_url(outbox_dir):
    message = promotional(headers=False)
    message.unsubscribe_url = URL
    assert mailers["promotional"].send_messages([message]) == 1
    raw = sent_files(outbox_dir)[0].read_text()
    assert f"List-Unsubscribe: <{URL}>" in raw
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw


@pytest.mark.django_db
def test_promotional_to_opted_out_address_is_dropped_and_recorded(outbox_dir):
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    assert mailers["promotional"].send_messages([promotional(to=" ADA@Example.com ")]) == 0
    assert sent_files(outbox_dir) == []
    drop = DroppedMessage.objects.get()
    assert (drop.stream, drop.channel) == ("promotional", Channel.EMAIL_MARKETING)


@pytest.mark.django_db
def test_account_mail_still_reaches_a_marketing_opt_out(outbox_dir):
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    policy.record_opt_out("ada@example.com", Channel.COMPLAINT, Source.COMPLAINT)
    assert send_mail("Your order", "Thanks for your order.", None, ["ada@example.com"]) == 1
    assert len(sent_files(outbox_dir)) == 1


@pytest.mark.django_db
def test_undeliverable_blocks_account_mail_too(outbox_dir):
    policy.record_opt_out("ada@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    assert send_mail("Password reset", "Reset it here.", None, ["Ada <ada@example.com>", "bob@example.com"]) == 1
    [sent] = sent_files(outbox_dir)
    assert "bob@example.com" in sent.read_text() and "ada@example.com" not in sent.read_text()


@pytest.mark.django_db
def test_unclassified_mail_is_account_service_and_logged(outbox_dir, caplog):
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    with caplog.at_level(logging.INFO, logger="suppression.gateway"):
        assert send_mail("Hello", "No unsubscribe link needed here.", None, ["ada@example.com"]) == 1
    assert "Unclassified" in caplog.text


@pytest.mark.django_db
def test_django_password_reset_goes_through_the_gateway(outbox_dir, client, django_user_model):
    django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    policy.record_opt_out("ada@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    response = client.post("/admin/password_reset/", {"email": "ada@example.com"})
    assert response.status_code == 302
    assert sent_files(outbox_dir) == []
    assert DroppedMessage.objects.filter(stream="account", channel=Channel.UNDELIVERABLE).count() == 1
