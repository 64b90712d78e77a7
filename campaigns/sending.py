"""The send pipeline: freeze → snapshot → claim → personalise → hand off to the gateway.

Tasks, admin views and commands all call these functions. Nothing here renders a
page per recipient (DESIGN invariant 5) or assumes a single worker (invariant 6).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import mailers
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from cms.rendering import freeze as freeze_page
from suppression import policy
from suppression.models import Channel, Source, Stream

from . import delivery_errors, ratelimit
from .builders import builder_for
from .models import Campaign, Delivery
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
        Campaign.objects.filter(pk=campaign_id, status=Status.PAUSED).update(
            status=Status.SENDING, pause_reason="", last_activity_at=timezone.now()
        )
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


def stalled_campaign_ids(now=None):
    """Sending campaigns nobody has worked on for a lease: their workers died; restart chains."""
    quiet_since = (now or timezone.now()) - timedelta(seconds=settings.MAILROOM_CLAIM_LEASE_SECONDS)
    return list(
        Campaign.objects.filter(status=Status.SENDING, last_activity_at__lt=quiet_since).values_list("pk", flat=True)
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
        campaign.started_at = campaign.last_activity_at = timezone.now()
        campaign.save(update_fields=["status", "started_at", "last_activity_at"])
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
    suppressed = (
        Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING)
        .annotate(blocked_by=blocking)
        .filter(blocked_by__isnull=False)
        .update(status=Delivery.Status.SUPPRESSED, reason=blocking)
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        audience_count=Delivery.objects.filter(campaign=campaign).count(),
        suppressed_count=F("suppressed_count") + suppressed,
    )


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


class Recorder:
    """Collects what became of each delivery and writes it in a few set-based UPDATEs."""

    def __init__(self, campaign_id):
        self.campaign_id = campaign_id
        self.sent, self.suppressed, self.failed, self.retry = [], [], [], []
        self.last_error = ""

    def outcome(self, delivery, outcome):
        if outcome.dropped:
            self.suppressed.append((delivery, next(iter(outcome.dropped.values()))))
        elif outcome.sent:
            self.sent.append((delivery, outcome.message_id))
        else:
            self.error(delivery, outcome)

    def error(self, delivery, outcome):
        self.last_error = outcome.error
        kind = delivery_errors.classify(outcome.exception)
        if kind == delivery_errors.TRANSIENT and delivery.attempts + 1 < settings.MAILROOM_MAX_ATTEMPTS:
            self.retry.append(delivery)
            return
        reason = outcome.error
        if kind == delivery_errors.TRANSIENT:
            reason = f"gave up after {delivery.attempts + 1} attempts: {outcome.error}"[:255]
        elif kind == delivery_errors.MAILBOX:
            policy.record_opt_out(
                delivery.contact.email, Channel.UNDELIVERABLE, Source.BOUNCE,
                reason=outcome.error[:255], actor="send engine", campaign_id=self.campaign_id,
            )
        self.failed.append((delivery, reason))

    def flush(self, still_claimed=()):
        """Write the outcomes so far; extend the lease of the batch's rows not yet sent."""
        now = timezone.now()
        rows = Delivery.objects.filter(campaign_id=self.campaign_id)
        if self.sent:
            sent = [d for d, _ in self.sent]
            for delivery, message_id in self.sent:
                delivery.status, delivery.sent_at, delivery.esp_message_id = Delivery.Status.SENT, now, message_id
                delivery.claimed_until, delivery.attempts = None, delivery.attempts + 1
            if any(message_id for _, message_id in self.sent):
                Delivery.objects.bulk_update(sent, ["status", "sent_at", "esp_message_id", "claimed_until", "attempts"])
            else:
                rows.filter(pk__in=[d.pk for d in sent]).update(
                    status=Delivery.Status.SENT, sent_at=now, claimed_until=None, attempts=F("attempts") + 1
                )
        for status, outcomes in ((Delivery.Status.SUPPRESSED, self.suppressed), (Delivery.Status.FAILED, self.failed)):
            for delivery, reason in outcomes:
                delivery.status, delivery.reason, delivery.claimed_until = status, reason, None
                delivery.attempts += 1
            Delivery.objects.bulk_update([d for d, _ in outcomes], ["status", "reason", "claimed_until", "attempts"])
        for delivery in self.retry:
            # Left claimed with a short lease: reclaim_stale hands it out again after the backoff.
            backoff = min(300, 2 ** (delivery.attempts + 1))
            rows.filter(pk=delivery.pk).update(claimed_until=now + timedelta(seconds=backoff), attempts=F("attempts") + 1)
        if still_claimed:
            lease = now + timedelta(seconds=settings.MAILROOM_CLAIM_LEASE_SECONDS)
            rows.filter(pk__in=[d.pk for d in still_claimed], status=Delivery.Status.CLAIMED).update(claimed_until=lease)
        Campaign.objects.filter(pk=self.campaign_id).update(
            sent_count=F("sent_count") + len(self.sent),
            failed_count=F("failed_count") + len(self.failed),
            suppressed_count=F("suppressed_count") + len(self.suppressed),
            last_activity_at=now,
        )
        self.sent, self.suppressed, self.failed, self.retry = [], [], [], []


def release(deliveries):
    """Hand claimed rows back (paused or cancelled mid-batch)."""
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries], status=Delivery.Status.CLAIMED).update(
        status=Delivery.Status.PENDING, claimed_until=None
    )


def failure_rate_too_high(campaign_id):
    sent, failed = Campaign.objects.filter(pk=campaign_id).values_list("sent_count", "failed_count").get()
    done = sent + failed
    return done >= settings.MAILROOM_PAUSE_MIN_SAMPLE and failed / done > settings.MAILROOM_PAUSE_FAILURE_RATE


def chunk_size(builder):
    """The builder's natural chunk, but never more than one second of the rate limit."""
    rate = int(settings.MAILROOM_RATE_LIMITS.get(Stream.PROMOTIONAL, 0))
    return max(1, min(builder.chunk_size, rate or builder.chunk_size))


def deliver(campaign, deliveries):
    """Re-check suppression for the batch in hand (invariant 3), then send it in chunks,
    writing outcomes after each so a killed worker can repeat at most one chunk."""
    blocked = policy.blocked({d.contact.email for d in deliveries}, Stream.PROMOTIONAL)
    recorder = Recorder(campaign.pk)
    to_send = []
    for delivery in deliveries:
        channel = blocked.get(delivery.contact.email)
        if channel:
            recorder.suppressed.append((delivery, channel))
        else:
            to_send.append(delivery)
    recorder.flush(still_claimed=to_send)
    if not to_send:
        return
    with mailers["promotional"] as gateway:
        builder = builder_for(campaign, gateway.backend)
        size = chunk_size(builder)
        for start in range(0, len(to_send), size):
            chunk, rest = to_send[start : start + size], to_send[start + size :]
            if not Campaign.objects.filter(pk=campaign.pk, status=Status.SENDING).exists():
                release(to_send[start:])  # paused or cancelled since the batch began
                return
            ratelimit.acquire(Stream.PROMOTIONAL, len(chunk))
            for delivery, outcome in zip(chunk, builder.send(gateway, chunk)):
                recorder.outcome(delivery, outcome)
            last_error = recorder.last_error
            recorder.flush(still_claimed=rest)
            if failure_rate_too_high(campaign.pk):
                pause(campaign.pk, reason=f"Paused automatically: too many failures. Last error: {last_error}")
                release(rest)
                return


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
