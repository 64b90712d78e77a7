"""Account-service mail (orders, course registrations): through the `default` mailer, on the
`account` Celery queue, so a big campaign never delays it.

It reaches people who opted out of offers, because the gateway blocks account mail only
for undeliverable addresses (DESIGN invariant 2). Context values must be JSON-serialisable
(they travel through the broker).
"""

from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string

from .models import Stream

TEMPLATES = ("order_confirmation", "course_registration")


def build_message(to, template, context):
    if template not in TEMPLATES:
        raise ValueError(f"Unknown account mail template {template!r}; known: {', '.join(TEMPLATES)}.")
    subject = render_to_string(f"account_mail/{template}_subject.txt", context)
    message = EmailMultiAlternatives(
        " ".join(subject.split()), render_to_string(f"account_mail/{template}.txt", context), None, [to]
    )
    message.attach_alternative(render_to_string(f"account_mail/{template}.html", context), "text/html")
    message.mailroom_stream = Stream.ACCOUNT
    return message


def deliver(to, template, context):
    """Send now, in this process; returns how many messages the gateway handed on (0 or 1)."""
    with mailers["default"] as gateway:
        return gateway.send_messages([build_message(to, template, context)])


def send_account_mail(to, template, context):
    """Queue the mail on the account queue; the template is checked here, before queueing."""
    from .tasks import send_account_mail_task

    build_message(to, template, context)
    return send_account_mail_task.delay(to, template, context)
