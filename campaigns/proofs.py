"""Test sends and `render_email`: one page's email for named addresses, built exactly as a
campaign builds it (cms.rendering.freeze + Personaliser) and passed through the
promotional gateway. Test sends carry `X-Mailroom-Test: 1`, a "[Test]" subject prefix
and no campaign id, so no Delivery row or campaign statistic ever counts them.

Who may get a test, and how many: only staff users' addresses and the allow-list
MAILROOM_TEST_RECIPIENTS, at most MAILROOM_TEST_SENDS_PER_HOUR messages per user per
hour (counted from the page history entries each test send writes). A test always
carries the sample contact's names, never a stored contact's.
"""

from datetime import timedelta
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import mailers
from django.db import transaction
from django.utils import timezone
from wagtail.log_actions import log
from wagtail.models import PageLogEntry

from campaigns.sending.builders import MessageBuilder
from campaigns.sending.personalise import Personaliser
from cms.rendering import SAMPLE_CONTACT, freeze
from suppression.addresses import address_key, normalise_address
from suppression.gateway import add_unsubscribe_headers, check_unsubscribe

from .models import Contact

TEST_HEADER = "X-Mailroom-Test"
LOG_ACTION = "campaigns.test_send"


class TestSendRefused(Exception):
    """Not sent at all: a recipient is not allowed, or the user's hourly allowance is used."""

    __test__ = False  # not a pytest class, whatever its name


def sample_recipient(address):
    """The recipient of a test: the address, with the sample contact's names."""
    return SimpleNamespace(
        email=normalise_address(address),
        first_name=SAMPLE_CONTACT["first_name"],
        last_name=SAMPLE_CONTACT["last_name"],
    )


def recipient(address):
    """`render_email`'s recipient: the contact with this address if there is one, else the sample."""
    address = normalise_address(address)
    return Contact.objects.filter(email=address).first() or sample_recipient(address)


def not_allowed(addresses):
    """The addresses that may not receive tests: neither a staff user's nor on the allow-list
    (an address, or `@domain` for a whole domain)."""
    staff = get_user_model().objects.with_perm("wagtailadmin.access_admin", is_active=True)
    allowed = {address_key(email) for email in staff.exclude(email="").values_list("email", flat=True)}
    allowed |= {address_key(entry) for entry in settings.MAILROOM_TEST_RECIPIENTS}
    return [
        address
        for address in addresses
        if address_key(address) not in allowed and "@" + address_key(address).rpartition("@")[2] not in allowed
    ]


def sent_this_hour(user):
    entries = PageLogEntry.objects.filter(
        user=user, action=LOG_ACTION, timestamp__gte=timezone.now() - timedelta(hours=1)
    ).values_list("data", flat=True)
    return sum(data.get("recipients", 0) for data in entries)


def build_messages(page, addresses):
    personaliser = Personaliser(freeze(page))
    messages = []
    for address in addresses:
        message = personaliser.message(sample_recipient(address), extra_headers={TEST_HEADER: "1"})
        message.subject = f"[Test] {message.subject}"
        messages.append(message)
    return messages


def send_test(page, addresses, *, user):
    """Send the page to `addresses` as a test; returns {address: "sent" | "not sent: why" |
    "failed: why"}. Raises TestSendRefused before sending anything if a recipient is not
    allowed or the user's hourly allowance would be passed."""
    if refused := not_allowed(addresses):
        raise TestSendRefused(
            f"Tests go only to staff users' addresses and the allow-list: {', '.join(refused)} "
            f"{'is' if len(refused) == 1 else 'are'} neither."
        )
    limit = settings.MAILROOM_TEST_SENDS_PER_HOUR
    with transaction.atomic():
        # One user's concurrent requests count one after the other.
        get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
        used = sent_this_hour(user)
        if used + len(addresses) > limit:
            raise TestSendRefused(
                f"At most {limit} test emails per hour: you have {max(limit - used, 0)} left for now."
            )
        log(page, LOG_ACTION, user=user, data={"recipients": len(addresses)})
    messages = build_messages(page, addresses)
    with mailers["promotional"] as gateway:
        outcomes = gateway.send_batch(messages)
    results = {}
    for address, outcome in zip(addresses, outcomes, strict=True):
        if outcome.dropped:
            results[address] = "not sent: " + ", ".join(outcome.dropped.values()).replace("_", " ")
        elif outcome.sent:
            results[address] = "sent"
        else:
            results[address] = "failed: " + (outcome.error or "the mail backend sent nothing")
    return results


def message_bytes(page, address):
    """The RFC 5322 bytes the promotional mailer would hand its backend for `address`.

    Built by the engine's own MessageBuilder for the configured backend (pre-encoded MIME
    for SMTP and the outbox), then the gateway's header step and check, as in a send.
    An ESP builds its own MIME from the same parts.
    """
    frozen = freeze(page)
    with mailers["promotional"] as gateway:
        builder = MessageBuilder(SimpleNamespace(pk=None, frozen=lambda: frozen), gateway.backend)
    message = builder.build(SimpleNamespace(pk=None, contact=recipient(address)))
    add_unsubscribe_headers(message, message.unsubscribe_url)
    check_unsubscribe(message)
    return message.message().as_bytes()
