"""Property: whatever order opt-outs, bounces, complaints, imports, erasures and sends come
in, no promotional message reaches a blocked address, and account mail still reaches
people who only opted out of offers. Address variants (case, spaces) are one person.

Each step goes through the real entry point: the one-click POST and the preference
centre, anymail's Postmark webhook URL, the CSV import pipeline, erasure, and both
mailers (the gateway writing .eml files).
"""

import email
import json
import tempfile
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.core.mail import EmailMultiAlternatives, mailers, send_mail
from django.db import transaction
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import Contact
from campaigns.privacy import erase_person
from config.settings.base import gateway_mailer
from suppression.addresses import address_key
from suppression.tokens import unsubscribe_url
from tests.factories import import_csv

PEOPLE = ["ada@example.com", "bob@example.com", "cy@example.org"]
SECRET = "hook:secret"
AUTH = {"HTTP_AUTHORIZATION": "Basic aG9vazpzZWNyZXQ="}  # base64("hook:secret")
event_ids = count(1)

variant = st.tuples(st.sampled_from(PEOPLE), st.sampled_from(["lower", "upper", "title", "spaced"])).map(
    lambda pair: {"lower": str.lower, "upper": str.upper, "title": str.title, "spaced": lambda a: f"  {a.upper()} "}[
        pair[1]
    ](pair[0])
)
step = st.one_of(
    st.tuples(st.just("one_click"), variant),
    st.tuples(st.just("preferences_out"), variant),
    st.tuples(st.just("preferences_in"), variant),
    st.tuples(st.just("hard_bounce"), variant),
    st.tuples(st.just("soft_bounce"), variant),
    st.tuples(st.just("complaint"), variant),
    st.tuples(st.just("import"), st.lists(variant, min_size=1, max_size=3)),
    st.tuples(st.just("erase"), variant),
    st.tuples(st.just("send_promotional"), st.just(None)),
    st.tuples(st.just("send_account"), variant),
)


class Person:
    def __init__(self):
        self.offers_closed = self.undeliverable = self.complained = self.erased = False
        self.soft_bounces = 0

    @property
    def promotional_ok(self):
        return not (self.offers_closed or self.undeliverable or self.complained)


def postmark(record_type, bounce_type, address):
    payload = {
        "RecordType": record_type,
        "ID": next(event_ids),
        "Type": bounce_type,
        "TypeCode": 1,
        "ServerID": 23,
        "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
        "Description": "",
        "Details": "smtp;550 5.1.1",
        "Email": address.strip(),
        "From": "offers@example.com",
        "Inactive": True,
        "CanActivate": True,
        "BouncedAt": datetime.now(UTC).isoformat(),
        "Subject": "Offers",
    }
    response = Client().post(
        "/webhooks/anymail/postmark/tracking/", json.dumps(payload), content_type="application/json", **AUTH
    )
    assert response.status_code == 200


def token_path(address):
    return urlparse(unsubscribe_url(address)).path


def received(outbox):
    """Recipients (as address keys) of the .eml files written since the last call; then clears them."""
    keys = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        keys += [address_key(a) for a in message.get_all("To", [])[0].split(",")]
        path.unlink()
    return keys


def send_promotional_to_every_contact():
    messages = []
    for contact in Contact.objects.all():
        url = unsubscribe_url(contact.email)
        message = EmailMultiAlternatives("Offers", f"Offers. Unsubscribe: {url}", "offers@example.com", [contact.email])
        message.attach_alternative(f'<p>Offers</p><a href="{url}">Unsubscribe</a>', "text/html")
        message.unsubscribe_url = url
        messages.append(message)
    mailers["promotional"].send_messages(messages)
    return {address_key(contact.email) for contact in Contact.objects.all()}


def apply(action, argument, people, outbox):
    client = Client(enforce_csrf_checks=True)
    person = people[address_key(argument)] if isinstance(argument, str) else None
    if action == "one_click":
        client.post(
            token_path(argument), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        )
        person.offers_closed = True
    elif action in ("preferences_out", "preferences_in"):
        keep = action == "preferences_in"
        client.post(token_path(argument) + "preferences/", {"email_marketing": "yes"} if keep else {})
        person.offers_closed = person.erased or not keep
    elif action == "hard_bounce":
        postmark("Bounce", "HardBounce", argument)
        person.undeliverable = True
    elif action == "soft_bounce":
        postmark("Bounce", "SoftBounce", argument)
        person.soft_bounces += 1
        person.undeliverable |= person.soft_bounces >= 3
    elif action == "complaint":
        postmark("SpamComplaint", "SpamComplaint", argument)
        person.complained = True
    elif action == "import":
        rows = "email,first_name\n" + "".join(f"{address},Someone\n" for address in argument)
        import_csv(rows, "Customers")
    elif action == "erase":
        erase_person(argument, actor="property test")
        person.erased = person.offers_closed = True
    elif action == "send_promotional":
        contacts = send_promotional_to_every_contact()
        got = received(outbox)
        assert len(got) == len(set(got))
        assert set(got) == {key for key in contacts if people[key].promotional_ok}
    elif action == "send_account":
        send_mail("Your order", "Thank you for your order.", None, [argument.strip()])
        assert received(outbox) == ([] if person.undeliverable else [address_key(argument)])


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_no_promotional_mail_to_a_blocked_address_and_account_mail_still_flows(steps):
    people = {address_key(address): Person() for address in PEOPLE}
    with tempfile.TemporaryDirectory() as directory, transaction.atomic():
        outbox = Path(directory)
        options = {"directory": directory}
        mailers_setting = {
            "default": gateway_mailer("account", "config.outbox.OutboxBackend", options),
            "promotional": gateway_mailer("promotional", "config.outbox.OutboxBackend", options),
        }
        with override_settings(MAILERS=mailers_setting, ANYMAIL={"WEBHOOK_SECRET": SECRET}):
            for action, argument in [*steps, ("send_promotional", None)]:
                apply(action, argument, people, outbox)
        transaction.set_rollback(True)  # each example starts from an empty ledger
