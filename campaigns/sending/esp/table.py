"""What each ESP's batch call takes: recipients per call, how a template variable is
written, how merge data names it, and where the template lives.

An ESP is here only if anymail's backend sends one call with per-recipient merge data
and per-recipient headers (List-Unsubscribe must be each recipient's own). Resend takes
no per-recipient merge data in a batch, so it is absent and sends one message per call.
"""

from dataclasses import dataclass, field

from anymail.backends.amazon_ses import EmailBackend as AmazonSesBackend
from anymail.backends.brevo import EmailBackend as BrevoBackend
from anymail.backends.mailgun import EmailBackend as MailgunBackend
from anymail.backends.mailjet import EmailBackend as MailjetBackend
from anymail.backends.postmark import EmailBackend as PostmarkBackend
from anymail.backends.sendgrid import EmailBackend as SendGridBackend
from anymail.backends.sparkpost import EmailBackend as SparkPostBackend

from . import templates

SENT = frozenset({"sent", "queued"})


@dataclass(frozen=True)
class Esp:
    name: str
    backend: type
    batch_limit: int  # recipients per API call, the ESP's own limit
    placeholder: str  # a raw (non-escaping) variable in the ESP's syntax; VAR is its name
    key: str = "VAR"  # the variable's name in anymail's merge_data
    stored_template: object = None  # register(backend, alias, subject, html, text), or inline content
    esp_extra: dict = field(default_factory=dict)
    # anymail statuses meaning the ESP took the recipient. SparkPost reports only totals:
    # a mixed result is "unknown" for all, and the refused ones come back as webhook events.
    sent: frozenset = SENT


ESPS = (
    Esp("postmark", PostmarkBackend, 500, "{{{VAR}}}", stored_template=templates.postmark),
    Esp("mailgun", MailgunBackend, 1000, "%recipient.VAR%"),
    # Legacy substitutions: plain text replacement of the key, so key and placeholder agree.
    Esp("sendgrid", SendGridBackend, 1000, "-mr.VAR-", key="-mr.VAR-"),
    Esp("sparkpost", SparkPostBackend, 1000, "{{{VAR}}}", sent=SENT | {"unknown"}),
    Esp("brevo", BrevoBackend, 1000, "{{ params.VAR }}"),
    # Mailjet substitutes only with its template language switched on; 50 messages per call.
    Esp("mailjet", MailjetBackend, 50, '{{var:VAR:""}}', esp_extra={"Globals": {"TemplateLanguage": True}}),
    Esp("amazon_ses", AmazonSesBackend, 50, "{{{VAR}}}", stored_template=templates.amazon_ses),
)


def esp_for(backend):
    """The table row for a backend instance (anymail's sendinblue is Brevo's subclass), or None."""
    return next((esp for esp in ESPS if isinstance(backend, esp.backend)), None)
