"""The send pipeline: freeze → snapshot → claim → personalise → hand off to the gateway.

Tasks, admin views and commands all call these functions. Nothing here renders a
page per recipient (DESIGN invariant 5) or assumes a single worker (invariant 6).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import mailers
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from cms.rendering import freeze as freeze_page
from suppression import policy
from suppression.models import Stream

from .models import Campaign, Delivery
from .personalise import Personaliser
from .targeting import recipients

logger = logging.getLogger(__name__)
Status = Campaign.Status


class CampaignStateError(Exception):
    """A lifecycle change that the campaign's current status does not allow."""


def schedule(campaign, when=None):
    """Mark a draft (or re-time a scheduled) campaign to start at `when` (default: now)."""
    updated = Campaign.objects.filter(
        pk=campaign.pk, status__in=[Status.DRAFT, Status.SCHEDULED]
    ).update(status=Status.SCHEDULED, scheduled_at=when or timezone.now())
    if not updated:
        raise CampaignStateError(f"Campaign {campaign.pk} is {campaign.status}; only drafts can be scheduled.")
    campaign.refresh_from_db()
    return campaign


def pause(campaign_id, reason=""):
    """Stop a sending campaign after the batches in flight; resumable."""
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Status.SENDING).update(
            status=Status.PAUSED, pause_reason=reason[:255]
        )
    )


def resume(campaign_id):
    """Back to sending; the caller queues batch chains again (tasks.resume_campaign)."""
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Status.PAUSED).update(status=Status.SENDING, pause_reason="")
    )


def cancel(campaign_id):
    """Stop for good: nothing more is sent; deliveries not yet sent stay pending, unsent."""
    return bool(
        Campaign.objects.filter(
            pk=campaign_id, status__in=[Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.PAUSED]
        ).update(status=Status.CANCELLED, finished_at=timezone.now())
    )


def due_campaign_ids(now=None):
    return list(
        Campaign.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now or timezone.now()).values_list(
            "pk", flat=True
        )
    )


def begin(campaign_id):
    """Freeze and snapshot a due campaign, then mark it sending. False if not ours to start.

    One transaction: a crash leaves the campaign scheduled, never half-started, and
    the row lock stops two workers (or beat and a click) starting it twice.
    """
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id, status=Status.SCHEDULED, scheduled_at__lte=timezone.now())
            .first()
        )
        if campaign is None:
            return False
        freeze(campaign)
        snapshot(campaign)
        campaign.status = Status.SENDING
        campaign.started_at = timezone.now()
        campaign.save(update_fields=["status", "started_at"])
    return True


def freeze(campaign):
    frozen = freeze_page(campaign.page.specific)
    campaign.frozen_subject = frozen.subject
    campaign.frozen_html = frozen.html
    campaign.frozen_text = frozen.text
    campaign.frozen_from_email = frozen.from_email
    campaign.frozen_reply_to = frozen.reply_to
    campaign.save(
        update_fields=["frozen_subject", "frozen_html", "frozen_text", "frozen_from_email", "frozen_reply_to"]
    )


def snapshot(campaign):
    """Targeted contacts → Delivery rows in set-based SQL; blocked ones marked suppressed."""
    targeted, params = recipients(campaign).values("id", "email_hash").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Delivery._meta.db_table}
                (campaign_id, contact_id, email_hash, status, reason, attempts, esp_message_id)
            SELECT %s, targeted.id, targeted.email_hash, %s, '', 0, ''
            FROM ({targeted}) AS targeted
            WHERE true  -- SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
            ON CONFLICT DO NOTHING
            """,
            [campaign.pk, Delivery.Status.PENDING, *params],
        )
    blocking = policy.blocking_channel("email_hash", Stream.PROMOTIONAL)
    Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).annotate(
        blocked_by=blocking
    ).filter(blocked_by__isnull=False).update(status=Delivery.Status.SUPPRESSED, reason=blocking)


def reclaim_stale(campaign_id):
    """Claims whose lease ran out (their worker died) go back to pending."""
    return Delivery.objects.filter(
        campaign_id=campaign_id, status=Delivery.Status.CLAIMED, claimed_until__lt=timezone.now()
    ).update(status=Delivery.Status.PENDING, claimed_until=None)


def claim(campaign_id, size):
    """Lease up to `size` pending deliveries to this worker (SKIP LOCKED: workers never collide)."""
    lease = timezone.now() + timedelta(seconds=settings.MAILROOM_CLAIM_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(campaign_id=campaign_id, status=Delivery.Status.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
        Delivery.objects.filter(pk__in=ids).update(status=Delivery.Status.CLAIMED, claimed_until=lease)
    return list(Delivery.objects.filter(pk__in=ids).select_related("contact").order_by("pk"))


def deliver(campaign, deliveries):
    """Re-check suppression for the batch in hand (invariant 3), send, record each outcome."""
    blocked = policy.blocked({d.contact.email for d in deliveries}, Stream.PROMOTIONAL)
    personaliser = Personaliser(campaign.frozen(), campaign.pk)
    now = timezone.now()
    updates = []
    to_send = []
    for delivery in deliveries:
        channel = blocked.get(delivery.contact.email)
        if channel:
            delivery.status, delivery.reason = Delivery.Status.SUPPRESSED, channel
            updates.append(delivery)
        else:
            to_send.append((delivery, personaliser.message(delivery.contact, delivery.pk)))
    if to_send:
        with mailers["promotional"] as gateway:
            outcomes = gateway.send_batch([message for _, message in to_send])
        for (delivery, _), outcome in zip(to_send, outcomes):
            if outcome.dropped:
                delivery.status, delivery.reason = Delivery.Status.SUPPRESSED, next(iter(outcome.dropped.values()))
            elif outcome.sent:
                delivery.status, delivery.sent_at = Delivery.Status.SENT, now
                delivery.esp_message_id = outcome.message_id
            else:
                delivery.status, delivery.reason = Delivery.Status.FAILED, outcome.error
            updates.append(delivery)
    for delivery in updates:
        delivery.claimed_until = None
        delivery.attempts += 1
    Delivery.objects.bulk_update(
        updates, ["status", "reason", "sent_at", "esp_message_id", "claimed_until", "attempts"]
    )


def send_next_batch(campaign_id, size=None):
    """Claim and send one batch; returns how many deliveries it handled (0: nothing left)."""
    if not Campaign.objects.filter(pk=campaign_id, status=Status.SENDING).exists():
        return 0
    reclaim_stale(campaign_id)
    batch = claim(campaign_id, size or settings.MAILROOM_BATCH_SIZE)
    if not batch:
        finish_if_done(campaign_id)
        return 0
    deliver(Campaign.objects.get(pk=campaign_id), batch)
    return len(batch)


def finish_if_done(campaign_id):
    open_rows = Q(status=Delivery.Status.PENDING) | Q(status=Delivery.Status.CLAIMED)
    if Delivery.objects.filter(open_rows, campaign_id=campaign_id).exists():
        return False
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Status.SENDING).update(
            status=Status.SENT, finished_at=timezone.now()
        )
    )


def retry_failed(campaign_id):
    """Failed deliveries go back to pending; a sent campaign goes back to sending.

    Returns how many deliveries will be retried. A paused campaign keeps them for its
    resume; the caller queues batch chains when the campaign is sending.
    """
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id, status__in=[Status.SENDING, Status.PAUSED, Status.SENT])
            .first()
        )
        if campaign is None:
            return 0
        retried = Delivery.objects.filter(campaign_id=campaign_id, status=Delivery.Status.FAILED).update(
            status=Delivery.Status.PENDING, reason="", claimed_until=None
        )
        if retried and campaign.status == Status.SENT:
            campaign.status, campaign.finished_at = Status.SENDING, None
            campaign.save(update_fields=["status", "finished_at"])
    return retried
