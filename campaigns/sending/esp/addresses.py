"""anymail without parsing again the addresses we validated on the way in.

Building a payload, anymail parses every recipient with email.headerregistry, twice
(getaddresses, then EmailAddress): most of a batch's build time. A campaign's addresses
were validated when stored (suppression.addresses), so a batch message carries them
already split into anymail EmailAddress objects, and the backend's payload takes those as
they are. anymail still builds the payload, posts it and reads the per-recipient status.
docs/upstream/anymail-parsed-addresses.md offers anymail the change that makes the mixins
here unneeded.
"""

from functools import cache

from anymail.backends.base import BasePayload
from anymail.utils import EmailAddress, parse_address_list

RECIPIENT_FIELDS = ("to", "cc", "bcc")


def split(address):
    """An anymail EmailAddress for a validated bare address, split at its last @ (no parser)."""
    username, _, domain = address.rpartition("@")
    return EmailAddress(username=username, domain=domain)


def _keep_split(addresses, field=None):
    if isinstance(addresses, list) and all(isinstance(address, EmailAddress) for address in addresses):
        return addresses
    return parse_address_list(addresses, field=field)


class SplitRecipients:
    """Payload mixin: recipient lists already of EmailAddress pass through unparsed."""

    base_message_attrs = tuple(
        (attr, combiner, _keep_split if attr in RECIPIENT_FIELDS else converter)
        for attr, combiner, converter in BasePayload.base_message_attrs
    )


class SplitRecipientsBackend:
    """Backend mixin: a batch message's payload is the ESP's payload class with SplitRecipients."""

    payload_class = None

    def build_message_payload(self, message, defaults):
        if getattr(message, "recipients_split", False):
            return self.payload_class(message, defaults, self)
        return super().build_message_payload(message, defaults)


@cache
def _backend_class(backend_class, payload_class):
    payload = type(payload_class.__name__, (SplitRecipients, payload_class), {})
    return type(backend_class.__name__, (SplitRecipientsBackend, backend_class), {"payload_class": payload})


def take_split_recipients(backend, payload_class):
    """Let `backend` (an instance of anymail's backend whose batch payload is `payload_class`)
    take batch messages whose recipients are split already; other messages are unchanged."""
    if not isinstance(backend, SplitRecipientsBackend):
        backend.__class__ = _backend_class(type(backend), payload_class)
