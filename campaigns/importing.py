"""The contact import pipeline: clean each row, stage the good ones, merge them set-based.

Rows stream from campaigns.tables through validation into a temporary staging table
(PostgreSQL COPY; executemany elsewhere), then a few INSERT … SELECT / UPDATE … FROM
statements create or update contacts and join the audience. Every row not imported goes
to the error report with its line, raw cells and reason. A dry run does all of it and
rolls the merge back, so its counts are exact.

Contact imports never touch the suppression ledger: an opted-out person stays opted out
(DESIGN invariant 4). Only the suppression-list import writes to it, through
suppression.policy.
"""

import csv
import datetime
import io
import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from suppression import policy
from suppression.addresses import address_hash, address_key, normalise_address
from suppression.models import Source, Stream

from .exporting import neutralise
from .models import Audience, Contact
from .tables import ImportFileError, auto_mapping, open_table

__all__ = ["ImportFileError", "import_file", "check_address"]

TEXT_FIELDS = ["first_name", "last_name", "external_id", "company", "country", "language", "postal_address",
               "consent_basis", "consent_source"]
FIELDS = ["email", *TEXT_FIELDS, "tags", "consent_date"]
ATTRIBUTE_PREFIX = "attribute:"
STAGING_COLUMNS = ["line", "email", "email_hash", *TEXT_FIELDS, "tags", "attributes", "consent_date"]
CHUNK = 20_000
_MAX_LENGTH = {name: Contact._meta.get_field(name).max_length for name in TEXT_FIELDS}

# Plain ASCII addresses email-validator certainly accepts; everything else goes to it.
_SIMPLE_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


@dataclass
class ImportSummary:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0
    duplicates: int = 0
    suppressed: int = 0
    seconds: float = 0.0
    error_report: str | None = None

    def as_dict(self):
        return asdict(self)


class ErrorReport:
    """CSV of every row not imported: line number, the raw row, the reason. Opened on first error."""

    def __init__(self, path):
        self.path = Path(path) if path else None
        self.handle = self.writer = None

    def add(self, line, cells, reason):
        if self.path is None:
            return
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.path, "w", newline="", encoding="utf-8-sig")
            self.writer = csv.writer(self.handle)
            self.writer.writerow(["line", "raw row", "reason"])
        self.writer.writerow([line, neutralise(csv_line(cells)), reason])

    def close(self):
        if self.handle:
            self.handle.close()
        return str(self.path) if self.writer else None


def csv_line(cells):
    """The cells as one CSV line, as the admin would recognise the row."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().removesuffix("\n")


def check_address(raw):
    """Return the normalised address or raise ValueError with a reason a person can read."""
    raw = raw.strip()
    if not _is_plainly_valid(raw):
        try:
            validate_email(raw, check_deliverability=False)
        except EmailNotValidError as error:
            raise ValueError(str(error)) from error
    return normalise_address(raw)


def _is_plainly_valid(address):
    if len(address) > 254 or not _SIMPLE_ADDRESS.fullmatch(address):
        return False
    local, _, domain = address.rpartition("@")
    domain = domain.lower()
    return (
        len(local) <= 64
        and "--" not in domain  # punycode / IDNA rules: email-validator decides
        and domain.rsplit(".", 1)[-1] not in SPECIAL_USE_DOMAIN_NAMES
    )


def parse_consent_date(value):
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"consent date {value!r} is not a date like 2024-01-31 or 2024-01-31T09:30") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)
    return moment


class RowCleaner:
    """Turns the mapped cells of one row into a staging tuple, or raises ValueError(reason)."""

    def __init__(self, mapping):
        self.columns = {}
        self.attributes = {}
        for index, field in mapping.items():
            if field.startswith(ATTRIBUTE_PREFIX):
                self.attributes[int(index)] = field.removeprefix(ATTRIBUTE_PREFIX)
            elif field in FIELDS:
                self.columns[field] = int(index)
        if "email" not in self.columns:
            raise ImportFileError("The file has no 'email' column (map one column to the email address).")
        self.mapped = [field for field in FIELDS if field in self.columns] + (["attributes"] if self.attributes else [])

    def cell(self, cells, field):
        index = self.columns.get(field)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    def email(self, cells):
        return check_address(self.cell(cells, "email"))

    def clean(self, line, cells, email):
        values = [line, email, address_hash(email)]
        for field in TEXT_FIELDS:
            value = self.cell(cells, field)
            if _MAX_LENGTH[field] and len(value) > _MAX_LENGTH[field]:
                raise ValueError(f"{field} is longer than {_MAX_LENGTH[field]} characters")
            values.append(value)
        tags = list(dict.fromkeys(t.strip() for t in re.split(r"[,;|]", self.cell(cells, "tags")) if t.strip()))
        values.append(json.dumps(tags))
        attributes = {name: cells[i].strip() for i, name in self.attributes.items() if i < len(cells) and cells[i].strip()}
        values.append(json.dumps(attributes))
        consent_date = self.cell(cells, "consent_date")
        values.append(connection.ops.adapt_datetimefield_value(parse_consent_date(consent_date)) if consent_date else None)
        return values


def clean_rows(rows, cleaner, summary, report):
    """Yield a staging tuple per good row; count and report the rest."""
    seen = set()
    for line, cells in rows:
        summary.rows += 1
        try:
            email = cleaner.email(cells)
            key = address_key(email)
            if key in seen:
                summary.duplicates += 1
                report.add(line, cells, "duplicate of an earlier row in this file (letter case ignored)")
                continue
            values = cleaner.clean(line, cells, email)
        except ValueError as error:
            summary.invalid += 1
            report.add(line, cells, str(error))
            continue
        seen.add(key)
        yield values


def chunks(iterable, size):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_file(path, *, kind="contacts", mapping=None, audience_name="", update_existing=False, dry_run=False,
                channel="email_marketing", report_path=None, progress=None):
    """Import `path` (CSV or XLSX) and return its ImportSummary. `mapping`: {column index: field},
    default: the automatic matches. `progress(rows_done, total)` is called after each chunk."""
    started = time.monotonic()
    summary = ImportSummary()
    report = ErrorReport(report_path)
    try:
        with open_table(path) as table:
            cleaner = RowCleaner(mapping if mapping is not None else auto_mapping(table.headers))
            good = clean_rows(table.rows, cleaner, summary, report)
            batches = _with_progress(chunks(good, CHUNK), summary, table.total, progress)
            if kind == "suppressions":
                _import_suppressions(batches, summary, channel, Path(path).name, dry_run)
            else:
                _import_contacts(batches, cleaner, summary, audience_name, update_existing, dry_run)
    finally:
        summary.error_report = report.close()
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def _with_progress(batches, summary, total, progress):
    for batch in batches:
        yield batch
        if progress:
            progress(summary.rows, max(total, summary.rows))
    if progress:
        progress(summary.rows, summary.rows)


def _import_suppressions(batches, summary, channel, file_name, dry_run):
    """Addresses from a previous provider's suppression list: closed, source `import`, never reopened."""
    note = f"Imported from {file_name}"
    with transaction.atomic():
        for batch in batches:
            addresses = [values[1] for values in batch]
            summary.suppressed += len(addresses)
            summary.created += policy.record_opt_outs(addresses, channel, Source.IMPORT, actor="import", note=note)
        transaction.set_rollback(dry_run)
    summary.unchanged = summary.suppressed - summary.created


def _import_contacts(batches, cleaner, summary, audience_name, update_existing, dry_run):
    staging = Staging()
    try:
        for batch in batches:
            staging.add(batch)
        staging.analyse()
        with transaction.atomic():
            audience, _ = Audience.objects.get_or_create(name=audience_name)
            merge(staging, audience, cleaner.mapped if update_existing else [], summary)
            transaction.set_rollback(dry_run)
    finally:
        staging.drop()


class Staging:
    """A temporary table of the good rows: COPY on PostgreSQL, executemany elsewhere."""

    name = "campaigns_import_staging"

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"
        json_type = "jsonb" if self.postgres else "text"
        date_type = "timestamptz" if self.postgres else "text"
        columns = ", ".join(
            f"{column} {'integer' if column == 'line' else json_type if column in ('tags', 'attributes') else date_type if column == 'consent_date' else 'text'}"
            for column in STAGING_COLUMNS
        )
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.name}")
            cursor.execute(f"CREATE TEMPORARY TABLE {self.name} ({columns})")

    def add(self, rows):
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.copy(f"COPY {self.name} ({', '.join(STAGING_COLUMNS)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(STAGING_COLUMNS))
                cursor.executemany(f"INSERT INTO {self.name} VALUES ({marks})", rows)

    def analyse(self):
        if self.postgres:
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {self.name}")

    def drop(self):
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.name}")


def merge(staging, audience, update_fields, summary):
    """Set-based: update existing contacts (only `update_fields`), create new ones, join the audience."""
    contact = Contact._meta.db_table
    membership = audience.contacts.through._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    pg = staging.postgres
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {staging.name}")
        valid = cursor.fetchone()[0]
        if update_fields := [field for field in update_fields if field != "email"]:
            sets, changed = [], []
            for field in update_fields:
                if field == "attributes":
                    merged = "c.attributes || s.attributes" if pg else "json_patch(c.attributes, s.attributes)"
                    sets.append(f"attributes = {merged}")
                    changed.append(f"{merged} <> {'c.attributes' if pg else 'json(c.attributes)'}")
                    continue
                empty = "'[]'" if field == "tags" else "''"
                if field == "consent_date":
                    sets.append("consent_date = COALESCE(s.consent_date, c.consent_date)")
                    changed.append("(s.consent_date IS NOT NULL AND (c.consent_date IS NULL OR c.consent_date <> s.consent_date))")
                    continue
                sets.append(f"{field} = CASE WHEN s.{field} <> {empty} THEN s.{field} ELSE c.{field} END")
                changed.append(f"(s.{field} <> {empty} AND s.{field} <> c.{field})")
            cursor.execute(
                f"UPDATE {contact} AS c SET {', '.join(sets)}, updated_at = %s FROM {staging.name} AS s "
                f"WHERE lower(c.email) = lower(s.email) AND ({' OR '.join(changed)})",
                [now],
            )
            summary.updated = cursor.rowcount
        columns = ["email", "email_hash", *TEXT_FIELDS, "tags", "attributes", "consent_date"]
        cursor.execute(
            f"INSERT INTO {contact} ({', '.join(columns)}, created_at, updated_at) "
            f"SELECT {', '.join(columns)}, %s, %s FROM {staging.name} WHERE true ORDER BY line ON CONFLICT DO NOTHING",
            [now, now],
        )
        summary.created = cursor.rowcount
        summary.unchanged = valid - summary.created - summary.updated
        cursor.execute(
            f"INSERT INTO {membership} (audience_id, contact_id, added_at) "
            f"SELECT %s, c.id, %s FROM {staging.name} AS s JOIN {contact} AS c ON lower(c.email) = lower(s.email) "
            f"WHERE true ON CONFLICT DO NOTHING",
            [audience.pk, now],
        )
        blocked_sql, blocked_params = policy.blocked_hashes(Stream.PROMOTIONAL).query.sql_with_params()
        cursor.execute(
            f"SELECT count(*) FROM {staging.name} WHERE email_hash IN ({blocked_sql})", list(blocked_params)
        )
        summary.suppressed = cursor.fetchone()[0]


def default_report_path(name):
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    return Path(settings.MEDIA_ROOT) / "imports" / "reports" / f"{Path(name).stem}-rejected-{stamp}.csv"
