"""The public unsubscribe endpoint: GET changes nothing; one-click POST per RFC 8058;
forged or truncated tokens are refused without side effects."""

from urllib.parse import urlparse

import psycopg
import pytest
from django.db import connection
from django.test import Client

from suppression.addresses import address_hash
from suppression.models import Channel, ConsentEvent, Source, Suppression
from suppression.tokens import unsubscribe_url
from tests.prepared import prepared_statements

pytestmark = pytest.mark.django_db


def path_for(address="ada@example.com", campaign_id=7):
    return urlparse(unsubscribe_url(address, campaign_id)).path


def one_click(client, path):
    return client.post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")


def test_one_click_is_one_statement_and_sets_up_no_session_or_user(postgres, django_assert_num_queries):
    """suppression.public.middleware answers before the session, auth and messages middleware;
    the opt-out is one prepared statement (prepared once per connection)."""
    client = Client(enforce_csrf_checks=True)
    one_click(client, path_for("first@example.com"))  # this connection's first prepares the statement
    with django_assert_num_queries(1) as queries:
        response = one_click(client, path_for())
    assert "erased AS MATERIALIZED" in queries.captured_queries[0]["sql"]
    assert prepared_statements("erased AS MATERIALIZED") == 1  # the server holds it prepared, once
    assert response.status_code == 200 and response["Content-Type"] == "text/plain"
    assert not hasattr(response.wsgi_request, "session") and not hasattr(response.wsgi_request, "user")
    assert Suppression.objects.filter(address_hash=address_hash("ada@example.com"), source=Source.ONE_CLICK).exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_one_click_on_a_connection_the_server_dropped_reconnects_and_closes_offers(postgres):
    """The statement stands in for Django's health-check ping: a kept connection found dead
    (the server restarted, a pooler cut it) is replaced and the opt-out still made."""
    client = Client(enforce_csrf_checks=True)
    assert one_click(client, path_for("first@example.com")).status_code == 200
    params = connection.get_connection_params()
    server = {name: params[name] for name in ("dbname", "user", "host", "port", "password") if params.get(name)}
    with psycopg.connect(**server, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    response = one_click(client, path_for())
    assert response.status_code == 200
    assert Suppression.objects.filter(address_hash=address_hash("ada@example.com"), source=Source.ONE_CLICK).exists()


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
    assert (suppression.address_hash, suppression.channel, suppression.source) == (
        address_hash("ada@example.com"),
        Channel.EMAIL_MARKETING,
        Source.ONE_CLICK,
    )
    assert suppression.address == ""  # the link carries only the hash, and the ledger needs no more
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


# --- Preference centre and undo ---------------------------------------------------------


def preferences(client, path, **choices):
    return client.post(path + "preferences/", {channel: "yes" for channel, keep in choices.items() if keep})


def test_get_shows_the_preference_centre_with_current_choices_and_sets_no_cookie():
    from suppression import policy

    policy.record_opt_out("ada@example.com", Channel.POSTAL_MARKETING, Source.PHONE)
    response = Client().get(path_for())
    html = response.content.decode()
    for label in ("Email offers", "Postal offers", "Sharing with affiliated companies", "account-service mail"):
        assert label in html
    assert 'name="email_marketing" value="yes" checked' in html
    assert 'name="postal_marketing" value="yes">' in html  # closed: not ticked
    assert not response.cookies
    assert "<script" not in html and "src=" not in html  # nothing loaded from elsewhere, no tracking
    assert Suppression.objects.count() == 1 and ConsentEvent.objects.count() == 1


def test_preference_centre_closes_and_reopens_channels_and_logs_each_change():
    client = Client(enforce_csrf_checks=True)
    path = path_for()
    response = preferences(client, path, email_marketing=True, postal_marketing=False, third_party_sharing=False)
    assert response.status_code == 303 and response["Location"].endswith("?saved")
    assert set(Suppression.objects.values_list("channel", "source")) == {
        (Channel.POSTAL_MARKETING, Source.PREFERENCE_CENTRE),
        (Channel.THIRD_PARTY_SHARING, Source.PREFERENCE_CENTRE),
    }
    preferences(client, path, email_marketing=True, postal_marketing=True, third_party_sharing=False)
    assert list(Suppression.objects.values_list("channel", flat=True)) == [Channel.THIRD_PARTY_SHARING]
    actions = list(ConsentEvent.objects.order_by("id").values_list("channel", "action", "source"))
    assert actions == [
        (Channel.POSTAL_MARKETING, "opt_out", Source.PREFERENCE_CENTRE),
        (Channel.THIRD_PARTY_SHARING, "opt_out", Source.PREFERENCE_CENTRE),
        (Channel.POSTAL_MARKETING, "opt_in", Source.PREFERENCE_CENTRE),
    ]
    assert b"Your choices are saved" in client.get(response["Location"]).content


def test_opting_back_in_to_offers_only_through_the_preference_centre_or_undo():
    client = Client(enforce_csrf_checks=True)
    path = path_for()
    page = client.post(path)  # the big button
    assert b"Undo" in page.content
    assert Suppression.objects.get().channel == Channel.EMAIL_MARKETING
    client.get(path)  # visiting again (or a scanner) reopens nothing
    assert Suppression.objects.exists()
    response = client.post(path + "undo/")
    assert response.status_code == 303 and response["Location"].endswith("?undone")
    assert not Suppression.objects.exists()
    assert list(ConsentEvent.objects.order_by("id").values_list("action", flat=True)) == ["opt_out", "opt_in"]


def test_system_suppressions_stay_whatever_the_person_ticks():
    from suppression import policy

    policy.record_opt_out("ada@example.com", Channel.COMPLAINT, Source.COMPLAINT)
    preferences(Client(), path_for(), email_marketing=True, postal_marketing=True, third_party_sharing=True)
    assert policy.blocked(["ada@example.com"], "promotional") == {"ada@example.com": Channel.COMPLAINT}


def test_an_erased_person_cannot_be_reopened_from_an_old_link():
    from suppression import policy

    policy.erase("ada@example.com", actor="admin")
    response = preferences(Client(), path_for(), email_marketing=True, postal_marketing=True, third_party_sharing=True)
    assert response.status_code == 409
    assert Suppression.objects.count() == 3


def test_get_on_preferences_or_undo_is_refused_and_changes_nothing():
    client = Client()
    assert client.get(path_for() + "preferences/").status_code == 405
    assert client.get(path_for() + "undo/").status_code == 405
    assert not ConsentEvent.objects.exists()


def test_other_campaign_token_is_refused_without_side_effects():
    """A token binds an address to one campaign. Splicing the payload of one campaign's
    token onto the signature of another's (or of another address's) is a forgery."""
    mine = path_for("ada@example.com", 7).removeprefix("/u/").rstrip("/")
    other = path_for("ada@example.com", 8).removeprefix("/u/").rstrip("/")
    someone = path_for("bob@example.com", 7).removeprefix("/u/").rstrip("/")
    spliced = [
        other.rsplit(":", 1)[0] + ":" + mine.rsplit(":", 1)[1],
        someone.rsplit(":", 1)[0] + ":" + mine.rsplit(":", 1)[1],
    ]
    client = Client(enforce_csrf_checks=True)
    for token in spliced:
        path = f"/u/{token}/"
        assert client.get(path).status_code == 400
        assert one_click(client, path).status_code == 400
        assert preferences(client, path, email_marketing=False).status_code == 400
        assert client.post(path + "undo/").status_code == 400
    assert not Suppression.objects.exists() and not ConsentEvent.objects.exists()


def test_a_second_visit_after_unsubscribing_shows_the_current_choices_not_the_question():
    client = Client()
    path = path_for()
    client.post(path)
    html = client.get(path).content.decode()
    assert "You are unsubscribed from email offers" in html and "Unsubscribe from offers?" not in html
    assert 'id="unsubscribe"' not in html
    assert 'name="email_marketing" value="yes">' in html  # the preference centre, offers unticked
    assert 'name="postal_marketing" value="yes" checked' in html


def test_after_undo_the_page_says_subscribed():
    client = Client()
    path = path_for()
    client.post(path)
    undone = client.post(path + "undo/", follow=True).content.decode()
    assert "You are subscribed to email offers" in undone and "You are unsubscribed" not in undone
    assert 'name="email_marketing" value="yes" checked' in undone
