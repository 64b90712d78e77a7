"""What each ESP's batch call takes: recipients per call, how a template variable is
written, how merge data names it, and where the template lives.

An ESP is here only if anymail's backend sends one call with per-recipient merge data
and per-recipient headers (List-Unsubscribe must be each recipient's own). Resend takes
no per-recipient merge data in a batch, so it is absent and sends one message per call.
"""

from dataclasses import dataclass, field

from anymail.backends import amazon_ses, brevo, mailgun, mailjet, postmark, sendgrid, sparkpost

from . import templates
from .multipart import MultipartMailgunPayload

SENT = frozenset({"sent", "queued"})


@dataclass(frozen=True)
class Esp:
    name: str
    backend: type
    payload: type  # the anymail payload class of its batch call (or our subclass of it)
    batch_limit: int  # recipients per API call, the ESP's own limit
    placeholder: str  # a raw (non-escaping) variable in the ESP's syntax; VAR is its name
    key: str = "VAR"  # the variable's name in anymail's merge_data
    stored_template: object = None  # register(backend, alias, subject, html, text), or inline content
    esp_extra: dict = field(default_factory=dict)
    # anymail statuses meaning the ESP took the recipient. SparkPost reports only totals:
    # a mixed result is "unknown" for all, and the refused ones come back as webhook events.
    sent: frozenset = SENT


ESPS = (
    Esp(
        "postmark",
        postmark.EmailBackend,
        postmark.PostmarkPayload,
        500,
        "{{{VAR}}}",
        stored_template=templates.postmark,
    ),
    Esp("mailgun", mailgun.EmailBackend, MultipartMailgunPayload, 1000, "%recipient.VAR%"),
    # Legacy substitutions: plain text replacement of the key, so key and placeholder agree.
    Esp("sendgrid", sendgrid.EmailBackend, sendgrid.SendGridPayload, 1000, "-mr.VAR-", key="-mr.VAR-"),
    Esp("sparkpost", sparkpost.EmailBackend, sparkpost.SparkPostPayload, 1000, "{{{VAR}}}", sent=SENT | {"unknown"}),
    Esp("brevo", brevo.EmailBackend, brevo.BrevoPayload, 1000, "{{ params.VAR }}"),
    # Mailjet substitutes only with its template language switched on; 50 messages per call.
    Esp(
        "mailjet",
        mailjet.EmailBackend,
        mailjet.MailjetPayload,
        50,
        '{{var:VAR:""}}',
        esp_extra={"Globals": {"TemplateLanguage": True}},
    ),
    Esp(
        "amazon_ses",
        amazon_ses.EmailBackend,
        amazon_ses.AmazonSESV2SendBulkEmailPayload,
        50,
        "{{{VAR}}}",
        stored_template=templates.amazon_ses,
    ),
)


def esp_for(backend):
    """The table row for a backend instance (anymail's sendinblue is Brevo's subclass), or None."""
    return next((esp for esp in ESPS if isinstance(backend, esp.backend)), None)
