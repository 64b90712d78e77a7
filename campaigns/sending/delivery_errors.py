"""Sort a real backend's send error into retry later, give up, or give up and suppress.

SMTP reply codes: 4xx transient, 5xx permanent; 550/551/553 (and 5.1.x enhanced codes)
name a mailbox that does not exist. ESP APIs: 429 and 5xx transient, other 4xx
permanent; anymail's "recipients refused" (e.g. Postmark's inactive recipient) is a
mailbox problem. Connection errors and timeouts are transient.
"""

import smtplib

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

TRANSIENT = "transient"
PERMANENT = "permanent"
MAILBOX = "mailbox"  # permanent, and the address is undeliverable
MAILBOX_SMTP_CODES = {550, 551, 553}


def _smtp_kind(code, text):
    if 400 <= code < 500:
        return TRANSIENT
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    if code in MAILBOX_SMTP_CODES or text.startswith("5.1."):
        return MAILBOX
    return PERMANENT


def classify(error):
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        return _smtp_kind(code, text)
    if isinstance(error, smtplib.SMTPResponseException):
        return _smtp_kind(error.smtp_code, error.smtp_error)
    if isinstance(error, AnymailRecipientsRefused):
        return MAILBOX
    if isinstance(error, AnymailAPIError):
        status = getattr(error, "status_code", None)
        if status is None or status == 429 or status >= 500:
            return TRANSIENT
        return PERMANENT
    if isinstance(error, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError, TimeoutError)):
        return TRANSIENT
    return PERMANENT
