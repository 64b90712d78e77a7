"""Per-recipient messages in the cheapest form the configured real backend accepts.

- Backends that take RFC 5322 bytes (SMTP, the outbox): PreparedEmail from a MIME
  skeleton encoded once per campaign.
- anymail's Postmark backend: the frozen email becomes a Postmark template once per
  campaign, and each API call carries up to 500 recipients' merge data and their own
  List-Unsubscribe headers (email/batchWithTemplates).
- Any other backend: a regular EmailMessage built by substitution.
Every message still goes through the gateway. Each builder's send(gateway, chunk)
returns one Outcome per delivery; a recipient whose headers would hold a line break gets
a failed Outcome and never reaches the backend.
"""

import hashlib
import json
from urllib.parse import urlparse

import requests
from anymail.backends.postmark import EmailBackend as PostmarkBackend
from anymail.exceptions import AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.utils.html import escape

from cms.merge import MergeTemplate
from config.outbox import OutboxBackend
from suppression.gateway import ONE_CLICK, HeaderInjection, Outcome, refuse_line_breaks
from suppression.models import Stream

from .mime import MimeSkeleton, PreparedEmail
from .personalise import Personaliser, merge_values

PRE_ENCODED_BACKENDS = (SmtpBackend, OutboxBackend)
POSTMARK_BATCH_LIMIT = 500
SENT_STATUSES = {"sent", "queued"}


class MessageBuilder:
    """One message per recipient: pre-encoded MIME where the backend takes bytes."""

    def __init__(self, campaign, backend):
        self.campaign_id = campaign.pk
        frozen = campaign.frozen()
        self.chunk_size = settings.MAILROOM_CHUNK_SIZE
        self.skeleton = None
        self.personaliser = None
        if isinstance(backend, PRE_ENCODED_BACKENDS):
            domain = urlparse(settings.MAILROOM_BASE_URL).hostname or "mailroom.invalid"
            headers = {"X-Mailroom-Campaign": str(campaign.pk)} if campaign.pk else {}
            self.skeleton = MimeSkeleton(frozen, headers, domain)
        else:
            self.personaliser = Personaliser(frozen, campaign.pk)

    def build(self, delivery):
        contact = delivery.contact
        if self.personaliser:
            return self.personaliser.message(contact, delivery.pk)
        values = merge_values(contact, self.campaign_id)
        headers = {"X-Mailroom-Delivery": str(delivery.pk)} if delivery.pk else {}
        message = PreparedEmail(self.skeleton, contact.email, values, headers)
        message.mailroom_stream = Stream.PROMOTIONAL
        message.unsubscribe_url = values["unsubscribe_url"]
        return message

    def send(self, gateway, chunk):
        return gateway.send_batch([self.build(delivery) for delivery in chunk])


class TemplateSlots:
    """A frozen text as a Mustachio template whose variables are our merge-field slots.

    Values are filled in by us (fallbacks applied, HTML-escaped for the HTML part) and
    inserted raw with triple braces, so Postmark does no escaping of its own.
    """

    def __init__(self, text, prefix, escape_values):
        self.slots = []  # (variable, field, fallback)
        out = []
        for part in MergeTemplate(text).parts:
            if isinstance(part, str):
                out.append(part)
                continue
            variable = f"{prefix}{len(self.slots)}"
            self.slots.append((variable, part[0], part[1]))
            out.append("{{{" + variable + "}}}")
        self.template = "".join(out)
        self.escape = escape_values

    def fill(self, values, model):
        for variable, field, fallback in self.slots:
            value = values.get(field) or fallback
            model[variable] = escape(value) if self.escape else value

    def refuse_line_breaks(self, header, contact):
        """For a part that becomes a header (the subject): no value may break its line.
        Merge fields are the contact's attributes (the unsubscribe URL never breaks)."""
        for _variable, field, fallback in self.slots:
            refuse_line_breaks(header, getattr(contact, field, "") or fallback)

    def has_field(self, name):
        return any(field == name for _, field, _ in self.slots)


_registered = set()


def register_postmark_template(backend, alias, template):
    """Create or update the campaign's template at Postmark, once per process."""
    key = (backend.api_url, alias, hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest())
    if key in _registered:
        return
    headers = {"X-Postmark-Server-Token": backend.server_token, "Accept": "application/json"}
    with requests.Session() as session:
        session.trust_env = False
        # Update, else create; another worker may create it between our two calls, so
        # a create refused as a duplicate alias is answered by updating once more.
        for method, url, body in (
            ("put", f"{backend.api_url}templates/{alias}", template),
            ("post", f"{backend.api_url}templates", template | {"Alias": alias}),
            ("put", f"{backend.api_url}templates/{alias}", template),
        ):
            response = session.request(method, url, json=body, headers=headers, timeout=30)
            if response.status_code != 422:
                break
        response.raise_for_status()
    _registered.add(key)


class TemplateBatchEmail(AnymailMessage):
    """One Postmark batch: the gateway checks each recipient's headers and the template."""

    def __init__(self, builder, **kwargs):
        super().__init__(**kwargs)
        self.builder = builder
        self.unsubscribe_urls = set()

    def contains_in_every_part(self, url):
        return url in self.unsubscribe_urls and self.builder.has_unsubscribe_everywhere


class PostmarkBatchBuilder:
    def __init__(self, campaign, backend):
        frozen = campaign.frozen()
        self.campaign_id = campaign.pk
        self.from_email = frozen.from_email
        self.reply_to = [frozen.reply_to] if frozen.reply_to else []
        self.list_id = frozen.list_id
        self.chunk_size = min(POSTMARK_BATCH_LIMIT, settings.MAILROOM_BATCH_SIZE)
        self.parts = [
            TemplateSlots(frozen.subject, "s", escape_values=False),
            TemplateSlots(frozen.html, "h", escape_values=True),
            TemplateSlots(frozen.text, "t", escape_values=False),
        ]
        self.has_unsubscribe_everywhere = all(part.has_field("unsubscribe_url") for part in self.parts[1:])
        subject, html, text = (part.template for part in self.parts)
        template = {"Name": f"Mailroom campaign {campaign.pk}", "Subject": subject, "HtmlBody": html, "TextBody": text}
        # One template per content: a campaign's subject variants each get their own.
        digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:12]
        self.alias = f"mailroom-campaign-{campaign.pk}-{digest}"
        register_postmark_template(backend, self.alias, template)

    def build(self, chunk):
        message = TemplateBatchEmail(
            self, from_email=self.from_email, to=[d.contact.email for d in chunk], reply_to=self.reply_to
        )
        message.template_id = self.alias
        message.merge_data, message.merge_headers, message.merge_metadata = {}, {}, {}
        message.extra_headers = {"X-Mailroom-Campaign": str(self.campaign_id), "List-Id": self.list_id}
        for delivery in chunk:
            address = delivery.contact.email
            values = merge_values(delivery.contact, self.campaign_id)
            model = {}
            for part in self.parts:
                part.fill(values, model)
            message.merge_data[address] = model
            message.merge_headers[address] = {
                "List-Unsubscribe": f"<{values['unsubscribe_url']}>",
                "List-Unsubscribe-Post": ONE_CLICK,
                "X-Mailroom-Delivery": str(delivery.pk),
            }
            message.merge_metadata[address] = {"campaign": str(self.campaign_id), "delivery": str(delivery.pk)}
            message.unsubscribe_urls.add(values["unsubscribe_url"])
        message.mailroom_stream = Stream.PROMOTIONAL
        return message

    def send(self, gateway, chunk):
        admitted, refused = [], {}
        for delivery in chunk:
            try:  # one bad recipient must not get the whole batch refused at the gateway
                refuse_line_breaks("To", delivery.contact.email)
                self.parts[0].refuse_line_breaks("Subject", delivery.contact)
            except HeaderInjection as error:
                refused[delivery.pk] = Outcome(error=f"{type(error).__name__}: {error}", exception=error)
            else:
                admitted.append(delivery)
        [outcome] = gateway.send_batch([self.build(admitted)]) if admitted else [None]
        return [refused.get(d.pk) or self._for_recipient(outcome, d.contact.email) for d in chunk]

    @staticmethod
    def _for_recipient(outcome, address):
        if outcome.dropped and address in outcome.dropped:
            return Outcome(dropped={address: outcome.dropped[address]})
        if outcome.exception is not None:
            return Outcome(error=outcome.error, exception=outcome.exception)
        message_id, status = (outcome.recipient_status or {}).get(address, ("", "unknown"))
        if status in SENT_STATUSES:
            return Outcome(sent=True, message_id=message_id)
        error = AnymailRecipientsRefused(f"Postmark refused the recipient ({status})")
        return Outcome(error=str(error), exception=error)


def builder_for(campaign, backend):
    if isinstance(backend, PostmarkBackend) and settings.MAILROOM_ESP_BATCH:
        return PostmarkBatchBuilder(campaign, backend)
    return MessageBuilder(campaign, backend)
