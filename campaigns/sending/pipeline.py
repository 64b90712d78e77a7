"""The send pipeline: freeze → snapshot → claim → personalise → hand off to the gateway.

Tasks, admin views and commands all call these functions. Nothing here renders a
page per recipient (DESIGN invariant 5) or assumes a single worker (invariant 6).
"""

import logging
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.core.mail import mailers
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from cms.rendering import freeze as freeze_page
from suppression import policy
from suppression.models import Channel, Source, Stream

from . import checklist, delivery_errors, ratelimit
from .builders import builder_for
from .models import Campaign, Delivery
from .targeting import recipients
from .web_version import web_version_url

logger = logging.getLogger(__name__)
Status = Campaign.Status


class CampaignStateError(Exception):
    """A lifecycle change that the campaign's current status does not allow."""


def schedule(campaign, when=None):
    """Mark a draft (or re-time a scheduled) campaign to start at `when` (default: now).

    Refused while the pre-send checklist (campaigns.checklist) reports problems.
    """
    problems = checklist.check(campaign).problems
    if problems:
        raise CampaignStateError("Not ready to send: " + " ".join(problems))
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
    frozen = freeze_page(campaign.page.specific, utm=campaign.utm(), web_url=web_version_url(campaign))
    campaign.frozen_subject = frozen.subject
    campaign.frozen_html = frozen.html
    campaign.frozen_text = frozen.text
    campaign.frozen_from_email = frozen.from_email
    campaign.frozen_reply_to = frozen.reply_to
    campaign.save(
        update_fields=["frozen_subject", "frozen_html", "frozen_text", "frozen_from_email", "frozen_reply_to"]
    )


def snapshot(campaign):
    """Targeted contacts → Delivery rows in one set-based INSERT … SELECT; blocked ones are
    written as suppressed with their reason in the same statement."""
    targeted, params = recipients(campaign).values("id", "email_hash").query.sql_with_params()
    blocked, blocked_params = policy.blocking_channels(Stream.PROMOTIONAL).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Delivery._meta.db_table}
                (campaign_id, contact_id, email_hash, status, reason, attempts, esp_message_id)
            SELECT %s, targeted.id, targeted.email_hash,
                   CASE WHEN blocked.blocked_by IS NULL THEN %s ELSE %s END,
                   COALESCE(blocked.blocked_by, ''), 0, ''
            FROM ({targeted}) AS targeted
            LEFT JOIN ({blocked}) AS blocked ON blocked.address_hash = targeted.email_hash
            WHERE true  -- SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
            ON CONFLICT DO NOTHING
            """,
            [campaign.pk, Delivery.Status.PENDING, Delivery.Status.SUPPRESSED, *params, *blocked_params],
        )
    counts = Delivery.objects.filter(campaign=campaign).aggregate(
        audience=Count("pk"), suppressed=Count("pk", filter=Q(status=Delivery.Status.SUPPRESSED))
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        audience_count=counts["audience"], suppressed_count=counts["suppressed"]
    )


def reclaim_stale(campaign_id):
    """Claims whose lease ran out (their worker died) go back to pending."""
    return Delivery.objects.filter(
        campaign_id=campaign_id, status=Delivery.Status.CLAIMED, claimed_until__lt=timezone.now()
    ).update(status=Delivery.Status.PENDING, claimed_until=None)


def claim(campaign_id, size):
    """Lease up to `size` pending deliveries to this worker (SKIP LOCKED: workers never collide).

    One UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) … RETURNING, so the claim
    is a single round trip; SQLite (one worker) has no row locks to skip.
    """
    lease = timezone.now() + timedelta(seconds=settings.MAILROOM_CLAIM_LEASE_SECONDS)
    table = Delivery._meta.db_table
    skip_locked = "FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET status = %s, claimed_until = %s
            WHERE id IN (
                SELECT id FROM {table} WHERE campaign_id = %s AND status = %s
                ORDER BY id LIMIT %s {skip_locked}
            )
            RETURNING id
            """,
            [Delivery.Status.CLAIMED, connection.ops.adapt_datetimefield_value(lease), campaign_id,
             Delivery.Status.PENDING, size],
        )
        ids = [row[0] for row in cursor.fetchall()]
    deliveries = list(Delivery.objects.filter(pk__in=ids).select_related("contact").order_by("pk"))
    if len(deliveries) < len(ids):
        drop_orphans(campaign_id, set(ids) - {delivery.pk for delivery in deliveries})
    return deliveries


def drop_orphans(campaign_id, ids):
    """Deliveries whose contact was deleted after the snapshot read it (Delivery has no
    database foreign key): nothing to send, so they leave the campaign and its count."""
    Delivery.objects.filter(pk__in=ids).delete()
    logger.info("Campaign %s: dropped %s deliveries whose contact was deleted.", campaign_id, len(ids))
    Campaign.objects.filter(pk=campaign_id).update(audience_count=F("audience_count") - len(ids))


def write_outcomes(rows, now):
    """Set status, reason, ESP id and lease for many deliveries in one UPDATE … FROM (VALUES …);
    return how many rows each status was written to.

    rows: (pk, status, reason, esp_message_id, claimed_until). Django's bulk_update builds a
    CASE per field per row and cost more than the sending itself. A delivery that already
    has an outcome keeps it: a chunk repeated after its lease ran out (a slow worker taken
    for dead) is then neither rewritten nor counted twice in the campaign's counters.
    """
    if not rows:
        return Counter()
    table = Delivery._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    params = [adapt(now)]
    for pk, status, reason, message_id, claimed_until in rows:
        params += [pk, status, reason, message_id, adapt(claimed_until)]
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
    # An all-NULL column has no type on PostgreSQL; SQLite would turn a cast value into a number.
    lease = "CAST(v.column5 AS timestamptz)" if connection.vendor == "postgresql" else "v.column5"
    # VALUES columns are column1…column5 on both PostgreSQL and SQLite.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET
                status = v.column2, reason = v.column3, esp_message_id = v.column4,
                claimed_until = {lease}, attempts = {table}.attempts + 1,
                sent_at = CASE WHEN v.column2 = 'sent' THEN %s ELSE {table}.sent_at END
            FROM (VALUES {values}) AS v
            WHERE {table}.id = v.column1 AND {table}.status IN (%s, %s)
            RETURNING {table}.status
            """,
            [*params, Delivery.Status.PENDING, Delivery.Status.CLAIMED],
        )
        return Counter(status for (status,) in cursor.fetchall())


class Recorder:
    """Collects what became of each delivery and writes it in one set-based UPDATE."""

    def __init__(self, campaign_id):
        self.campaign_id = campaign_id
        self.rows = []
        self.last_error = ""

    def add(self, delivery, status, reason="", message_id="", claimed_until=None):
        self.rows.append((delivery.pk, status, reason[:255], message_id, claimed_until))

    def outcome(self, delivery, outcome):
        if outcome.dropped:
            self.add(delivery, Delivery.Status.SUPPRESSED, next(iter(outcome.dropped.values())))
        elif outcome.sent:
            self.add(delivery, Delivery.Status.SENT, message_id=outcome.message_id)
        else:
            self.error(delivery, outcome)

    def error(self, delivery, outcome):
        self.last_error = outcome.error
        kind = delivery_errors.classify(outcome.exception)
        if kind == delivery_errors.TRANSIENT and delivery.attempts + 1 < settings.MAILROOM_MAX_ATTEMPTS:
            # Left claimed with a short lease: reclaim_stale hands it out again after the backoff.
            backoff = timedelta(seconds=min(300, 2 ** (delivery.attempts + 1)))
            self.add(delivery, Delivery.Status.CLAIMED, outcome.error, claimed_until=timezone.now() + backoff)
            return
        reason = outcome.error
        if kind == delivery_errors.TRANSIENT:
            reason = f"gave up after {delivery.attempts + 1} attempts: {outcome.error}"
        elif kind == delivery_errors.MAILBOX:
            policy.record_opt_out(
                delivery.contact.email, Channel.UNDELIVERABLE, Source.BOUNCE,
                reason=outcome.error[:255], actor="send engine", campaign_id=self.campaign_id,
            )
        self.add(delivery, Delivery.Status.FAILED, reason)

    def flush(self, still_claimed=()):
        """Write the outcomes so far; extend the lease of the batch's rows not yet sent."""
        now = timezone.now()
        # One transaction, so the campaign's counters always agree with its deliveries: the
        # progress bar reads the counters instead of counting a million rows every 2 s.
        with transaction.atomic():
            written = write_outcomes(self.rows, now)
            if still_claimed:
                lease = now + timedelta(seconds=settings.MAILROOM_CLAIM_LEASE_SECONDS)
                Delivery.objects.filter(
                    pk__in=[d.pk for d in still_claimed], status=Delivery.Status.CLAIMED
                ).update(claimed_until=lease)
            Campaign.objects.filter(pk=self.campaign_id).update(
                sent_count=F("sent_count") + written[Delivery.Status.SENT],
                failed_count=F("failed_count") + written[Delivery.Status.FAILED],
                suppressed_count=F("suppressed_count") + written[Delivery.Status.SUPPRESSED],
                last_activity_at=now,
            )
        self.rows = []


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
    blocked = policy.blocked_by_hash([d.contact.email_hash for d in deliveries], Stream.PROMOTIONAL)
    recorder = Recorder(campaign.pk)
    to_send = []
    for delivery in deliveries:
        channel = blocked.get(delivery.contact.email_hash)
        if channel:
            recorder.add(delivery, Delivery.Status.SUPPRESSED, channel)
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
        if not retried:
            return 0
        # The failure-rate guard reads failed_count: retried deliveries are no longer failures.
        reopened = {"status": Status.SENDING, "finished_at": None} if campaign.status == Status.SENT else {}
        Campaign.objects.filter(pk=campaign_id).update(
            failed_count=Greatest(F("failed_count") - retried, 0), last_activity_at=timezone.now(), **reopened
        )
    return retried
