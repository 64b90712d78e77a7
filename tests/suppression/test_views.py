"""The public unsubscribe endpoint: GET changes nothing; one-click POST per RFC 8058;
forged or truncated tokens are refused without side effects."""

from urllib.parse import urlparse

import pytest
from django.test import Client

from suppression.models import Channel, ConsentEvent, Source, Suppression
from suppression.tokens import unsubscribe_url

pytestmark = pytest.mark.django_db


def path_for(address="ada@example.com", campaign_id=7):
    return urlparse(unsubscribe_url(address, campaign_id)).path


def one_click(client, path):
    return client.post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")


def test_get_shows_the_confirm_page_and_changes_nothing():
    response = Client().get(path_for())
    assert response.status_code == 200
    assert b"Unsubscribe from offers" in response.content
    assert b"account-service" in response.content
    assert not Suppression.objects.exists() and not ConsentEvent.objects.exists()


def test_one_click_post_without_cookie_or_csrf_unsubscribes_with_200():
    client = Client(enforce_csrf_checks=True)
    response = one_click(client, path_for())
    assert response.status_code == 200
    assert not response.cookies
    suppression = Suppression.objects.get()
    assert (suppression.address, suppression.channel, suppression.source) == (
        "ada@example.com", Channel.EMAIL_MARKETING, Source.ONE_CLICK,
    )
    assert ConsentEvent.objects.get().campaign_id == 7


def test_one_click_is_idempotent():
    client = Client(enforce_csrf_checks=True)
    assert one_click(client, path_for()).status_code == 200
    assert one_click(client, path_for()).status_code == 200
    assert Suppression.objects.count() == 1 and ConsentEvent.objects.count() == 1


def test_button_on_the_page_unsubscribes_as_link_source():
    response = Client(enforce_csrf_checks=True).post(path_for())
    assert response.status_code == 200
    assert Suppression.objects.get().source == Source.LINK


@pytest.mark.parametrize(
    "mangle",
    [
        lambda path: path.replace("/u/", "/u/x"),  # forged prefix
        lambda path: path[:-12] + "/",  # truncated
        lambda path: path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:],  # altered signature
        lambda path: "/u/WyJtYWxsb3J5QGV4YW1wbGUuY29tIiwxXQ:forged/",  # someone else's address, made up
    ],
)
def test_tampered_token_is_refused_without_side_effects(mangle):
    client = Client(enforce_csrf_checks=True)
    path = mangle(path_for())
    assert client.get(path).status_code in (400, 404)
    assert one_click(client, path).status_code in (400, 404)
    assert not Suppression.objects.exists() and not ConsentEvent.objects.exists()
