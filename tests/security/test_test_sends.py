"""Test sends: their own permission (Wagtail's Editors and Moderators may edit pages but not
mail them), only to staff users' addresses or MAILROOM_TEST_RECIPIENTS, always with the
sample contact's data, never telling a non-Admin whether an address is suppressed, and at
most MAILROOM_TEST_SENDS_PER_HOUR messages per user per hour."""

import email
import email.policy
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from wagtail.models import PageLogEntry

from campaigns.models import Contact
from suppression import policy
from suppression.models import Channel, Source
from tests.factories import make_page
from tests.security.staff import staff_client, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(sender_settings):
    return make_page(subject="{first_name|Hello} {last_name}, new offers")


def url(page):
    return reverse("campaigns_test_send", args=[page.pk])


def received(outbox_dir):
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(outbox_dir.glob("*.eml"))
    ]


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("role", ["Editor", "Moderator"])
def test_wagtails_editors_and_moderators_cannot_send_tests(page, role, outbox_dir):
    client = staff_client(role)
    assert client.get(reverse("wagtailadmin_pages:edit", args=[page.pk])).status_code == 200  # they edit pages
    for response in (client.get(url(page)), client.post(url(page), {"addresses": f"{role.lower()}@example.com"})):
        assert response.status_code == 302 and response.url == "/admin/"  # Wagtail's "no permission"
    assert "Send a test" not in client.get(reverse("wagtailadmin_pages:edit", args=[page.pk])).content.decode()
    assert not received(outbox_dir)


def test_tests_go_only_to_staff_addresses_and_the_allow_list(page, settings, outbox_dir):
    settings.MAILROOM_TEST_RECIPIENTS = ["seed-inbox@litmus.example", "@qa.example.com"]
    marketer = staff_client("Marketer")
    staff_user("Admin", "boss")
    refused = marketer.post(url(page), {"addresses": "marketer@example.com, customer@gmail.example"})
    assert refused.status_code == 200
    assert "customer@gmail.example is neither" in refused.content.decode()
    assert not received(outbox_dir)  # nothing at all went, not even to the allowed address
    allowed = "marketer@example.com, BOSS@example.com, seed-inbox@litmus.example, anyone@QA.example.com"
    assert marketer.post(url(page), {"addresses": allowed}).status_code == 302
    assert sorted(message["To"] for message in received(outbox_dir)) == [
        "BOSS@example.com",  # the local part as written, matched to the staff user's case-insensitively
        "anyone@qa.example.com",
        "marketer@example.com",
        "seed-inbox@litmus.example",
    ]


def test_a_test_carries_the_sample_contact_never_a_stored_contacts_name(page, outbox_dir):
    admin = staff_client("Admin")
    Contact.objects.create(email="admin@example.com", first_name="Secret", last_name="Person")
    admin.post(url(page), {"addresses": "admin@example.com"})
    [message] = received(outbox_dir)
    assert message["Subject"] == "[Test] Alex Sample, new offers" and message["X-Mailroom-Test"] == "1"
    assert "Secret" not in message.as_string() and "Person" not in message.as_string()


def test_only_admins_learn_that_an_address_is_suppressed(page, outbox_dir):
    staff_user("Marketer", "opted")
    policy.record_opt_out("opted@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    replies = {}
    for role in ("Marketer", "Admin"):
        client = staff_client(role)
        for address in ("opted@example.com", f"{role.lower()}@example.com"):
            response = client.post(url(page), {"addresses": address})
            assert response.status_code == 302
            replies[role, address] = [m.replace(address, "ADDRESS") for m in messages_of(response)]
            client.get("/admin/")  # reading the messages clears them
    assert replies["Marketer", "opted@example.com"] == replies["Marketer", "marketer@example.com"]
    assert "email marketing" not in " ".join(replies["Marketer", "opted@example.com"])
    assert replies["Admin", "opted@example.com"] == ["ADDRESS: not sent: email marketing"]
    assert sorted(message["To"] for message in received(outbox_dir)) == ["admin@example.com", "marketer@example.com"]


def test_tests_are_capped_per_user_per_hour(page, settings, outbox_dir):
    settings.MAILROOM_TEST_SENDS_PER_HOUR = 3
    settings.MAILROOM_TEST_RECIPIENTS = ["@example.com"]
    mia, tom = staff_client("Marketer", "mia"), staff_client("Marketer", "tom")
    assert mia.post(url(page), {"addresses": "a@example.com, b@example.com"}).status_code == 302
    over = mia.post(url(page), {"addresses": "c@example.com, d@example.com"})
    assert over.status_code == 200 and "At most 3 test emails per hour: you have 1 left" in over.content.decode()
    assert mia.post(url(page), {"addresses": "c@example.com"}).status_code == 302
    assert mia.post(url(page), {"addresses": "d@example.com"}).status_code == 200  # used up
    assert tom.post(url(page), {"addresses": "e@example.com"}).status_code == 302  # per user
    assert len(received(outbox_dir)) == 4
    # Each test send is in the page's history, counted, without addresses.
    entries = PageLogEntry.objects.filter(page=page, action="campaigns.test_send")
    assert sorted(entry.data["recipients"] for entry in entries) == [1, 1, 2]
    assert "example.com" not in str(list(entries.values_list("label", "data")))
    entries.update(timestamp=timezone.now() - timedelta(minutes=61))
    assert mia.post(url(page), {"addresses": "d@example.com"}).status_code == 302  # an hour later
