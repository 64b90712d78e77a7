"""What became of each delivery, written per chunk in one set-based UPDATE together with
the campaign's counters (which the progress bar reads)."""

import json
import logging
import time
from collections import Counter, defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from campaigns.models import Campaign, Delivery
from config import prepared
from suppression import policy
from suppression.models import Channel, Source

from . import delivery_errors

logger = logging.getLogger(__name__)


def write_outcomes(rows, now, campaign_id):
    """Set status, reason, ESP id and lease for many deliveries in one UPDATE … FROM a row
    source (a JSON array unpacked on PostgreSQL, VALUES on SQLite) and add what was written
    to the campaign's counters, atomically; return where the campaign stands after the
    write: (status, sent_count, failed_count).

    rows: (pk, status, reason, esp_message_id, claimed_until). Django's bulk_update builds a
    CASE per field per row and cost more than the sending itself. A delivery that already
    has an outcome keeps it: a chunk repeated after its lease ran out (a slow worker taken
    for dead) is then neither rewritten nor counted twice in the campaign's counters, which
    the progress bar reads instead of counting a million rows every 2 s.

    With no rows (a batch before its first chunk, none of it suppressed) the standing is
    only read: a write would lock the campaign's row, which every worker's chunk writes,
    and wait for its own WAL flush, to add nothing.
    """
    if not rows:
        return Campaign.objects.filter(pk=campaign_id).values_list("status", "sent_count", "failed_count").get()
    table = Delivery._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    if connection.vendor == "postgresql":
        # The rows as one JSON parameter, unpacked by the server: the statement's text is the
        # same for every chunk, and json.dumps costs a tenth of what the driver spent dumping
        # five arrays (escaping them element by element in Python). The ids also go in as an
        # array, which the planner takes for a few rows. Taking the JSON for the 100 rows it
        # assumes, it scanned a table not yet analyzed after a campaign's snapshot, and the
        # plan kept for the connection went on scanning as the table grew.
        rows_cte = (
            "WITH v(column1, column2, column3, column4, column5) AS MATERIALIZED (SELECT (r->>0)::bigint,"
            " r->>1, r->>2, r->>3, (r->>4)::timestamptz FROM json_array_elements(%s::json) r)"
        )
        source, among = "v", f"AND {table}.id = ANY(ARRAY(SELECT column1 FROM v))"
        rows_json = json.dumps(
            [
                [pk, status, reason, message_id, until and until.isoformat()]
                for pk, status, reason, message_id, until in rows
            ]
        )
        params = [rows_json, adapt(now)]
    else:  # SQLite: VALUES columns are column1…column5; a cast value would become a number
        rows_cte, among = "", ""
        source = f"(VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * len(rows))}) AS v"
        params = [adapt(now)]
        for pk, status, reason, message_id, claimed_until in rows:
            params += [pk, status, reason, message_id, adapt(claimed_until)]
    update = f"""
        UPDATE {table} SET
            status = v.column2, reason = v.column3, esp_message_id = v.column4,
            claimed_until = v.column5, attempts = {table}.attempts + 1,
            sent_at = CASE WHEN v.column2 = 'sent' THEN %s ELSE {table}.sent_at END
        FROM {source}
        WHERE {table}.id = v.column1 {among} AND {table}.status IN (%s, %s)
        RETURNING {table}.status
    """
    params += [Delivery.Status.PENDING, Delivery.Status.CLAIMED]
    counted = (Delivery.Status.SENT, Delivery.Status.FAILED, Delivery.Status.SUPPRESSED)
    counters = f"""
        UPDATE {Campaign._meta.db_table} SET
            sent_count = sent_count + {{}}, failed_count = failed_count + {{}},
            suppressed_count = suppressed_count + {{}}
        WHERE id = %s
        RETURNING status, sent_count, failed_count
    """
    if connection.vendor == "postgresql":
        # One statement, atomic as every statement is: no BEGIN and COMMIT round trips
        # per chunk, and the counters still always agree with the deliveries.
        count = "(SELECT count(*) FROM written WHERE written.status = %s)"
        (row,) = prepared.execute(
            f"{rows_cte}, written AS ({update}) {counters.format(count, count, count)}",
            [*params, *counted, campaign_id],
        ).rows
        return row
    with connection.cursor() as cursor, transaction.atomic():
        written = Counter()
        if rows:
            cursor.execute(update, params)
            written.update(status for (status,) in cursor.fetchall())
        cursor.execute(counters.format("%s", "%s", "%s"), [*(written[status] for status in counted), campaign_id])
        return cursor.fetchone()


class Recorder:
    """Collects what became of each delivery and writes it in one set-based UPDATE."""

    def __init__(self, campaign_id):
        self.campaign_id = campaign_id
        self.rows = []
        self.last_error = ""
        self.unavailable = []  # deliveries the backend could not take (an outage): not attempts
        self.retry_after = None  # seconds the backend asked us to wait, if it said

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
        if kind == delivery_errors.UNAVAILABLE:
            self.unavailable.append(delivery)
            wait = delivery_errors.retry_after(outcome.exception)
            if wait is not None:
                self.retry_after = max(wait, self.retry_after or 0)
            return
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
                delivery.contact.email,
                Channel.UNDELIVERABLE,
                Source.BOUNCE,
                reason=outcome.error[:255],
                actor="send engine",
                campaign_id=self.campaign_id,
            )
        self.add(delivery, Delivery.Status.FAILED, reason)

    def flush(self):
        """Write the outcomes so far, surviving a dropped database connection: the chunk is
        already handed off, and losing its outcomes would send it again. Returns where the
        campaign stands after the write: (status, sent_count, failed_count)."""
        standing = reconnecting(self._write)
        self.rows = []
        return standing

    def _write(self):
        # The returned standing is what the pipeline checks after every chunk: no further round trip.
        return write_outcomes(self.rows, timezone.now(), self.campaign_id)


def reconnecting(work):
    """Run work(); when the database connection drops (a restart, a failover, backends
    terminated), reconnect and run it again, for up to one lease (after that the rows are
    another worker's). work must be safe to repeat: write_outcomes is, since a delivery
    that already has an outcome keeps it. Inside a caller's transaction it cannot be."""
    deadline = time.monotonic() + settings.MAILROOM_CLAIM_LEASE_SECONDS
    while True:
        try:
            return work()
        except (OperationalError, InterfaceError) as error:
            if connection.in_atomic_block or time.monotonic() > deadline:
                raise
            logger.warning("Database connection lost (%s); reconnecting.", str(error).strip())
            connection.close()
            time.sleep(0.5)


def uncount(deliveries):
    """Take deliveries that are being deleted out of their campaigns' counters, so the
    counters keep agreeing with the rows (an erased person, a contact deleted after the
    snapshot). deliveries: (campaign_id, status) pairs, read under a row lock."""
    per_campaign = defaultdict(Counter)
    for campaign_id, status in deliveries:
        per_campaign[campaign_id][status] += 1
    for campaign_id, counts in per_campaign.items():
        # Never below zero: an erasure must not fail on counters that drifted (rows made by hand).
        Campaign.objects.filter(pk=campaign_id).update(
            audience_count=Greatest(F("audience_count") - counts.total(), 0),
            sent_count=Greatest(F("sent_count") - counts[Delivery.Status.SENT], 0),
            failed_count=Greatest(F("failed_count") - counts[Delivery.Status.FAILED], 0),
            suppressed_count=Greatest(F("suppressed_count") - counts[Delivery.Status.SUPPRESSED], 0),
        )
