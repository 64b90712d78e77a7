"""Account-service mail (orders, registrations, account notices) on its own queue.

It goes through mailers["default"], the gateway's account stream, which blocks only
undeliverable addresses: a marketing opt-out still gets mail about what they bought.
The `account` queue has its own worker (Procfile), so a campaign never delays it.
"""

from celery import shared_task
from django.core.mail import EmailMultiAlternatives, mailers

from campaigns.sending import ratelimit
from suppression.models import Stream


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_account_email(to, subject, body, html=None, from_email=None):
    message = EmailMultiAlternatives(subject, body, from_email, to)
    if html:
        message.attach_alternative(html, "text/html")
    message.mailroom_stream = Stream.ACCOUNT
    ratelimit.acquire(Stream.ACCOUNT, 1)
    with mailers["default"] as gateway:
        return gateway.send_messages([message])
