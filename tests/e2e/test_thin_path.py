"""The whole thin path on PostgreSQL + Redis with a real Celery worker and SMTP server:
import → campaign → worker sends → one-click unsubscribe → next campaign skips."""

import email
import email.policy
import time
from urllib.parse import urlparse

import pytest
from django.core.management import call_command
from django.test import Client

from campaigns.models import Campaign, Delivery
from suppression.addresses import address_hash
from suppression.models import Channel, ConsentEvent, Source, Suppression
from tests.factories import make_campaign, make_page

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def wait_until_sent(campaign, worker, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign.refresh_from_db()
        if campaign.status == Campaign.Status.SENT:
            return
        time.sleep(0.1)
    raise AssertionError(f"campaign stuck in {campaign.status}; worker log:\n{worker.output()[-4000:]}")


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.strict)


def part(message, content_type):
    return next(p for p in message.walk() if p.get_content_type() == content_type).get_content()


def test_import_send_unsubscribe_and_skip(start_worker, smtp_inbox, sender_settings, tmp_path, capsys):
    worker = start_worker()
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text(
        "email,first_name,last_name\n"
        "ada@example.com,Ada,Lovelace\n"
        "grace@example.com,Grace,Hopper\n"
        "linus@example.com,<script>alert(1)</script>,Torvalds\n"
    )
    call_command("import_contacts", str(csv_file), "--audience", "Customers")
    assert '"created": 3' in capsys.readouterr().out

    from campaigns.models import Audience

    audience = Audience.objects.get(name="Customers")
    page = make_page()
    first = make_campaign(page, audience, name="First")
    clicked = time.monotonic()
    call_command("send_campaign", str(first.pk))
    smtp_inbox.wait_for(1, timeout=30)
    first_message_after = time.monotonic() - clicked
    assert first_message_after < 5, f"first message left after {first_message_after:.1f} s"
    wait_until_sent(first, worker)

    received = smtp_inbox.wait_for(3)
    assert len(received) == 3
    by_recipient = {rcpts[0]: parse(raw) for _, rcpts, raw in received}
    assert set(by_recipient) == {"ada@example.com", "grace@example.com", "linus@example.com"}

    ada = by_recipient["ada@example.com"]
    assert ada["Subject"] == "Ada, new offers"
    assert ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = ada["List-Unsubscribe"].strip()
    assert unsubscribe.startswith("<https://mailroom.test/u/") and unsubscribe.endswith(">")
    url = unsubscribe[1:-1]
    text, html = part(ada, "text/plain"), part(ada, "text/html")
    assert "Hello Ada!" in text and "Hello Ada!" in html
    assert url in text and url in html
    assert "1 Example Street" in text and "1 Example Street" in html
    assert ada["X-Mailroom-Campaign"] == str(first.pk)

    linus_html = part(by_recipient["linus@example.com"], "text/html")
    assert "<script>alert(1)</script>" not in linus_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in linus_html

    assert Delivery.objects.filter(campaign=first, status=Delivery.Status.SENT).count() == 3

    # RFC 8058 one-click: POST with that body, no cookie, no CSRF token → 200, no redirect.
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        urlparse(url).path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    # The link carries only the address's keyed hash, and that is what the ledger keeps.
    assert Suppression.objects.filter(address_hash=address_hash("ada@example.com"), channel=Channel.EMAIL_MARKETING)
    event = ConsentEvent.objects.get(channel=Channel.EMAIL_MARKETING)
    assert (event.source, event.campaign_id) == (Source.ONE_CLICK, first.pk)

    smtp_inbox.clear()
    second = make_campaign(page, audience, name="Second")
    call_command("send_campaign", str(second.pk))
    wait_until_sent(second, worker)
    received = smtp_inbox.wait_for(2)
    time.sleep(0.5)  # nothing more may arrive
    assert sorted(rcpts[0] for _, rcpts, _ in smtp_inbox.messages) == ["grace@example.com", "linus@example.com"]
    skipped = Delivery.objects.get(campaign=second, contact__email="ada@example.com")
    assert (skipped.status, skipped.reason) == (Delivery.Status.SUPPRESSED, Channel.EMAIL_MARKETING)
