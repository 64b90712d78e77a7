"""Fixtures for the signup tests: a published signup page, and account mail sent in this
process through the real gateway into the outbox, so a test can read the link it carries."""

import email
import email.policy
import re

import pytest
from django.test import Client
from wagtail.models import Page

from campaigns.models import Audience
from signup.models import SignupPage

CONSENT = (
    "<p>Yes, send me <b>product and course offers</b> by email. I can unsubscribe at any time; "
    'see the <a href="https://example.com/privacy">privacy policy</a>.</p>'
)
LINK = re.compile(r"https?://[^\s\"<>]+/signup/confirm/[^\s\"<>/]+/")


def make_signup_page(audience, *, slug="join", consent_text=CONSENT, **fields):
    page = SignupPage(title="Offers newsletter", slug=slug, audience=audience, consent_text=consent_text, **fields)
    Page.get_first_root_node().get_children().first().add_child(instance=page)
    page.save_revision().publish()
    return page


@pytest.fixture
def audience(db):
    return Audience.objects.create(name="Newsletter")


@pytest.fixture
def signup_page(audience):
    return make_signup_page(audience, offer_postal=True)


class Mailbox:
    """The .eml files the account mailer wrote, read as messages."""

    def __init__(self, folder):
        self.folder = folder

    def messages(self):
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(self.folder.glob("*.eml"), key=lambda path: path.stat().st_mtime_ns)
        ]

    def links(self):
        return [LINK.search(message.get_body(("plain",)).get_content()).group() for message in self.messages()]


@pytest.fixture
def mailbox(outbox_dir):
    """Account mail is sent in this process (Celery eager) through the gateway into outbox_dir."""
    from config.celery import app

    eager, app.conf.task_always_eager = app.conf.task_always_eager, True
    yield Mailbox(outbox_dir)
    app.conf.task_always_eager = eager


@pytest.fixture
def submit(mailbox, django_capture_on_commit_callbacks):
    """submit(page, email=..., **fields): the form's POST as a browser without cookies sends it,
    with the version of the wording the page shows unless `wording` is given."""

    def post(page, client=None, **fields):
        data = {"email": "ada@example.com", "first_name": "Ada", "wording": page.wording_version()} | fields
        with django_capture_on_commit_callbacks(execute=True):
            return (client or Client(enforce_csrf_checks=True)).post(f"/signup/{page.pk}/", data)

    return post
