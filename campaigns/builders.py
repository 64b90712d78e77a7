"""Per-recipient messages in the cheapest form the configured real backend accepts.

Backends that take RFC 5322 bytes (SMTP, the outbox) get PreparedEmail from a MIME
skeleton encoded once per campaign; any other backend (anymail ESPs) gets a regular
EmailMessage built by substitution. Either way the message goes through the gateway.
"""

from urllib.parse import urlparse

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from config.outbox import OutboxBackend
from suppression.models import Stream

from .mime import MimeSkeleton, PreparedEmail
from .personalise import Personaliser, merge_values

PRE_ENCODED_BACKENDS = (SmtpBackend, OutboxBackend)


class MessageBuilder:
    def __init__(self, campaign, backend):
        self.campaign_id = campaign.pk
        frozen = campaign.frozen()
        self.skeleton = None
        self.personaliser = None
        if isinstance(backend, PRE_ENCODED_BACKENDS):
            domain = urlparse(settings.MAILROOM_BASE_URL).hostname or "mailroom.invalid"
            self.skeleton = MimeSkeleton(frozen, {"X-Mailroom-Campaign": str(campaign.pk)}, domain)
        else:
            self.personaliser = Personaliser(frozen, campaign.pk)

    def build(self, delivery):
        contact = delivery.contact
        if self.personaliser:
            return self.personaliser.message(contact, delivery.pk)
        values = merge_values(contact, self.campaign_id)
        message = PreparedEmail(self.skeleton, contact.email, values, {"X-Mailroom-Delivery": str(delivery.pk)})
        message.mailroom_stream = Stream.PROMOTIONAL
        message.unsubscribe_url = values["unsubscribe_url"]
        return message
