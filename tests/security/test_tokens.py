"""Unsubscribe tokens are opaque (the keyed address hash and the campaign id, signed) and the
page shows the address masked; tokens already sent keep working; /undo/ undoes only the
link's own opt-out, and only within the hour."""

import base64
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from suppression import policy
from suppression.addresses import address_hash
from suppression.models import Channel, ConsentEvent, Source, Suppression
from suppression.tokens import FORMAT_1_SALT, read_token, unsubscribe_url

pytestmark = pytest.mark.django_db

ADDRESS = "Ada.Lovelace@Example.com"


def path_for(address=ADDRESS, campaign_id=7):
    return urlparse(unsubscribe_url(address, campaign_id)).path


def first_format_path(address=ADDRESS, campaign_id=7):
    """A link as emails sent before this format carried it: the address in signed base64 JSON."""
    return f"/u/{signing.Signer(salt=FORMAT_1_SALT).sign_object([address, campaign_id])}/"


def one_click(path):
    return Client().post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")


def test_a_token_carries_no_address_only_its_hash_the_campaign_and_a_mask():
    path = path_for()
    payload = path.removeprefix("/u/").rstrip("/").rsplit(":", 1)[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    for form in (ADDRESS, ADDRESS.lower(), "lovelace", "Lovelace"):
        assert form.encode() not in decoded and form not in path
    assert "A•••@example.com".encode() in decoded
    holder = read_token(path.removeprefix("/u/").rstrip("/"))
    assert (holder.address_hash, holder.campaign_id, holder.address) == (address_hash(ADDRESS), 7, "")


def test_the_page_shows_the_address_masked():
    for path in (path_for(), first_format_path()):
        html = Client().get(path).content.decode()
        assert "A•••@example.com" in html
        assert "lovelace" not in html.lower()


def test_tokens_already_sent_keep_working():
    old = first_format_path()
    assert Client().get(old).status_code == 200
    assert one_click(old).status_code == 200
    row = Suppression.objects.get()
    assert (row.address_hash, row.source, row.campaign_id) == (address_hash(ADDRESS), Source.ONE_CLICK, 7)
    assert Client().post(old + "undo/").status_code == 303
    response = Client().post(old + "preferences/", {"email_marketing": "yes"})
    assert response.status_code == 303
    assert set(Suppression.objects.values_list("channel", flat=True)) == {
        Channel.POSTAL_MARKETING,
        Channel.THIRD_PARTY_SHARING,
    }


def test_both_formats_reach_the_same_ledger_row():
    assert one_click(path_for()).status_code == 200
    assert one_click(first_format_path()).status_code == 200  # the same person: nothing new
    assert Suppression.objects.count() == 1 and ConsentEvent.objects.count() == 1


def test_undo_works_within_the_hour_only():
    path = path_for()
    one_click(path)
    Suppression.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    response = Client().post(path + "undo/")
    assert response.status_code == 409 and b"can no longer be undone" in response.content
    assert policy.is_suppressed(ADDRESS, Channel.EMAIL_MARKETING)

    Suppression.objects.update(created_at=timezone.now() - timedelta(minutes=59))
    assert Client().post(path + "undo/").status_code == 303
    assert not policy.is_suppressed(ADDRESS, Channel.EMAIL_MARKETING)


@pytest.mark.parametrize(
    "earlier",
    [
        lambda: policy.record_opt_out(ADDRESS, Channel.EMAIL_MARKETING, Source.PHONE, actor="staff"),
        lambda: one_click(path_for(campaign_id=8)),  # another campaign's link
    ],
    ids=["staff-recorded", "other-campaign"],
)
def test_undo_reopens_nothing_but_its_own_links_opt_out(earlier):
    earlier()
    response = Client().post(path_for(campaign_id=7) + "undo/")
    assert response.status_code == 409
    assert policy.is_suppressed(ADDRESS, Channel.EMAIL_MARKETING)
    assert not ConsentEvent.objects.filter(action=ConsentEvent.Action.OPT_IN).exists()
