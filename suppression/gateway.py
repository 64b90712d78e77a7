"""The one gateway every outgoing email passes through (DESIGN invariant 1).

Both Django mailers ("default" = account service, "promotional") use GatewayBackend,
each wrapping its own real backend. For each message the gateway:
0. refuses it when a header value holds a line break (header injection);
1. knows its stream (the mailer's, or the stricter "promotional" if the message says so);
2. for promotional mail, adds List-Unsubscribe / List-Unsubscribe-Post when the
   pipeline supplied `message.unsubscribe_url`, then refuses the message unless the
   headers are there and the unsubscribe link is in every body part;
3. drops recipients the policy blocks for that stream and records each drop (by the
   keyed hash in `message.mailroom_hashes` where the pipeline supplied a contact's, else
   hashing the address here);
4. hands the rest to the real backend.
"""

import logging
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from itertools import chain

from django.core.mail import InvalidMailer
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.module_loading import import_string

from . import policy
from .addresses import address_hash
from .models import DroppedMessage, Stream

logger = logging.getLogger(__name__)

ONE_CLICK = "List-Unsubscribe=One-Click"
ADDRESS_HEADERS = [("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"), ("reply_to", "Reply-To")]
# CR and LF, and the other characters Python's email package also ends a line at.
LINE_BREAK = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


class GatewayError(Exception):
    """Base for messages the gateway refuses to send."""


class MissingUnsubscribe(GatewayError):
    """A promotional message without an unsubscribe link or RFC 8058 headers."""


class HeaderInjection(GatewayError):
    """A header value with a line break: written as is, it would add headers (a Bcc:)."""


def refuse_line_breaks(name, value):
    """Raise HeaderInjection if the value of header `name` holds a line break."""
    if LINE_BREAK.search(header_text(value)):
        raise HeaderInjection(f"the {name} header contains a line break")


def header_text(value):
    """A header value's text for the line-break check: an address object (anymail's, in an
    ESP batch) by its parts, since formatting it runs the email package's folder."""
    if isinstance(value, Address):
        return value.display_name + value.username + value.domain
    return str(value)


def check_header_values(message):
    """Every header the message will carry, on any path: subject, sender, recipients,
    reply-to, extra headers and an anymail batch's per-recipient headers."""
    refuse_line_breaks("Subject", message.subject)
    refuse_line_breaks("From", message.from_email or "")
    merge_headers = getattr(message, "merge_headers", None) or {}
    header_sets = [message.extra_headers, *merge_headers.values()]
    for name in {name for headers in header_sets for name in headers}:
        if ":" in name or LINE_BREAK.search(name):
            raise HeaderInjection(f"{name!r} is not a header name")
    addresses = {label: getattr(message, field, None) or () for field, label in ADDRESS_HEADERS}
    # One search over every value (an ESP batch carries four per recipient); only a hit
    # looks for the header to name. Each character of the joined text is one of a value.
    joined = "".join(map(header_text, chain(*addresses.values())))
    joined += "".join(map(str, chain(*(headers.values() for headers in header_sets))))
    if LINE_BREAK.search(joined):
        for label, values in addresses.items():
            for value in values:
                refuse_line_breaks(label, value)
        for headers in header_sets:
            for name, value in headers.items():
                refuse_line_breaks(name, value)


def bare_address(recipient):
    """The addr-spec of a recipient; campaign mail uses bare addresses (or, in an ESP batch,
    anymail's EmailAddress split already), so skip the parser."""
    if not isinstance(recipient, str):
        return recipient.addr_spec
    return recipient if "<" not in recipient else parseaddr(recipient)[1]


def message_stream(message, mailer_stream):
    declared = getattr(message, "mailroom_stream", None)
    if Stream.PROMOTIONAL in (declared, mailer_stream):
        return Stream.PROMOTIONAL
    return Stream.ACCOUNT


def add_unsubscribe_headers(message, url):
    message.extra_headers["List-Unsubscribe"] = f"<{url}>"
    message.extra_headers["List-Unsubscribe-Post"] = ONE_CLICK


def _body_parts(message):
    parts = [message.body]
    parts += [content for content, mimetype in getattr(message, "alternatives", []) if mimetype == "text/html"]
    return parts


def _header_sets(message):
    """The headers each recipient will get: per-recipient merge_headers (anymail batch
    sends) layered over the message's own."""
    merge_headers = getattr(message, "merge_headers", None)
    if not merge_headers:
        yield message.extra_headers
        return
    for recipient in message.to:
        yield {**message.extra_headers, **merge_headers.get(bare_address(recipient), {})}


def check_unsubscribe(message):
    """Raise MissingUnsubscribe unless every recipient's copy meets RFC 2369 / RFC 8058
    and carries the link in every body part."""
    for header_set in _header_sets(message):
        headers = {name.lower(): value for name, value in header_set.items()}
        if headers.get("list-unsubscribe-post") != ONE_CLICK:
            raise MissingUnsubscribe(f"no 'List-Unsubscribe-Post: {ONE_CLICK}' header")
        url = headers.get("list-unsubscribe", "").strip().removeprefix("<").split(">", 1)[0]
        if not url.startswith("https://") and not url.startswith("http://"):
            raise MissingUnsubscribe("no List-Unsubscribe header with an http(s) URL")
        in_every_part = getattr(message, "contains_in_every_part", None)
        if in_every_part is not None:  # pre-encoded and ESP-template messages answer for their parts
            present = in_every_part(url)
        else:
            present = all(url in part for part in _body_parts(message))
        if not present:
            raise MissingUnsubscribe("the unsubscribe link is missing from a body part")


@dataclass
class Outcome:
    """What became of one message handed to GatewayBackend.send_batch."""

    sent: bool = False
    message_id: str = ""
    dropped: dict | None = None  # address -> blocking channel
    error: str = ""
    exception: Exception | None = None  # for the caller to tell transient from permanent
    # From anymail: address -> (ESP message id, ESP status), per recipient of a batch.
    recipient_status: dict | None = None


class GatewayBackend(BaseEmailBackend):
    def __init__(self, *, stream, backend, options=None, **kwargs):
        super().__init__(**kwargs)
        if stream not in Stream.values:
            raise InvalidMailer(f"Unknown stream {stream!r}.", alias=self.alias)
        self.stream = Stream(stream)
        self.backend = import_string(backend)(alias=self.alias, **(options or {}))

    def open(self):
        return self.backend.open()

    def close(self):
        return self.backend.close()

    def send_messages(self, email_messages):
        """Django's contract: returns how many were sent, raises on the first failure."""
        email_messages = list(email_messages)
        for message in email_messages:
            check_header_values(message)
        to_send = self._admit(email_messages)
        if not to_send:
            return 0
        return self.backend.send_messages(to_send)

    def send_batch(self, email_messages):
        """For the campaign pipeline: one policy check for the batch, one Outcome per message.

        A failure of one message does not stop the others, so the caller can record
        exactly which were handed off.
        """
        email_messages, messages, refused = list(email_messages), [], {}
        for message in email_messages:
            try:
                check_header_values(message)
            except HeaderInjection as error:
                refused[id(message)] = error
            else:
                messages.append(message)
        admitted = {id(message) for message in self._admit(messages)}
        outcomes = []
        for message in email_messages:
            if id(message) in refused:
                error = refused[id(message)]
                outcomes.append(Outcome(error=f"{type(error).__name__}: {error}", exception=error))
                continue
            outcome = Outcome(dropped=message.mailroom_dropped or None)
            if id(message) in admitted:
                try:
                    outcome.sent = bool(self.backend.send_messages([message]))
                except Exception as error:  # noqa: BLE001 (the real backend's errors vary by ESP)
                    outcome.error = f"{type(error).__name__}: {error}"[:255]
                    outcome.exception = error
                    self.backend.close()  # a broken connection must not fail the rest
                status = getattr(message, "anymail_status", None)
                if status is not None:
                    outcome.recipient_status = {
                        address: (recipient.message_id or "", recipient.status)
                        for address, recipient in status.recipients.items()
                    }
                    if isinstance(status.message_id, str):  # a set when recipients' ids differ
                        outcome.message_id = status.message_id
            outcomes.append(outcome)
        return outcomes

    def _admit(self, messages):
        """Classify, enforce the unsubscribe rules, drop blocked recipients; return what may go."""
        streams = [self._classify(message) for message in messages]
        for message, stream in zip(messages, streams, strict=True):
            if stream == Stream.PROMOTIONAL:
                url = getattr(message, "unsubscribe_url", None)
                if url:
                    add_unsubscribe_headers(message, url)
                check_unsubscribe(message)
        admitted = []
        for stream in set(streams):
            batch = [m for m, s in zip(messages, streams, strict=True) if s == stream]
            admitted += self._drop_blocked(batch, stream)
        return admitted

    def _classify(self, message):
        stream = message_stream(message, self.stream)
        if getattr(message, "mailroom_stream", None) is None and self.stream == Stream.ACCOUNT:
            logger.info("Unclassified message %r sent as account-service mail.", message.subject)
        return stream

    def _drop_blocked(self, messages, stream):
        """Remove blocked recipients; record each drop on the message and in the ledger."""
        recipients = {bare_address(r) for message in messages for r in message.recipients()}
        known = {}
        for message in messages:
            known.update(getattr(message, "mailroom_hashes", None) or {})
        blocked = policy.blocked(recipients, stream, known) if recipients else {}
        kept, drops = [], []
        for message in messages:
            message.mailroom_dropped = {}
            for field in ("to", "cc", "bcc"):
                addresses = getattr(message, field)
                keep = []
                for recipient in addresses:
                    address = bare_address(recipient)
                    if address not in blocked:
                        keep.append(recipient)
                        continue
                    message.mailroom_dropped[address] = blocked[address]
                    drops.append(
                        DroppedMessage(
                            address_hash=address_hash(address),
                            stream=stream,
                            channel=blocked[address],
                            subject=str(message.subject)[:255],
                        )
                    )
                setattr(message, field, keep)
            if message.recipients():
                kept.append(message)
        if drops:
            DroppedMessage.objects.bulk_create(drops)
            logger.info("Gateway dropped %d %s recipient(s).", len(drops), stream)
        return kept
