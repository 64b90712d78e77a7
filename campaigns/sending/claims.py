"""Leases on deliveries: workers claim batches with SKIP LOCKED and renew the lease while
they work (chains.Keeper); rows whose lease ran out (their worker died) go back to pending.
Nothing here assumes a single worker."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from campaigns.models import Contact, Delivery
from config import prepared

from .outcomes import uncount

logger = logging.getLogger(__name__)

# Per campaign, the highest id this process last claimed: its next claim scans the pending
# rows above it. The partial index on pending rows keeps an entry for every row claimed
# since the table's last VACUUM, and a scan from the campaign's first id walked them all: a
# claim of 500 took 8 ms of PostgreSQL's CPU at the start of a 40,000-row campaign and 29 ms
# at its end. Rows handed back below the mark (released, reclaimed) are still claimed: this
# process's release or reclaim forgets its marks, and a claim that finds nothing above its
# mark scans again from the first id.
_claimed_up_to = {}


@dataclass(slots=True)
class Recipient:
    """The contact fields sending reads (merge fields, the address and its keyed hash)."""

    email: str
    email_hash: str
    first_name: str
    last_name: str


@dataclass(slots=True)
class Claimed:
    """A claimed delivery as sending reads it. Plain rows, not model instances: building
    500 Delivery and Contact objects per batch cost the workers more than the claim itself."""

    pk: int
    contact_id: int
    attempts: int
    variant_id: int | None
    contact: Recipient | None  # None: the contact was deleted after the snapshot read it


# Claimed's fields, from the delivery `d` and its contact `c` (LEFT JOIN: see drop_orphans).
CLAIMED_COLUMNS = "d.id, d.contact_id, d.attempts, d.variant_id, c.email, c.email_hash, c.first_name, c.last_name"


def claimed_row(row):
    pk, contact_id, attempts, variant_id, email, *rest = row
    # A contact's email is never NULL: NULL here is the LEFT JOIN finding no contact.
    return Claimed(pk, contact_id, attempts, variant_id, Recipient(email, *rest) if email is not None else None)


def among(ids):
    """pk in `ids`: on PostgreSQL as one array parameter, since the driver spent longer
    building a statement of 500 placeholders than the server spent on the lookup."""
    ids = list(ids)
    if connection.vendor == "postgresql":
        return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids]))
    return Q(pk__in=ids)


def reclaim_stale(campaign_id):
    """Claims whose lease ran out (their worker died) go back to pending."""
    reclaimed = Delivery.objects.filter(
        campaign_id=campaign_id, status=Delivery.Status.CLAIMED, claimed_until__lt=timezone.now()
    ).update(status=Delivery.Status.PENDING, claimed_until=None)
    if reclaimed:
        _claimed_up_to.pop(campaign_id, None)
    return reclaimed


def lease_end():
    return timezone.now() + timedelta(seconds=settings.MAILROOM_CLAIM_LEASE_SECONDS)


def claim(campaign_id, size):
    """Lease up to `size` pending deliveries to this worker (SKIP LOCKED: workers never
    collide); returns them as Claimed rows, in id order: the lowest above the last this
    process claimed (_claimed_up_to), or the lowest of all when there are none above it.
    """
    after = _claimed_up_to.get(campaign_id, 0)
    rows = lease_rows(campaign_id, size, after)
    if not rows and after:
        rows = lease_rows(campaign_id, size, 0)
    if rows:
        _claimed_up_to[campaign_id] = rows[-1][0]
    else:
        _claimed_up_to.pop(campaign_id, None)
    deliveries = [claimed_row(row) for row in rows]
    orphans = [delivery for delivery in deliveries if delivery.contact is None]
    if orphans:
        drop_orphans(campaign_id, {delivery.pk for delivery in orphans})
    return [delivery for delivery in deliveries if delivery.contact is not None]


def lease_rows(campaign_id, size, after):
    """Lease up to `size` pending deliveries with an id above `after`; their CLAIMED_COLUMNS
    rows, in id order.

    On PostgreSQL one statement: the UPDATE … WHERE id = ANY(ARRAY(SELECT … FOR UPDATE SKIP
    LOCKED)) in a WITH, its rows joined to their contacts. The ARRAY makes the pick one
    InitPlan whose ids are probed in the primary key: as `id IN (SELECT …)`, with the
    statistics of a just-imported audience, the planner hash-joined the pick against a scan
    of every delivery and every contact, 20 ms a claim of 500 instead of 7. SQLite (one
    worker, no row locks to skip, no UPDATE inside WITH) runs the UPDATE, then the join.
    """
    lease = connection.ops.adapt_datetimefield_value(lease_end())
    table, contacts = Delivery._meta.db_table, Contact._meta.db_table
    # The statuses are written into the text: a prepared statement's generic plan could not
    # use the partial index on pending rows for a `status = $n` it cannot see.
    pending = (
        f"SELECT id FROM {table} WHERE campaign_id = %s AND status = '{Delivery.Status.PENDING}' AND id > %s "
        "ORDER BY id LIMIT %s"
    )
    update = f"UPDATE {table} SET status = '{Delivery.Status.CLAIMED}', claimed_until = %s WHERE id {{among}}"
    params = [lease, campaign_id, after, size]
    joined = f"SELECT {CLAIMED_COLUMNS} FROM {{rows}} LEFT JOIN {contacts} c ON c.id = d.contact_id"
    if connection.vendor == "postgresql":  # one statement is atomic: no BEGIN and COMMIT round trips
        rows = prepared.execute(
            f"WITH d AS ({update.format(among=f'= ANY(ARRAY({pending} FOR UPDATE SKIP LOCKED))')} "
            f"RETURNING id, contact_id, attempts, variant_id) {joined.format(rows='d')} ORDER BY d.id",
            params,
        ).rows
    else:
        with connection.cursor() as cursor, transaction.atomic():
            cursor.execute(f"{update.format(among=f'IN ({pending})')} RETURNING id", params)
            ids = [pk for (pk,) in cursor.fetchall()]
            cursor.execute(
                f"{joined.format(rows=f'{table} d')} WHERE d.id IN ({', '.join(['%s'] * len(ids)) or 'NULL'}) "
                "ORDER BY d.id",
                ids,
            )
            rows = cursor.fetchall()
    return rows


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
    if deliveries:  # every batch asks, with nothing to hand back unless the warm-up binds
        Delivery.objects.filter(among(d.pk for d in deliveries), status=Delivery.Status.CLAIMED).update(
            status=Delivery.Status.PENDING, claimed_until=None
        )
        _claimed_up_to.clear()  # the rows' campaign is not at hand, and this is rare


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
