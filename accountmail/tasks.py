"""Account-service mail (orders, registrations, account notices) on its own queue.

It goes through mailers["default"], the gateway's account stream, which blocks only
undeliverable addresses: a marketing opt-out still gets mail about what they bought.
The `account` queue has its own worker (Procfile), so a campaign never delays it. Each
message is kept in the database until handed off (accountmail.handoff).
"""

from celery import shared_task
from django.db import transaction

from . import handoff


def send_account_email(to, subject, body, html=None, from_email=None):
    """Keep the message and queue its hand-off on the account queue (once the caller's
    transaction commits, so the worker finds it); returns its id."""
    message_id = handoff.keep(to, subject, body, html, from_email)
    transaction.on_commit(lambda: send_account_message.delay(message_id))
    return message_id


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_account_message(message_id):
    return handoff.hand_off(message_id)


@shared_task
def requeue_unsent():
    """Beat job: queue again the kept messages whose worker died or whose task was lost."""
    for message_id in handoff.unsent():
        send_account_message.delay(message_id)
