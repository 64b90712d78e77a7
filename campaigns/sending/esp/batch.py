"""One anymail message per chunk: the frozen email as the ESP's template, each recipient's
merge data, headers (their own List-Unsubscribe) and metadata, and one Outcome back per
delivery from anymail's per-recipient status."""

from anymail.exceptions import AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.conf import settings

from suppression.gateway import ONE_CLICK, HeaderInjection, Outcome, refuse_line_breaks
from suppression.models import Stream

from ..personalise import merge_values
from .addresses import split, take_split_recipients
from .slots import TemplateSlots
from .templates import alias_for


class BatchEmail(AnymailMessage):
    """One ESP batch; the gateway checks each recipient's headers and asks the builder
    whether the unsubscribe link is in every part of the template."""

    def __init__(self, builder, **kwargs):
        super().__init__(**kwargs)
        self.builder = builder
        self.unsubscribe_urls = set()

    def contains_in_every_part(self, url):
        return url in self.unsubscribe_urls and self.builder.has_unsubscribe_everywhere


class BatchBuilder:
    """Builds and sends an ESP batch per chunk for the ESP described by `esp` (table.Esp)."""

    def __init__(self, campaign, backend, esp):
        frozen = campaign.frozen()
        self.esp = esp
        self.campaign_id = campaign.pk
        self.from_email = frozen.from_email
        self.reply_to = [frozen.reply_to] if frozen.reply_to else []
        self.list_id = frozen.list_id
        self.chunk_size = min(esp.batch_limit, settings.MAILROOM_BATCH_SIZE)
        self.parts = [
            TemplateSlots(frozen.subject, "s", False, esp.placeholder),
            TemplateSlots(frozen.html, "h", True, esp.placeholder),
            TemplateSlots(frozen.text, "t", False, esp.placeholder),
        ]
        self.has_unsubscribe_everywhere = all(part.has_field("unsubscribe_url") for part in self.parts[1:])
        templates = [part.template for part in self.parts]
        self.alias = alias_for(campaign.pk, *templates)
        if esp.stored_template:
            esp.stored_template(backend, self.alias, *templates)
        take_split_recipients(backend, esp.payload)

    def build(self, chunk):
        subject, html, text = (part.template for part in self.parts)
        stored = bool(self.esp.stored_template)
        message = BatchEmail(
            self,
            from_email=self.from_email,
            to=[split(d.contact.email) for d in chunk],
            reply_to=self.reply_to,
            subject="" if stored else subject,
            body="" if stored else text,
        )
        if stored:
            message.template_id = self.alias
        else:
            message.attach_alternative(html, "text/html")
        if self.esp.esp_extra:
            message.esp_extra = self.esp.esp_extra
        message.merge_data, message.merge_headers, message.merge_metadata = {}, {}, {}
        message.extra_headers = {"X-Mailroom-Campaign": str(self.campaign_id), "List-Id": self.list_id}
        for delivery in chunk:
            address = delivery.contact.email
            values = merge_values(delivery.contact, self.campaign_id)
            model = {}
            for part in self.parts:
                part.fill(values, model, self.esp.key)
            message.merge_data[address] = model
            message.merge_headers[address] = {
                "List-Unsubscribe": f"<{values['unsubscribe_url']}>",
                "List-Unsubscribe-Post": ONE_CLICK,
                "X-Mailroom-Delivery": str(delivery.pk),
            }
            message.merge_metadata[address] = {"campaign": str(self.campaign_id), "delivery": str(delivery.pk)}
            message.unsubscribe_urls.add(values["unsubscribe_url"])
        message.mailroom_stream = Stream.PROMOTIONAL
        # The gateway checks the ledger by the hash each contact holds, not hashing again.
        message.mailroom_hashes = {d.contact.email: getattr(d.contact, "email_hash", None) for d in chunk}
        message.recipients_split = True
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
        return [refused.get(d.pk) or self.for_recipient(outcome, d.contact.email) for d in chunk]

    def for_recipient(self, outcome, address):
        """The batch's outcome as it concerns one recipient."""
        if outcome.dropped and address in outcome.dropped:
            return Outcome(dropped={address: outcome.dropped[address]})
        if outcome.exception is not None:
            return Outcome(error=outcome.error, exception=outcome.exception)
        message_id, status = (outcome.recipient_status or {}).get(address, ("", "unknown"))
        if status in self.esp.sent:
            return Outcome(sent=True, message_id=message_id)
        error = AnymailRecipientsRefused(f"{self.esp.backend.esp_name} refused the recipient ({status})")
        return Outcome(error=str(error), exception=error)
