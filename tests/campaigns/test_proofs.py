"""Test sends (through the gateway, marked as tests, never counted) and `render_email`
(the exact bytes the promotional mailer would send)."""

import email
import email.policy
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from campaigns.models import Contact, Delivery
from campaigns.proofs import send_test
from suppression import policy
from suppression.models import Channel, DroppedMessage, Source
from tests.factories import make_page

pytestmark = pytest.mark.django_db


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.strict)


def part(message, content_type):
    return next(p for p in message.walk() if p.get_content_type() == content_type).get_content()


def test_test_send_goes_through_the_gateway_marked_as_a_test(sender_settings, smtp_mailers, settings):
    settings.MAILROOM_TEST_RECIPIENTS = ["@example.com"]
    Contact.objects.create(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    policy.record_opt_out("gone@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    user = get_user_model().objects.create_user("mia", "mia@example.com", "pw")
    results = send_test(make_page(), ["ada@example.com", "new@example.com", "gone@example.com"], user=user)
    assert results == {
        "ada@example.com": "sent",
        "new@example.com": "sent",
        "gone@example.com": "not sent: email marketing",
    }
    received = {rcpts[0]: parse(raw) for _, rcpts, raw in smtp_mailers.wait_for(2)}
    assert set(received) == {"ada@example.com", "new@example.com"}
    ada, stranger = received["ada@example.com"], received["new@example.com"]
    assert ada["X-Mailroom-Test"] == "1" and ada["Subject"] == "[Test] Alex, new offers"
    assert stranger["Subject"] == "[Test] Alex, new offers"  # the sample contact's data, never a stored name
    assert ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = ada["List-Unsubscribe"].strip()[1:-1]
    assert url in part(ada, "text/plain") and url in part(ada, "text/html")
    assert "X-Mailroom-Campaign" not in ada  # no campaign statistic can count it
    assert not Delivery.objects.exists()
    assert DroppedMessage.objects.filter(channel=Channel.EMAIL_MARKETING).count() == 1


def test_marketer_sends_a_test_from_the_admin(client, sender_settings, smtp_mailers, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    settings.MAILROOM_TEST_RECIPIENTS = ["boss@example.com"]
    call_command("seed_demo", password="demo-password-1", stdout=io.StringIO())
    from django.contrib.auth.models import Group

    from cms.models import EmailPage

    user = get_user_model().objects.create_user("mia", "mia@example.com", "pw")
    user.groups.add(Group.objects.get(name="Marketers"))
    client.force_login(user)
    page = EmailPage.objects.get(slug="winter-offers")
    url = reverse("campaigns_test_send", args=[page.pk])
    form = client.get(url)
    assert form.status_code == 200 and "mia@example.com" in form.content.decode()
    response = client.post(url, {"addresses": "mia@example.com, boss@example.com"})
    assert response.status_code == 302
    assert sorted(r[0] for _, r, _ in smtp_mailers.wait_for(2)) == ["boss@example.com", "mia@example.com"]
    bad = client.post(url, {"addresses": "not-an-address"})
    assert bad.status_code == 200 and "valid email address" in bad.content.decode()


def render_email(page_id, address):
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    call_command("render_email", str(page_id), "--to", address, stdout=out)
    out.flush()
    return out.buffer.getvalue()


def test_render_email_writes_a_strictly_valid_multipart_message(sender_settings):
    Contact.objects.create(email="linus@example.com", first_name="<script>alert(1)</script>", last_name="T")
    page = make_page()
    raw = render_email(page.pk, "linus@example.com")
    message = parse(raw)
    assert message.defects == []
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"] == "linus@example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].strip()[1:-1]
    text, html = part(message, "text/plain"), part(message, "text/html")
    assert url in text and url in html
    assert "1 Example Street" in text and "Example Software Ltd" in text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "X-Mailroom-Test" not in message
    assert len(html.encode()) < 102 * 1024
    assert max(len(line) for line in raw.splitlines()) <= 998


def test_render_email_for_the_demo_page(sender_settings, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", password="demo-password-1", stdout=io.StringIO())
    from cms.models import EmailPage

    raw = render_email(EmailPage.objects.get(slug="winter-offers").pk, "someone@example.com")
    message = parse(raw)
    html = part(message, "text/html")
    assert message["Subject"] == "Alex, our winter offers are here"
    assert html.count("DataDesk Pro") >= 1 and "ShipIt CI" in html and "Python for Data Analysis" in html
    assert "London" not in html  # the past session
    assert 'style="' in html and len(html.encode()) < 102 * 1024
