"""Account-service messages kept in PostgreSQL until a backend has taken them, so a worker
killed with one in hand, or a Redis that lost its task, delays it but never loses it.

A message is handed off in one transaction that holds its row lock and deletes the row:
a worker killed mid-hand-off leaves the row unlocked, and beat queues it again (unsent).
It is sent twice only if the worker dies between the backend's acceptance and the commit.
"""

import logging
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import transaction
from django.utils import timezone

from campaigns.sending import delivery_errors
from campaigns.sending.throttles import ratelimit
from suppression.addresses import address_hash
from suppression.gateway import check_header_values
from suppression.models import Stream

from .models import AccountMessage

logger = logging.getLogger(__name__)
RETRY_LATER = (delivery_errors.UNAVAILABLE, delivery_errors.TRANSIENT)


def keep(to, subject, body, html=None, from_email=None):
    """Store a message for hand-off; returns its id for the task. A header value with a line
    break is refused here (HeaderInjection), to the caller, rather than kept."""
    kept = AccountMessage(
        to=list(to), subject=subject, body=body, html=html or "", from_email=from_email or "", queued_at=timezone.now()
    )
    check_header_values(_message(kept))
    kept.save()
    return kept.pk


def _message(kept):
    message = EmailMultiAlternatives(kept.subject, kept.body, kept.from_email or None, kept.to)
    if kept.html:
        message.attach_alternative(kept.html, "text/html")
    message.mailroom_stream = Stream.ACCOUNT
    return message


def hand_off(message_id):
    """Send a kept message through the account mailer and forget it; returns how many were
    sent (0: the gateway dropped it, or another worker has or had it). A backend that
    should be tried again raises, and the message stays kept."""
    with transaction.atomic():
        kept = AccountMessage.objects.select_for_update(skip_locked=True).filter(pk=message_id).first()
        if kept is None:
            return 0
        ratelimit.acquire(Stream.ACCOUNT, 1)
        try:
            with mailers["default"] as gateway:
                sent = gateway.send_messages([_message(kept)])
        except Exception as error:
            if delivery_errors.classify(error) in RETRY_LATER:
                raise
            logger.error("Account message %s refused for good, not sent: %s", kept.pk, error)
            sent = 0
        kept.delete()
    return sent


def forget(addresses):
    """Erasure: delete kept messages to any of `addresses` (the same person whatever the
    letter case); returns how many. The table holds only messages not yet handed off, so it
    is small."""
    wanted = {address_hash(address) for address in addresses}
    doomed = [
        kept.pk
        for kept in AccountMessage.objects.only("pk", "to")
        if wanted & {address_hash(parseaddr(to)[1]) for to in kept.to}
    ]
    return AccountMessage.objects.filter(pk__in=doomed).delete()[0]


def unsent(now=None):
    """For beat: ids of kept messages nobody is handing off whose task was queued a lease
    ago (its worker died, or Redis lost it), marked queued again."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.MAILROOM_CLAIM_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            AccountMessage.objects.select_for_update(skip_locked=True)
            .filter(queued_at__lt=cutoff)
            .values_list("pk", flat=True)
        )
        AccountMessage.objects.filter(pk__in=ids).update(queued_at=now)
    return ids
