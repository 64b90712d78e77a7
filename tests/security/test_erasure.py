"""Erasure after earlier opt-outs: every personal channel is closed with source `erasure`
whatever was recorded before, and nothing reopens the person or stores their address
again: not an old email's /undo/ or preference centre (either token format), staff,
an import, or an ESP webhook."""

import importlib
import json
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.apps import apps
from django.core import signing
from django.test import Client

from campaigns.audiences.importing import import_file
from campaigns.privacy import erase_person
from suppression import policy
from suppression.addresses import address_hash
from suppression.models import Channel, ConsentEvent, Source, Suppression
from suppression.tokens import FORMAT_1_SALT, unsubscribe_url
from tests.factories import import_csv, make_audience

pytestmark = pytest.mark.django_db

ADA = "ada@example.com"
SECRET = "hook:secret"
AUTH = {"HTTP_AUTHORIZATION": "Basic aG9vazpzZWNyZXQ="}  # base64("hook:secret")


def links():
    """Ada's links from emails sent before her erasure, in both token formats."""
    return [
        urlparse(unsubscribe_url(ADA, 7)).path,
        f"/u/{signing.Signer(salt=FORMAT_1_SALT).sign_object([ADA, 7])}/",
    ]


def ledger():
    rows = Suppression.objects.filter(address_hash=address_hash(ADA))
    return {row.channel: (row.source, row.address, row.note, row.reason) for row in rows}


LOCKED = dict.fromkeys(policy.PERSONAL_CHANNELS, (Source.ERASURE, "", "", ""))


@pytest.fixture
def erased_after_opting_out():
    """Ada unsubscribed by one-click and told staff no post, then asked to be erased."""
    make_audience("Customers", [(ADA, "Ada")])
    one_click = Client().post(
        links()[0], "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert one_click.status_code == 200
    policy.record_opt_out(ADA, Channel.POSTAL_MARKETING, Source.PHONE, actor="staff", note="Called from 1 Main St")
    erase_person(ADA, actor="dpo")
    assert ledger() == LOCKED


def test_erasure_closes_every_personal_channel_with_source_erasure(erased_after_opting_out):
    events = ConsentEvent.objects.filter(address_hash=address_hash(ADA), source=Source.ERASURE)
    assert sorted(events.values_list("action", "channel")) == sorted(
        [("erased", Channel.EMAIL_MARKETING)] + [("opt_out", channel) for channel in policy.PERSONAL_CHANNELS]
    )
    assert policy.blocked([ADA], "promotional") == {ADA: Channel.EMAIL_MARKETING}


def test_old_links_undo_and_preference_centre_reopen_nothing(erased_after_opting_out):
    for path in links():
        response = Client().post(path + "undo/")  # within the hour of the one-click
        assert response.status_code == 409 and b"erased" in response.content
        everything = {"email_marketing": "yes", "postal_marketing": "yes", "third_party_sharing": "yes"}
        assert Client().post(path + "preferences/", everything).status_code == 409
        Client().post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert ledger() == LOCKED
    assert not ConsentEvent.objects.filter(action=ConsentEvent.Action.OPT_IN).exists()


def test_staff_can_neither_reopen_nor_store_the_address_again(erased_after_opting_out, admin_client):
    response = admin_client.post(
        "/admin/suppression/record/",
        {"address": ADA, "channels": list(policy.PERSONAL_CHANNELS), "source": Source.LETTER, "note": "Letter"},
    )
    assert response.status_code == 302
    for channel in policy.PERSONAL_CHANNELS:
        with pytest.raises(policy.PolicyError):
            policy.lift_suppression(address_hash(ADA), channel, actor="admin", reason="asked by phone")
    assert ledger() == LOCKED


def test_an_import_counts_the_person_suppressed_and_keeps_no_address(erased_after_opting_out):
    summary = import_csv(f"email,first_name\n{ADA.upper()},Ada\n", "Customers again")
    assert summary.suppressed == 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "previous-provider.csv"
        path.write_text(f"email\n{ADA}\n", encoding="utf-8")
        import_file(path, kind="suppressions", channel=Channel.COMPLAINT)
    assert ledger() == LOCKED | {Channel.COMPLAINT: (Source.IMPORT, "", "", "")}


def test_esp_webhooks_reopen_nothing_and_keep_no_address(erased_after_opting_out, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    reactivated = {
        "RecordType": "SubscriptionChange",
        "MessageID": "a4909a96-73d7-4c49-b148-a54522d3f7ac",
        "ServerID": 23,
        "MessageStream": "broadcast",
        "ChangedAt": "2026-11-20T17:17:32Z",
        "Recipient": ADA,
        "Origin": "Customer",
        "SuppressSending": False,
        "SuppressionReason": None,
        "Metadata": {"campaign": "7"},
    }
    bounce = {
        "RecordType": "Bounce",
        "ID": 42,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Email": ADA,
        "Description": f"The mailbox {ADA} does not exist.",
        "Details": f"smtp;550 5.1.1 <{ADA}>: user unknown",
        "BouncedAt": "2026-11-20T16:28:50Z",
    }
    for payload in (reactivated, bounce):
        response = Client().post(
            "/webhooks/anymail/postmark/tracking/", json.dumps(payload), content_type="application/json", **AUTH
        )
        assert response.status_code == 200
    assert ledger() == LOCKED | {Channel.UNDELIVERABLE: (Source.BOUNCE, "", "", "")}
    assert not ConsentEvent.objects.filter(note__icontains="ada").exists()


def test_people_erased_before_this_rule_are_locked_by_the_migration():
    hash_ = address_hash(ADA)
    Suppression.objects.create(address_hash=hash_, channel=Channel.EMAIL_MARKETING, source=Source.ONE_CLICK)
    for channel in (Channel.POSTAL_MARKETING, Channel.THIRD_PARTY_SHARING):
        Suppression.objects.create(address_hash=hash_, channel=channel, source=Source.ERASURE)
    Suppression.objects.create(
        address="bob@example.com",
        address_hash=address_hash("bob@example.com"),
        channel=Channel.EMAIL_MARKETING,
        source=Source.ONE_CLICK,
    )
    migration = importlib.import_module("suppression.migrations.0004_erasure_locks_earlier_opt_outs")
    migration.lock(apps, None)
    assert Suppression.objects.get(address_hash=hash_, channel=Channel.EMAIL_MARKETING).source == Source.ERASURE
    assert Suppression.objects.get(address="bob@example.com").source == Source.ONE_CLICK
