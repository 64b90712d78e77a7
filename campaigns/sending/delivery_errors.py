"""Sort a real backend's send error into: the backend is unavailable, retry this recipient
later, give up, or give up and suppress.

The backend is unavailable (an outage, not the recipient's doing: no attempt is spent, the
chain backs off): connection errors and timeouts, SMTP 421, ESP API 429 and 5xx. SMTP
reply codes otherwise: 4xx transient, 5xx permanent; 550/551/553 (and 5.1.x enhanced
codes) name a mailbox that does not exist. Other ESP 4xx are permanent (Amazon SES's
status is read from boto3's response); anymail's
"recipients refused" (e.g. Postmark's inactive recipient) is a mailbox problem.
"""

import smtplib
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

UNAVAILABLE = "unavailable"
TRANSIENT = "transient"
PERMANENT = "permanent"
MAILBOX = "mailbox"  # permanent, and the address is undeliverable
MAILBOX_SMTP_CODES = {550, 551, 553}
SERVICE_NOT_AVAILABLE = 421
# Longest Retry-After honoured: a chain waits no longer before it tries again.
MAX_RETRY_AFTER = 600


class BackendUnavailable(Exception):
    """The backend could not take the chunk (an outage): the batch's rows go back unsent."""

    def __init__(self, error, retry_after=None):
        super().__init__(error)
        self.retry_after = retry_after


def _smtp_kind(code, text):
    if code == SERVICE_NOT_AVAILABLE:
        return UNAVAILABLE
    if 400 <= code < 500:
        return TRANSIENT
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    if code in MAILBOX_SMTP_CODES or text.startswith("5.1."):
        return MAILBOX
    return PERMANENT


def _http_status(error):
    """The HTTP status of the ESP's answer: anymail's, else from boto3's response metadata
    (Amazon SES, whose errors anymail passes on with the parsed response)."""
    status = getattr(error, "status_code", None)
    response = getattr(error, "response", None)
    if status is None and isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status


def classify(error):
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        return _smtp_kind(code, text)
    if isinstance(error, smtplib.SMTPResponseException):
        return _smtp_kind(error.smtp_code, error.smtp_error)
    if isinstance(error, AnymailRecipientsRefused):
        return MAILBOX
    if isinstance(error, AnymailAPIError):
        status = _http_status(error)
        if status is None or status == 429 or status >= 500:
            return UNAVAILABLE
        return PERMANENT
    if isinstance(error, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError, TimeoutError)):
        return UNAVAILABLE
    return PERMANENT


def retry_after(error):
    """Seconds an ESP's Retry-After header asks us to wait (delta or HTTP date), or None."""
    response = getattr(error, "response", None)
    value = (getattr(response, "headers", None) or {}).get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0), MAX_RETRY_AFTER)


def deferred_by_recipient(error):
    """True for an SMTP server's 4xx answer to one recipient (421/450/451 …): a mailbox
    provider asking us to slow down, which pacing answers for that provider only."""
    if not isinstance(error, smtplib.SMTPRecipientsRefused):
        return False
    code, _ = next(iter(error.recipients.values()))
    return 400 <= code < 500
