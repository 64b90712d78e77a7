"""Per-recipient work: fill the frozen email's merge fields and build the message.

Everything expensive (rendering, CSS inlining, the text part) happened once when the
email was frozen (DESIGN invariant 5); here it is substitution plus headers. Campaign
sends, test sends and `render_email` all build messages here.
"""

import email.policy

from django.core.mail import EmailMultiAlternatives

from cms.merge import MergeTemplate
from suppression.models import Stream
from suppression.tokens import unsubscribe_url


class CampaignEmail(EmailMultiAlternatives):
    """A promotional message whose long header values are never RFC 2047-encoded.

    With the default 78-column policy, Python encodes a List-Unsubscribe URL it cannot
    fold, and mailbox providers then fail to read it; RFC 5322 allows 998 columns.
    """

    def message(self, *, policy=email.policy.default):
        return super().message(policy=policy.clone(max_line_length=998))


def merge_values(contact, campaign_id):
    """The values one recipient's merge fields take."""
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        # A Contact holds its address hash already; stand-ins (test sends) have it computed.
        "unsubscribe_url": unsubscribe_url(contact.email, campaign_id, hashed=getattr(contact, "email_hash", None)),
    }


class Personaliser:
    """A frozen email (cms.rendering.FrozenEmail) compiled once for many recipients."""

    def __init__(self, frozen, campaign_id=None):
        self.campaign_id = campaign_id
        self.from_email = frozen.from_email
        self.reply_to = [frozen.reply_to] if frozen.reply_to else []
        self.list_id = frozen.list_id
        self.subject = MergeTemplate(frozen.subject)
        self.html = MergeTemplate(frozen.html)
        self.text = MergeTemplate(frozen.text)

    def message(self, contact, delivery_id=None, extra_headers=None):
        """`contact` needs email, first_name and last_name (a Contact or any stand-in)."""
        values = merge_values(contact, self.campaign_id)
        url = values["unsubscribe_url"]
        headers = {"List-Id": self.list_id, **(extra_headers or {})}
        metadata = {}
        if self.campaign_id:
            headers["X-Mailroom-Campaign"] = metadata["campaign"] = str(self.campaign_id)
        if delivery_id:
            headers["X-Mailroom-Delivery"] = metadata["delivery"] = str(delivery_id)
        message = CampaignEmail(
            subject=self.subject.render(values),
            body=self.text.render(values),
            from_email=self.from_email,
            to=[contact.email],
            reply_to=self.reply_to,
            headers=headers,
        )
        message.attach_alternative(self.html.render(values, escape=True), "text/html")
        message.mailroom_stream = Stream.PROMOTIONAL
        message.unsubscribe_url = url
        message.metadata = metadata  # anymail hands it to the ESP; webhooks bring it back
        return message
