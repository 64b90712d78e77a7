"""Per-recipient messages in the cheapest form the configured real backend accepts.

- Backends that take RFC 5322 bytes (SMTP, the outbox): PreparedEmail from a MIME
  skeleton encoded once per campaign.
- anymail's backend for an ESP in esp.table (Postmark, Mailgun, SendGrid, SparkPost,
  Brevo, Mailjet, Amazon SES): the frozen email becomes the ESP's template once per
  campaign (stored at the ESP where it needs one), and each API call carries a chunk of
  recipients' merge data, their own List-Unsubscribe headers and metadata (esp.batch).
- Any other backend (Resend, or MAILROOM_ESP_BATCH=0): a regular EmailMessage built by
  substitution, one per call.
Every message still goes through the gateway. Each builder's send(gateway, chunk)
returns one Outcome per delivery; a recipient whose headers would hold a line break gets
a failed Outcome and never reaches the backend.
"""

from urllib.parse import urlparse

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from config.outbox import OutboxBackend
from suppression.models import Stream

from .esp.batch import BatchBuilder
from .esp.table import esp_for
from .mime import MimeSkeleton, PreparedEmail
from .personalise import Personaliser, merge_values

PRE_ENCODED_BACKENDS = (SmtpBackend, OutboxBackend)


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


def builder_for(campaign, backend):
    esp = esp_for(backend) if settings.MAILROOM_ESP_BATCH else None
    if esp is not None:
        return BatchBuilder(campaign, backend, esp)
    return MessageBuilder(campaign, backend)
