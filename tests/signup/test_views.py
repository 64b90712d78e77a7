"""The public signup form and confirmation link: double opt-in through the real gateway; the
same answer for known and unknown addresses and for bots; nothing kept before confirmation
but the sealed pending signup; hostile input, forged and expired links refused with no
side effect."""

import hashlib
import os
import time
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from campaigns.models import Contact, Membership
from signup import links
from signup.models import PendingSignup
from suppression import policy
from suppression.addresses import address_hash
from suppression.models import Channel, ConsentEvent, ConsentWording, SignupConfirmation, Source, Suppression
from tests.signup.conftest import CONSENT

pytestmark = pytest.mark.django_db


def path(url):
    return urlparse(url).path


def consent_state():
    """Everything a signup may change, to compare before and after a refused request."""
    return (
        list(PendingSignup.objects.values_list("pk", "expires_at").order_by("pk")),
        list(Contact.objects.values_list("email", "first_name").order_by("pk")),
        Membership.objects.count(),
        ConsentEvent.objects.count(),
        SignupConfirmation.objects.count(),
        list(Suppression.objects.values_list("address_hash", "channel", "source").order_by("pk")),
    )


def test_the_form_shows_the_wording_and_the_channels_offered_and_sets_no_cookie(signup_page):
    response = Client().get("/join/")
    assert response.status_code == 200
    html = response.content.decode()
    assert CONSENT in html  # the wording exactly as the editor wrote it
    assert 'value="postal_marketing"' in html and 'value="third_party_sharing"' not in html
    assert "checked" not in html  # nothing ticked for the person
    version = hashlib.sha256(CONSENT.encode()).hexdigest()
    assert f'name="wording" value="{version}"' in html
    assert f'action="/signup/{signup_page.pk}/"' in html
    assert not response.cookies and "csrfmiddlewaretoken" not in html


def test_signing_up_keeps_only_a_sealed_pending_row_and_mails_a_link_on_the_account_stream(
    signup_page, submit, mailbox
):
    response = submit(signup_page, email=" Ada@Example.COM ", first_name="Ada", channels=["postal_marketing"])
    assert response.status_code == 303 and response["Location"] == "/join/?sent"
    assert not response.cookies

    pending = PendingSignup.objects.get()
    assert pending.address_hash == address_hash("ada@example.com")
    assert pending.channels == [Channel.EMAIL_MARKETING, Channel.POSTAL_MARKETING]
    assert pending.wording.text == CONSENT
    assert pending.expires_at - pending.created_at == timedelta(days=7)
    sealed = bytes(pending.sealed)
    assert b"Ada" not in sealed and b"example" not in sealed.lower()  # unreadable without the link
    assert not Contact.objects.exists() and not ConsentEvent.objects.exists()

    [message] = mailbox.messages()
    assert message["To"] == "Ada@example.com"
    assert message["Subject"] == "Please confirm your subscription"
    assert "List-Unsubscribe" not in message  # account-service mail, not an offer
    [link] = mailbox.links()
    assert link.startswith("https://mailroom.test/signup/confirm/")
    assert "ada" not in link.lower()  # the link holds no address either
    assert "Hello Ada," in message.get_body(("plain",)).get_content()


def test_confirming_joins_the_audience_and_records_the_consent_with_its_proof(signup_page, audience, submit, mailbox):
    submit(signup_page, email="ada@example.com", first_name="Ada", channels=["postal_marketing"])
    [link] = mailbox.links()

    page = Client().get(path(link))  # mail scanners open links: a GET changes nothing
    assert page.status_code == 200
    assert "a•••@example.com" in page.content.decode() and "ada@" not in page.content.decode()
    assert not Contact.objects.exists() and not ConsentEvent.objects.exists()

    confirmed = Client(enforce_csrf_checks=True).post(path(link))
    assert confirmed.status_code == 200 and b"You are subscribed" in confirmed.content
    contact = Contact.objects.get()
    assert (contact.email, contact.first_name, contact.consent_basis) == (
        "ada@example.com",
        "Ada",
        "consent (double opt-in)",
    )
    assert "Offers newsletter" in contact.consent_source
    assert list(audience.contacts.all()) == [contact]

    proof = SignupConfirmation.objects.get()
    assert (proof.address_hash, proof.page_id, proof.page_title) == (
        address_hash("ada@example.com"),
        signup_page.pk,
        "Offers newsletter",
    )
    assert proof.page_url.endswith("/join/")
    assert proof.wording.text == CONSENT and proof.wording.version == hashlib.sha256(CONSENT.encode()).hexdigest()
    events = ConsentEvent.objects.order_by("id")
    assert [(e.action, e.channel, e.source, e.confirmation_id) for e in events] == [
        ("opt_in", Channel.EMAIL_MARKETING, Source.SIGNUP, proof.pk),
        ("opt_in", Channel.POSTAL_MARKETING, Source.SIGNUP, proof.pk),
    ]
    assert proof.confirmed_at >= proof.requested_at
    assert not PendingSignup.objects.exists()

    again = Client().post(path(link))  # a link works once
    assert again.status_code == 410 and b"expired" in again.content
    assert ConsentEvent.objects.count() == 2


def test_a_known_and_an_unknown_address_get_the_same_answer(signup_page, audience, submit, mailbox):
    Contact.objects.create(email="known@example.com", first_name="Kim")
    policy.record_opt_out("known@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    known = submit(signup_page, email="known@example.com", first_name="Kim")
    unknown = submit(signup_page, email="stranger@example.com", first_name="Sam")
    assert (known.status_code, known["Location"], known.content) == (
        unknown.status_code,
        unknown["Location"],
        unknown.content,
    )
    assert sorted(known.headers) == sorted(unknown.headers)
    # Both get a confirmation link; what happens next is up to the owner of the address.
    assert PendingSignup.objects.count() == 2 and len(mailbox.messages()) == 2
    assert Contact.objects.count() == 1  # nothing learnt, nothing changed before confirmation
    assert policy.is_suppressed("known@example.com", Channel.EMAIL_MARKETING)


def test_a_bot_filling_the_honeypot_gets_the_same_answer_and_nothing_is_kept_or_sent(signup_page, submit, mailbox):
    person = submit(signup_page, email="ada@example.com")
    bot = submit(signup_page, email="bot@example.com", website="https://spam.example")
    assert (bot.status_code, bot["Location"], bot.content) == (person.status_code, person["Location"], person.content)
    assert list(PendingSignup.objects.values_list("address_hash", flat=True)) == [address_hash("ada@example.com")]
    assert [message["To"] for message in mailbox.messages()] == ["ada@example.com"]


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "ada@example.com\r\nBcc: eve@example.net"},
        {"email": "ada@example.com\nBcc: eve@example.net"},
        {"email": "ada@example.com%0d%0aBcc:eve@example.net"},
        {"email": "Ada <ada@example.com>, eve@example.net"},
        {"first_name": "Ada\r\nBcc: eve@example.net"},
        {"first_name": "Ada\nSubject: you won"},
        {"first_name": "Ada\u2028Bcc: eve@example.net"},
        {"first_name": "Ada\x0bBcc: eve@example.net"},
        {"first_name": "A" * 151},
    ],
)
def test_header_injection_and_other_hostile_values_are_refused(signup_page, submit, mailbox, fields):
    response = submit(signup_page, **fields)
    assert response.status_code == 400
    assert b'class="field-error"' in response.content
    assert consent_state() == ([], [], 0, 0, 0, [])
    assert mailbox.messages() == []


def test_an_edited_wording_is_shown_again_before_anyone_agrees_to_it(signup_page, submit, mailbox):
    shown = signup_page.wording_version()
    signup_page.consent_text = "<p>Yes, and we may also call you.</p>"
    signup_page.save_revision().publish()
    response = submit(signup_page, email="ada@example.com", wording=shown)
    assert response.status_code == 409
    html = response.content.decode()
    assert "wording below changed" in html and "we may also call you" in html
    assert 'value="ada@example.com"' in html  # what they typed is kept
    assert not PendingSignup.objects.exists() and mailbox.messages() == []
    assert submit(signup_page, email="ada@example.com").status_code == 303
    assert PendingSignup.objects.get().wording.text == "<p>Yes, and we may also call you.</p>"


def test_a_page_that_is_not_live_takes_no_signups(signup_page, submit, mailbox):
    signup_page.unpublish()
    assert submit(signup_page).status_code == 404
    assert not PendingSignup.objects.exists() and mailbox.messages() == []


def test_one_address_gets_at_most_three_links_a_week_whoever_asks(signup_page, submit, mailbox):
    answers = {
        (response.status_code, response["Location"])
        for response in (
            submit(signup_page, client=Client(REMOTE_ADDR=f"198.51.100.{n}"), email="victim@example.com")
            for n in range(5)
        )
    }
    assert answers == {(303, "/join/?sent")}
    assert PendingSignup.objects.count() == 3 and len(mailbox.messages()) == 3


class TestLinksRefusedWithoutSideEffects:
    @pytest.fixture
    def pending(self, signup_page, submit, mailbox):
        submit(signup_page, email="ada@example.com")
        [link] = mailbox.links()
        return PendingSignup.objects.get(), path(link)

    def forged_paths(self, pending, link):
        token = link.split("/")[-2]
        value, stamp, signature = token.split(":")
        return [
            link.replace(signature, signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")),
            link.replace(token, token[:20]),
            link.replace(token, f"{value}:{stamp}"),
            # Our signature, but a key that is not the one the address was sealed with.
            f"/signup/confirm/{links.make_token(pending.pk, os.urandom(16))}/",
            # Signed for something else (the unsubscribe salt), or with another key.
            f"/signup/confirm/{signing.TimestampSigner(salt='mailroom.unsubscribe.v2').sign(value)}/",
            f"/signup/confirm/{signing.TimestampSigner(key='x' * 50, salt=links.SALT).sign(value)}/",
        ]

    def test_forged_links(self, pending):
        row, link = pending
        before = consent_state()
        for forged in self.forged_paths(row, link):
            for method in ("get", "post"):
                response = getattr(Client(), method)(forged)
                assert response.status_code == 400, forged
                assert b"not valid" in response.content
        assert consent_state() == before
        assert Client().post(link).status_code == 200  # the real link still works

    def test_a_link_older_than_seven_days(self, pending, monkeypatch):
        row, link = pending
        _, key = links.read_token(link.split("/")[-2], timedelta(days=7))
        eight_days_ago = time.time() - 8 * 86400
        monkeypatch.setattr(signing.time, "time", lambda: eight_days_ago)
        old = f"/signup/confirm/{links.make_token(row.pk, key)}/"
        monkeypatch.undo()
        before = consent_state()
        for method in ("get", "post"):
            response = getattr(Client(), method)(old)
            assert response.status_code == 410 and b"expired" in response.content
        assert consent_state() == before

    def test_an_expired_pending_signup(self, pending):
        row, link = pending
        PendingSignup.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        before = consent_state()
        for method in ("get", "post"):
            response = getattr(Client(), method)(link)
            assert response.status_code == 410 and b"expired" in response.content
        assert consent_state() == before


def test_the_pages_are_rate_limited_per_client(signup_page, submit, settings, redis_url):
    import redis

    settings.REDIS_URL = redis_url
    settings.MAILROOM_PUBLIC_RATE, settings.MAILROOM_PUBLIC_BURST = 1.0, 5
    server = redis.Redis.from_url(redis_url)
    for key in server.scan_iter("mailroom:rate:public:*"):
        server.delete(key)
    client = Client(REMOTE_ADDR="203.0.113.9")
    statuses = [submit(signup_page, client=client, email=f"reader{n}@example.com").status_code for n in range(8)]
    assert statuses[:5] == [303] * 5 and statuses[5:] == [429] * 3
    assert client.get("/join/").status_code == 429
    assert client.get("/signup/confirm/anything/").status_code == 429
    assert PendingSignup.objects.count() == 5
    for key in server.scan_iter("mailroom:rate:public:*"):
        server.delete(key)


def test_consent_wording_is_kept_once_per_version(signup_page, submit, mailbox):
    submit(signup_page, email="ada@example.com")
    submit(signup_page, email="bob@example.com")
    assert ConsentWording.objects.count() == 1
