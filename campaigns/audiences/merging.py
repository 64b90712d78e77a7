"""Merge staged import rows into contacts and an audience, one chunk at a time, set-based.

Each chunk of good rows goes into a temporary staging table (PostgreSQL COPY; executemany
elsewhere), then a few statements update existing contacts (only the mapped fields, never
with a blank), create new ones (INSERT … ON CONFLICT DO NOTHING on the case-insensitive
address) and join the audience. A dry run runs counting queries instead, so nothing is
written and its counts are exact.

On PostgreSQL a chunk's SQL runs in a helper thread while the caller validates the next
chunk in Python, and outside a transaction two chunks merge at once, each on its own
connection: Python and two server processes work side by side.
The suppression ledger is only read (through suppression.policy), never written.
"""

import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from queue import SimpleQueue

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.utils import timezone

from campaigns.models import Contact, Membership
from suppression import policy
from suppression.models import Stream

TEXT_FIELDS = [
    "first_name",
    "last_name",
    "external_id",
    "company",
    "country",
    "language",
    "postal_address",
    "consent_basis",
    "consent_source",
]
CONTACT_COLUMNS = ["email", "email_hash", *TEXT_FIELDS, "tags", "attributes", "consent_date"]
STAGING = "campaigns_import_staging"
COUNTS = ("created", "updated", "unchanged", "suppressed")

_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows):
    """Rows in COPY's text format (much faster than per-value adaptation for a million rows).

    Most chunks are plain text with nothing to escape: joined whole and checked once
    (every tab a separator, every line break a row end, no backslash or carriage return).
    """
    try:
        text = "\n".join(map("\t".join, rows))
    except TypeError:  # a None or a date among the values
        text = None
    width = len(rows[0]) if rows else 0
    if (
        text is None
        or text.count("\t") != len(rows) * (width - 1)
        or text.count("\n") != len(rows) - 1
        or "\\" in text
        or "\r" in text
    ):
        return "".join(map(copy_line, rows))
    return text + "\n"


def copy_line(values):
    """One row in COPY's text format, each value escaped as it needs."""
    return (
        "\t".join(
            "\\N"
            if value is None
            else (value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value)
            if isinstance(value, str)
            else str(value)
            for value in values
        )
        + "\n"
    )


class Merger:
    """`with Merger(columns, audience, update_fields, dry_run) as m: m.add(rows)…`; then `m.counts`."""

    def __init__(self, columns, audience, update_fields, dry_run):
        self.columns = columns
        self.audience = audience
        self.update_fields = update_fields
        self.dry_run = dry_run
        self.postgres = connection.vendor == "postgresql"
        self.json = "jsonb" if self.postgres else "text"
        self.counts = dict.fromkeys(COUNTS, 0)
        self.now = connection.ops.adapt_datetimefield_value(timezone.now())
        self.blocked = policy.blocked_hashes(Stream.PROMOTIONAL).query.sql_with_params()
        self.pending = deque()
        self.extra = None

    def __enter__(self):
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")
            self._create_staging(cursor)
        if self.postgres:
            # The helper threads' cursors: the caller's connection (and any transaction it is
            # in), and outside a transaction a second connection, so that two chunks merge at
            # once on two server processes. Chunks never share an address (duplicates inside
            # the file are dropped before), so they write disjoint rows, and each inserts in
            # address order, so two merges wait on each other at most, never deadlock.
            cursors = [connection.connection.cursor()]
            if not connection.in_atomic_block:
                self.extra = connections.create_connection(DEFAULT_DB_ALIAS)
                self.extra.ensure_connection()
                cursors.append(self.extra.connection.cursor())
                self._create_staging(cursors[-1])
            self.lanes = SimpleQueue()
            for cursor in cursors:
                self.lanes.put(cursor)
            self.width = len(cursors)
            self.thread = ThreadPoolExecutor(max_workers=self.width, thread_name_prefix="import-merge")
        return self

    def _create_staging(self, cursor):
        types = {"tags": self.json, "attributes": self.json, "consent_date": "timestamptz" if self.postgres else "text"}
        columns = ", ".join(f"{c} {types.get(c, 'text')}" for c in self.columns)
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGING} ({columns})")

    def add(self, rows, merged=None):
        """Merge a chunk of rows; `merged()`, if given, is called on this thread once it is in."""
        if not self.postgres:
            with connection.cursor() as cursor:
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(f"INSERT INTO {STAGING} VALUES ({marks})", rows)
                self._done(self.merge(cursor, len(rows)), merged)
            return
        text = copy_text(rows)  # Python work, done here while the threads run SQL
        if len(self.pending) == self.width:
            future, earlier = self.pending.popleft()
            self._done(future.result(), earlier)
        self.pending.append((self.thread.submit(self._copy_and_merge, text, len(rows)), merged))

    def __exit__(self, exc_type, *exc):
        failed = exc_type is not None
        try:
            if self.postgres:
                try:
                    # every chunk handed over finishes (or fails) before its connection goes
                    wait([future for future, _ in self.pending])
                    errors = [future.exception() for future, _ in self.pending if future.exception()]
                    if errors and not failed:
                        failed = True
                        raise errors[0]  # the earliest chunk's; with an error under way, that one stands
                    if not failed:  # a failed import is neither counted nor told on, only reported
                        for future, merged in self.pending:
                            self._done(future.result(), merged)
                finally:
                    self.thread.shutdown()
                    while not self.lanes.empty():
                        self.lanes.get().close()
                    if self.extra is not None:
                        self.extra.close()  # its temporary table goes with it
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")
            except DatabaseError:
                # After a failure (the connection lost, say) the import's own error says more;
                # a temporary table ends with its session anyway.
                if not failed:
                    raise

    def _copy_and_merge(self, text, size):
        cursor = self.lanes.get()
        try:
            with cursor.copy(f"COPY {STAGING} ({', '.join(self.columns)}) FROM STDIN") as copy:
                copy.write(text)
            return self.merge(cursor, size)
        finally:
            self.lanes.put(cursor)

    def merge(self, cursor, size):
        """Merge the staged chunk of `size` rows; returns its counts."""
        created, updated = (self._count if self.dry_run else self._write)(cursor, size)
        blocked_sql, blocked_params = self.blocked
        cursor.execute(f"SELECT count(*) FROM {STAGING} WHERE email_hash IN ({blocked_sql})", list(blocked_params))
        suppressed = cursor.fetchone()[0]
        cursor.execute(f"{'TRUNCATE' if self.postgres else 'DELETE FROM'} {STAGING}")
        return {"created": created, "updated": updated, "unchanged": size - created - updated, "suppressed": suppressed}

    def _write(self, cursor, size):
        contact, membership = Contact._meta.db_table, Membership._meta.db_table
        updated = 0
        if self.update_fields:
            sets, changed = self._update_terms()
            cursor.execute(
                f"UPDATE {contact} AS c SET {', '.join(sets)}, updated_at = %s FROM {STAGING} AS s "
                f"WHERE lower(c.email) = lower(s.email) AND ({' OR '.join(changed)})",
                [self.now],
            )
            updated = cursor.rowcount
        defaults = {
            "tags": f"CAST('[]' AS {self.json})",
            "attributes": f"CAST('{{}}' AS {self.json})",
            "consent_date": "NULL",
        }
        values = [column if column in self.columns else defaults.get(column, "''") for column in CONTACT_COLUMNS]
        insert_contacts = (
            f"INSERT INTO {contact} ({', '.join(CONTACT_COLUMNS)}, created_at, updated_at) "
            f"SELECT {', '.join(values)}, %s, %s FROM {STAGING} WHERE true ORDER BY lower(email) ON CONFLICT DO NOTHING"
        )
        if self.postgres:  # new contacts join the audience straight from RETURNING: no lookup
            cursor.execute(
                f"WITH new AS ({insert_contacts} RETURNING id) "
                f"INSERT INTO {membership} (audience_id, contact_id, added_at) SELECT %s, id, %s FROM new ORDER BY id",
                [self.now, self.now, self.audience.pk, self.now],
            )
        else:
            cursor.execute(insert_contacts, [self.now, self.now])
        created = cursor.rowcount
        if created < size or not self.postgres:
            # Existing contacts: a correlated lookup probes the case-insensitive unique index
            # per staged row instead of the planner hashing every contact for each chunk.
            cursor.execute(
                f"INSERT INTO {membership} (audience_id, contact_id, added_at) "
                f"SELECT %s, found.id, %s FROM (SELECT (SELECT c.id FROM {contact} AS c "
                f"WHERE lower(c.email) = lower(s.email)) AS id FROM {STAGING} AS s) AS found "
                f"WHERE found.id IS NOT NULL ORDER BY found.id ON CONFLICT DO NOTHING",
                [self.audience.pk, self.now],
            )
        return created, updated

    def _count(self, cursor, size):
        """The dry run: what _write would do, counted, nothing written."""
        contact = Contact._meta.db_table
        cursor.execute(
            f"SELECT count(*) FROM {STAGING} AS s WHERE EXISTS "
            f"(SELECT 1 FROM {contact} AS c WHERE lower(c.email) = lower(s.email))"
        )
        existing = cursor.fetchone()[0]
        updated = 0
        if self.update_fields:
            _, changed = self._update_terms()
            cursor.execute(
                f"SELECT count(*) FROM {contact} AS c JOIN {STAGING} AS s ON lower(c.email) = lower(s.email) "
                f"WHERE {' OR '.join(changed)}"
            )
            updated = cursor.fetchone()[0]
        return size - existing, updated

    def _done(self, counts, merged):
        for name, count in counts.items():
            self.counts[name] += count
        if merged is not None:
            merged()

    def _update_terms(self):
        """SET clauses and "would change" tests: a blank cell never overwrites what we hold."""
        sets, changed = [], []
        for field in self.update_fields:
            if field == "attributes":
                merged = "c.attributes || s.attributes" if self.postgres else "json_patch(c.attributes, s.attributes)"
                sets.append(f"attributes = {merged}")
                changed.append(f"{merged} <> {'c.attributes' if self.postgres else 'json(c.attributes)'}")
            elif field == "consent_date":
                sets.append("consent_date = COALESCE(s.consent_date, c.consent_date)")
                changed.append(
                    "(s.consent_date IS NOT NULL AND (c.consent_date IS NULL OR c.consent_date <> s.consent_date))"
                )
            else:
                empty = "'[]'" if field == "tags" else "''"
                sets.append(f"{field} = CASE WHEN s.{field} <> {empty} THEN s.{field} ELSE c.{field} END")
                changed.append(f"(s.{field} <> {empty} AND s.{field} <> c.{field})")
        return sets, changed
