"""Leases on deliveries. A chain's batch is the next range of the campaign's untouched
pending rows, taken without writing them (take_range): the campaign's `taken_up_to` moves
past it and the chain's row records it, covered by the chain's lease, which its worker
renews while it works (chains.Keeper). Rows below `taken_up_to` that are still pending
(a dead chain's batch, rows handed back, retried or released from an A/B test) are claimed
row by row with SKIP LOCKED and a lease of their own (lease_rows); rows whose lease ran
out (their worker died) go back to pending. Nothing here assumes a single worker.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from campaigns.models import Campaign, Contact, Delivery, SendChain
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


def claim(campaign_id, size, slot=None):
    """Lease up to `size` pending deliveries to this worker; returns them as Claimed rows, in
    id order. A chain (`slot`) on PostgreSQL takes the next range of untouched rows
    (take_range); when none are left, or without a chain (tests, scripts), rows are claimed
    one by one: the lowest above the last this process claimed (_claimed_up_to), or the
    lowest of all when there are none above it.
    """
    rows = take_range(campaign_id, size, slot) if slot is not None and connection.vendor == "postgresql" else []
    if not rows:
        after = _claimed_up_to.get(campaign_id, 0)
        rows = lease_rows(campaign_id, size, after, slot)
        if not rows and after:
            rows = lease_rows(campaign_id, size, 0, slot)
        if rows:
            _claimed_up_to[campaign_id] = rows[-1][0]
        else:
            _claimed_up_to.pop(campaign_id, None)
    deliveries = [claimed_row(row) for row in rows]
    orphans = [delivery for delivery in deliveries if delivery.contact is None]
    if orphans:
        drop_orphans(campaign_id, {delivery.pk for delivery in orphans})
    return [delivery for delivery in deliveries if delivery.contact is not None]


def take_range(campaign_id, size, slot):
    """The chain's next batch: up to `size` pending rows above the campaign's `taken_up_to`,
    which moves past them, recorded on the chain as its range (none: the chain's range is
    cleared). CLAIMED_COLUMNS rows, in id order.

    One statement, and no delivery written: a claim that set each row's status and lease
    cost 12–13 µs of PostgreSQL's CPU per row, this one 3–4.5 (measured on one connection,
    batches of 500). The campaign's row, locked first, makes chains take their ranges one
    after another; a row claim (lease_rows) never looks above `taken_up_to` as it was when
    its statement began, so it cannot take a range being handed out meanwhile.
    """
    table, contacts = Delivery._meta.db_table, Contact._meta.db_table
    campaigns, chains = Campaign._meta.db_table, SendChain._meta.db_table
    return prepared.execute(
        f"""
        WITH mark AS (SELECT taken_up_to FROM {campaigns} WHERE id = %(campaign)s FOR UPDATE),
        picked AS (
            SELECT id FROM {table}
            WHERE campaign_id = %(campaign)s AND status = '{Delivery.Status.PENDING}'
                AND id > (SELECT taken_up_to FROM mark)
            ORDER BY id LIMIT %(size)s
        ),
        bounds AS (SELECT min(id) AS low, max(id) AS high FROM picked),
        moved AS (
            UPDATE {campaigns} SET taken_up_to = bounds.high FROM bounds
            WHERE {campaigns}.id = %(campaign)s AND bounds.high IS NOT NULL
        ),
        held AS (
            UPDATE {chains} SET range_from = bounds.low, range_to = bounds.high FROM bounds
            WHERE campaign_id = %(campaign)s AND slot = %(slot)s
        )
        SELECT {CLAIMED_COLUMNS} FROM picked JOIN {table} d ON d.id = picked.id
        LEFT JOIN {contacts} c ON c.id = d.contact_id ORDER BY d.id
        """,
        {"campaign": campaign_id, "size": size, "slot": slot},
    ).rows


def lease_rows(campaign_id, size, after, slot=None):
    """Lease up to `size` pending deliveries with an id above `after`, each with a lease of
    its own; their CLAIMED_COLUMNS rows, in id order. Never a row in another chain's range
    while that chain's lease runs; for a chain, never one above the campaign's `taken_up_to`
    (take_range hands those out).

    On PostgreSQL one statement: the UPDATE … WHERE id = ANY(ARRAY(SELECT … FOR UPDATE SKIP
    LOCKED)) in a WITH, its rows joined to their contacts. The ARRAY makes the pick one
    InitPlan whose ids are probed in the primary key: as `id IN (SELECT …)`, with the
    statistics of a just-imported audience, the planner hash-joined the pick against a scan
    of every delivery and every contact, 20 ms a claim of 500 instead of 7. SQLite (one
    worker, no row locks to skip, no UPDATE inside WITH, no ranges) runs the UPDATE, then
    the join.
    """
    lease = connection.ops.adapt_datetimefield_value(lease_end())
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    table, contacts, chains = Delivery._meta.db_table, Contact._meta.db_table, SendChain._meta.db_table
    # The statuses are written into the text: a prepared statement's generic plan could not
    # use the partial index on pending rows for a `status = $n` it cannot see.
    pending = (
        f"SELECT p.id FROM {table} p WHERE p.campaign_id = %s AND p.status = '{Delivery.Status.PENDING}' "
        f"AND p.id > %s AND NOT EXISTS (SELECT 1 FROM {chains} s WHERE s.campaign_id = p.campaign_id "
        "AND s.slot <> %s AND s.lease_until > %s AND p.id BETWEEN s.range_from AND s.range_to)"
    )
    params = [lease, campaign_id, after, -1 if slot is None else slot, now]
    if slot is not None and connection.vendor == "postgresql":
        pending += f" AND p.id <= (SELECT taken_up_to FROM {Campaign._meta.db_table} WHERE id = %s)"
        params.append(campaign_id)
    pending += " ORDER BY p.id LIMIT %s"
    params.append(size)
    update = f"UPDATE {table} SET status = '{Delivery.Status.CLAIMED}', claimed_until = %s WHERE id {{among}}"
    joined = f"SELECT {CLAIMED_COLUMNS} FROM {{rows}} LEFT JOIN {contacts} c ON c.id = d.contact_id"
    if connection.vendor == "postgresql":  # one statement is atomic: no BEGIN and COMMIT round trips
        rows = prepared.execute(
            f"WITH d AS ({update.format(among=f'= ANY(ARRAY({pending} FOR UPDATE OF p SKIP LOCKED))')} "
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
    """Put off rows in hand without spending an attempt: each (delivery, seconds) is claimed
    until then (a row of a chain's range gets a lease of its own), when reclaim_stale hands
    it out again. One UPDATE … FROM (VALUES …)."""
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
            UPDATE {table} SET status = %s, claimed_until = {until}
            FROM (VALUES {", ".join(["(%s, %s)"] * len(later))}) AS v
            WHERE {table}.id = v.column1 AND {table}.status IN (%s, %s)
            """,
            [Delivery.Status.CLAIMED, *params, Delivery.Status.PENDING, Delivery.Status.CLAIMED],
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
