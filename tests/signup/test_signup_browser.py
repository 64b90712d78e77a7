"""Signup in headless Chromium, with a real worker on the account queue mailing a real SMTP
server: form → confirmation mail → confirm → the contact is in the audience with the consent
event; a bot filling the honeypot sees the same page and nothing is kept or sent; a known
and an unknown address see the same page."""

import email
import email.policy
from urllib.parse import urlparse

import pytest

from campaigns.models import Audience, Contact
from signup.models import PendingSignup
from suppression.addresses import address_hash
from suppression.models import Channel, ConsentEvent, SignupConfirmation, Source
from tests.signup.conftest import CONSENT, LINK, make_signup_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def plain_text(raw):
    return email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",)).get_content()


def sign_up(context, url, address, first_name="", postal=False, honeypot=""):
    """Fill in and send the form as a person (or a bot) would; returns what they see next."""
    page = context.new_page()
    page.goto(url)
    page.get_by_label("Email address").fill(address)
    page.get_by_label("First name").fill(first_name)
    if postal:
        page.get_by_label("Postal offers").check()
    if honeypot:  # only a program finds the field: it is off-screen and skipped by Tab
        page.fill("input[name=website]", honeypot)
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_url("**/join/?sent")
    seen = (urlparse(page.url).path + "?" + urlparse(page.url).query, page.inner_text("main"), page.content())
    page.close()
    return seen


def test_signup_confirm_and_what_bots_and_strangers_see(start_worker, live_server, browser, smtp_inbox, settings):
    settings.MAILROOM_BASE_URL = live_server.url  # the links in the mail point at this server
    start_worker(queues="account")
    audience = Audience.objects.create(name="Newsletter")
    make_signup_page(audience, offer_postal=True)
    Contact.objects.create(email="known@example.com", first_name="Kim")
    url = f"{live_server.url}/join/"
    context = browser.new_context(viewport={"width": 390, "height": 844})
    requested = []
    context.on("request", lambda request: requested.append(request.url))

    form = context.new_page()
    form.goto(url)
    assert "product and course offers" in form.inner_text("#consent")
    assert not form.get_by_label("Postal offers").is_checked()
    honeypot = form.locator("input[name=website]")
    assert honeypot.bounding_box()["x"] < 0 and honeypot.get_attribute("tabindex") == "-1"  # off-screen
    form.close()

    # A person signs up, gets the mail from the worker, and confirms.
    person = sign_up(context, url, "ada@example.com", "Ada", postal=True)
    assert "Please check your inbox" in person[1]
    [(_, recipients, raw)] = smtp_inbox.wait_for(1)
    assert recipients == ["ada@example.com"]
    link = LINK.search(plain_text(raw)).group()
    confirm = context.new_page()
    confirm.goto(link)
    assert "a•••@example.com" in confirm.inner_text("main")
    assert not Contact.objects.filter(email="ada@example.com").exists()  # opening the link is not confirming
    confirm.get_by_role("button", name="Yes, subscribe me").click()
    confirm.wait_for_selector("text=You are subscribed")
    assert "Postal offers" in confirm.inner_text("main")

    contact = Contact.objects.get(email="ada@example.com")
    assert contact.first_name == "Ada" and list(contact.audiences.all()) == [audience]
    proof = SignupConfirmation.objects.get()
    assert proof.wording.text == CONSENT and proof.page_title == "Offers newsletter"
    events = ConsentEvent.objects.filter(address_hash=address_hash("ada@example.com")).order_by("id")
    assert [(e.action, e.channel, e.source, e.confirmation_id) for e in events] == [
        ("opt_in", Channel.EMAIL_MARKETING, Source.SIGNUP, proof.pk),
        ("opt_in", Channel.POSTAL_MARKETING, Source.SIGNUP, proof.pk),
    ]
    assert not PendingSignup.objects.exists()

    # A bot filling the honeypot sees exactly what the person saw; nothing is kept or sent.
    bot = sign_up(context, url, "bot@example.com", "Bot", honeypot="https://spam.example")
    assert bot == person
    assert not PendingSignup.objects.exists()

    # A known and an unknown address see the same; both get a link, the bot none.
    known = sign_up(context, url, "known@example.com", "Kim")
    unknown = sign_up(context, url, "stranger@example.com", "Sam")
    assert known == unknown == person
    messages = smtp_inbox.wait_for(3)
    assert sorted(recipients[0] for _, recipients, _ in messages) == [
        "ada@example.com",
        "known@example.com",
        "stranger@example.com",
    ]
    assert PendingSignup.objects.count() == 2

    assert {urlparse(address).netloc for address in requested} == {urlparse(live_server.url).netloc}
    assert context.cookies() == []
    context.close()
