"""Test sends and `render_email`: one page's email for named addresses, built exactly as a
campaign builds it (cms.rendering.freeze + Personaliser) and passed through the
promotional gateway. Test sends carry `X-Mailroom-Test: 1`, a "[Test]" subject prefix
and no campaign id, so no Delivery row or campaign statistic ever counts them.
"""

from types import SimpleNamespace

from django.core.mail import mailers

from campaigns.sending.builders import MessageBuilder
from campaigns.sending.personalise import Personaliser
from cms.rendering import SAMPLE_CONTACT, freeze
from suppression.addresses import normalise_address
from suppression.gateway import add_unsubscribe_headers, check_unsubscribe

from .models import Contact

TEST_HEADER = "X-Mailroom-Test"


def recipient(address):
    """The contact with this address if there is one, else a stand-in with sample names."""
    address = normalise_address(address)
    contact = Contact.objects.filter(email=address).first()
    return contact or SimpleNamespace(
        email=address, first_name=SAMPLE_CONTACT["first_name"], last_name=SAMPLE_CONTACT["last_name"]
    )


def build_messages(page, addresses, test=False):
    personaliser = Personaliser(freeze(page))
    headers = {TEST_HEADER: "1"} if test else None
    messages = []
    for address in addresses:
        message = personaliser.message(recipient(address), extra_headers=headers)
        if test:
            message.subject = f"[Test] {message.subject}"
        messages.append(message)
    return messages


def send_test(page, addresses):
    """Send the page to `addresses` as a test; returns {address: "sent" | why not}."""
    messages = build_messages(page, addresses, test=True)
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
