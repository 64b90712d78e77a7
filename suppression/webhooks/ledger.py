"""ESP tracking events → the suppression ledger, through anymail's `tracking` signal.

anymail's webhook views, as served by endpoints.py (under /webhooks/anymail/), check the
webhook secret (HTTP basic auth) and, where the ESP signs (Mailgun), the signature, then
emit normalised events; this receiver maps them to the ledger:

| event                                   | ledger                                  |
| --------------------------------------- | --------------------------------------- |
| hard bounce                             | undeliverable                           |
| soft bounce (or deferral)               | counted; undeliverable at 3 in 30 days  |
| spam complaint                          | complaint                               |
| unsubscribed at the ESP                 | email_marketing                         |
| rejected: invalid, bounced, timed out   | undeliverable                           |

Idempotent: each (ESP, event id, address) is applied once; ESPs without event ids get
a digest of the payload. The work is a few indexed writes, fast enough to do in the
request (ESPs wait for the 200; nothing here calls out).
"""

import hashlib
import json
import logging
from datetime import timedelta

from anymail.signals import EventType, RejectReason, tracking
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone

from .. import policy
from ..addresses import address_hash
from ..models import Channel, EspEvent, Source

logger = logging.getLogger(__name__)

SOFT_BOUNCE_LIMIT = 3
SOFT_BOUNCE_WINDOW = timedelta(days=30)
Kind = EspEvent.Kind
# Raw ESP markers for bounces anymail reports as "bounced" although they are temporary.
SOFT_BOUNCE_MARKERS = {
    "Postmark": ("Type", {"SoftBounce", "Transient", "DnsError"}),
    "Brevo": ("event", {"soft_bounce", "deferred"}),
}
MAILBOX_REJECTIONS = {RejectReason.INVALID, RejectReason.BOUNCED, RejectReason.TIMED_OUT}
LEDGER = {
    Kind.HARD_BOUNCE: (Channel.UNDELIVERABLE, Source.BOUNCE),
    Kind.REJECTED: (Channel.UNDELIVERABLE, Source.BOUNCE),
    Kind.COMPLAINT: (Channel.COMPLAINT, Source.COMPLAINT),
    Kind.UNSUBSCRIBE: (Channel.EMAIL_MARKETING, Source.ESP),
}


def classify(event, esp_name):
    """The Kind of a tracking event, or None if it does not concern the ledger."""
    if event.event_type == EventType.DEFERRED:
        return Kind.SOFT_BOUNCE
    if event.event_type == EventType.BOUNCED:
        return Kind.SOFT_BOUNCE if _is_soft(event, esp_name) else Kind.HARD_BOUNCE
    if event.event_type == EventType.COMPLAINED:
        return Kind.COMPLAINT
    if event.event_type == EventType.UNSUBSCRIBED:
        return Kind.UNSUBSCRIBE
    if event.event_type == EventType.REJECTED:
        if event.reject_reason in MAILBOX_REJECTIONS:
            return Kind.REJECTED
        if event.reject_reason == RejectReason.SPAM:
            return Kind.COMPLAINT
        if event.reject_reason == RejectReason.UNSUBSCRIBED:
            return Kind.UNSUBSCRIBE
    return None


def _is_soft(event, esp_name):
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    if esp_name == "Amazon SES":
        return raw.get("bounce", {}).get("bounceType") in ("Transient", "Undetermined")
    field, soft_values = SOFT_BOUNCE_MARKERS.get(esp_name, (None, ()))
    return field is not None and raw.get(field) in soft_values


def event_key(event):
    """The ESP's event id, or a digest of the raw payload for ESPs that send none (Brevo)."""
    if event.event_id:
        return str(event.event_id)[:255]
    try:
        raw = json.dumps(event.esp_event, sort_keys=True, default=str)
    except TypeError:
        raw = repr(event.esp_event)
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def _campaign_id(event):
    try:
        return int((event.metadata or {}).get("campaign"))
    except (TypeError, ValueError):
        return None


@receiver(tracking, dispatch_uid="suppression.record_tracking_event")
def record_tracking_event(sender, event, esp_name, **kwargs):
    kind = classify(event, esp_name)
    if kind is None or not event.recipient:
        return
    apply_event(
        esp_name,
        event_key(event),
        event.recipient,
        kind,
        event.timestamp,
        _campaign_id(event),
        note=event.description or event.mta_response or "",
    )


def apply_event(esp_name, key, recipient, kind, occurred_at=None, campaign_id=None, *, note=""):
    """Record one ESP event for one address once; update the ledger. False for a repeat."""
    hash_ = address_hash(recipient)
    occurred_at = occurred_at or timezone.now()
    try:
        with transaction.atomic():
            EspEvent.objects.create(esp=esp_name, event_id=key, address_hash=hash_, kind=kind, occurred_at=occurred_at)
            if kind == Kind.SOFT_BOUNCE:
                recent = EspEvent.objects.filter(
                    address_hash=hash_,
                    kind=Kind.SOFT_BOUNCE,
                    occurred_at__gt=occurred_at - SOFT_BOUNCE_WINDOW,
                    occurred_at__lte=occurred_at,
                ).count()
                if recent < SOFT_BOUNCE_LIMIT:
                    return True
                note = f"{recent} soft bounces within {SOFT_BOUNCE_WINDOW.days} days. {note}"
            channel, source = LEDGER.get(kind, (Channel.UNDELIVERABLE, Source.BOUNCE))
            policy.record_opt_out(
                recipient, channel, source, actor=esp_name, reason=str(note)[:255], campaign_id=campaign_id
            )
    except IntegrityError:
        logger.info("Repeated %s event %s ignored.", esp_name, key)
        return False
    return True
