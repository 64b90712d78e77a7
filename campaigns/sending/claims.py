"""Leases on deliveries: workers claim batches with SKIP LOCKED and renew the lease while
they work (chains.Keeper); rows whose lease ran out (their worker died) go back to pending.
Nothing here assumes a single worker."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from campaigns.models import Delivery

from .outcomes import uncount

logger = logging.getLogger(__name__)


# What sending a delivery reads: the rest of a Contact (its JSON, postal address, dates)
# cost more to load than to send the message.
SENDING_FIELDS = [
    *(field.name for field in Delivery._meta.concrete_fields),
    *(f"contact__{name}" for name in ("email", "email_hash", "first_name", "last_name")),
]


def among(ids):
    """pk in `ids`: on PostgreSQL as one array parameter, since the driver spent longer
    building a statement of 500 placeholders than the server spent on the lookup."""
    ids = list(ids)
    if connection.vendor == "postgresql":
        return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids]))
    return Q(pk__in=ids)


def reclaim_stale(campaign_id):
    """Claims whose lease ran out (their worker died) go back to pending."""
    return Delivery.objects.filter(
        campaign_id=campaign_id, status=Delivery.Status.CLAIMED, claimed_until__lt=timezone.now()
    ).update(status=Delivery.Status.PENDING, claimed_until=None)


def lease_end():
    return timezone.now() + timedelta(seconds=settings.MAILROOM_CLAIM_LEASE_SECONDS)


def claim(campaign_id, size):
    """Lease up to `size` pending deliveries to this worker (SKIP LOCKED: workers never collide).

    One UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) … RETURNING, so the claim
    is a single round trip; SQLite (one worker) has no row locks to skip.
    """
    lease = lease_end()
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
            [
                Delivery.Status.CLAIMED,
                connection.ops.adapt_datetimefield_value(lease),
                campaign_id,
                Delivery.Status.PENDING,
                size,
            ],
        )
        ids = [row[0] for row in cursor.fetchall()]
    deliveries = list(
        Delivery.objects.filter(among(ids)).select_related("contact", "variant").only(*SENDING_FIELDS).order_by("pk")
    )
    if len(deliveries) < len(ids):
        drop_orphans(campaign_id, set(ids) - {delivery.pk for delivery in deliveries})
    return deliveries


def drop_orphans(campaign_id, ids):
    """Deliveries whose contact was deleted after the snapshot read it (Delivery has no
    database foreign key): nothing to send, so they leave the campaign and its count."""
    with transaction.atomic():
        Delivery.objects.filter(pk__in=ids).delete()
        uncount([(campaign_id, Delivery.Status.CLAIMED)] * len(ids))
    logger.info("Campaign %s: dropped %s deliveries whose contact was deleted.", campaign_id, len(ids))


def renew(deliveries):
    """Extend the lease of the rows a worker still holds (not those written meanwhile)."""
    if deliveries:
        Delivery.objects.filter(among(d.pk for d in deliveries), status=Delivery.Status.CLAIMED).update(
            claimed_until=lease_end()
        )


def release(deliveries):
    """Hand claimed rows back (paused or cancelled mid-batch, or the backend unavailable)."""
    Delivery.objects.filter(among(d.pk for d in deliveries), status=Delivery.Status.CLAIMED).update(
        status=Delivery.Status.PENDING, claimed_until=None
    )


def defer(later):
    """Put off claimed rows without spending an attempt: each (delivery, seconds) stays
    claimed until then, when reclaim_stale hands it out again. One UPDATE … FROM (VALUES …)."""
    if not later:
        return
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    params = []
    for delivery, seconds in later:
        params += [delivery.pk, adapt(now + timedelta(seconds=seconds))]
    table = Delivery._meta.db_table
    until = "CAST(v.column2 AS timestamptz)" if connection.vendor == "postgresql" else "v.column2"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET claimed_until = {until}
            FROM (VALUES {", ".join(["(%s, %s)"] * len(later))}) AS v
            WHERE {table}.id = v.column1 AND {table}.status = %s
            """,
            [*params, Delivery.Status.CLAIMED],
        )


def next_due_in(campaign_id):
    """Seconds until the campaign's next claimed row comes free (put off, or its lease ends), or None."""
    until = (
        Delivery.objects.filter(campaign_id=campaign_id, status=Delivery.Status.CLAIMED)
        .order_by("claimed_until")
        .values_list("claimed_until", flat=True)
        .first()
    )
    return None if until is None else max(0.0, (until - timezone.now()).total_seconds())
