"""send_account_mail(to, template, context): account-service mail written from a template
(order confirmation, course registration), queued through accountmail.tasks on the
`account` queue. Context values must be JSON-serialisable only for the template's sake;
what is kept for the worker is the rendered subject and parts.
"""

from django.template.loader import render_to_string

from .tasks import send_account_email

TEMPLATES = ("order_confirmation", "course_registration", "signup_confirmation")


def render(template, context):
    """(subject, plain text, HTML) of one account mail template."""
    if template not in TEMPLATES:
        raise ValueError(f"Unknown account mail template {template!r}; known: {', '.join(TEMPLATES)}.")
    subject = " ".join(render_to_string(f"account_mail/{template}_subject.txt", context).split())
    text = render_to_string(f"account_mail/{template}.txt", context)
    html = render_to_string(f"account_mail/{template}.html", context)
    return subject, text, html


def send_account_mail(to, template, context):
    """Render now (a bad template fails here, not in the worker) and queue on the account queue."""
    return send_account_email([to], *render(template, context))
