"""The contact import pipeline: clean each row, stage the good ones, merge them set-based.

Rows stream from campaigns.audiences.tables through validation (duplicates inside the file are
caught here) in chunks to campaigns.audiences.merging, which creates or updates contacts and joins
the audience set-based. Every row not imported goes to the error report with its line
and reason. A dry run counts exactly what would happen and writes nothing.

Contact imports never touch the suppression ledger: an opted-out person stays opted out
(DESIGN invariant 4). Only the suppression-list import writes to it, through
suppression.policy.
"""

import csv
import datetime
import json
import re
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Audience, Contact, private_storage
from suppression import policy
from suppression.addresses import clean_address, key_hash
from suppression.models import Source

from .exporting import neutralise
from .merging import CONTACT_COLUMNS, TEXT_FIELDS, Merger
from .tables import ImportFileError, auto_mapping, open_table

__all__ = ["ImportFileError", "import_file"]

FIELDS = ["email", *TEXT_FIELDS, "tags", "consent_date"]
ATTRIBUTE_PREFIX = "attribute:"
CHUNK = 20_000
REPORTS = "imports/reports"  # the folder of rejected-row reports in private storage
_MAX_LENGTH = {name: Contact._meta.get_field(name).max_length for name in TEXT_FIELDS}


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
    """CSV of every row not imported: its line number and the reason. Opened on first error.

    No cell of the row is copied: the admin has the file, and a report that holds no
    personal data needs no erasure and leaks nothing if kept. It is written with the file's
    own delimiter, so it opens in the same spreadsheet as the file (a semicolon file gets a
    semicolon report).
    """

    def __init__(self, path):
        self.path = Path(path) if path else None
        self.handle = self.writer = None
        self.delimiter = ","

    def add(self, line, reason):
        if self.path is None:
            return
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.path, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115 (closed by close())
            self.writer = csv.writer(self.handle, delimiter=self.delimiter)
            self.writer.writerow(["line", "reason"])
        self.writer.writerow([line, neutralise(reason)])

    def close(self):
        if self.handle:
            self.handle.close()
        return str(self.path) if self.writer else None


def parse_consent_date(value):
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("consent date is not a date like 2024-01-31 or 2024-01-31T09:30") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)
    return moment


class RowCleaner:
    """Turns the mapped cells of one row into a staging row, or raises ValueError(reason).

    Only mapped fields are staged (`self.columns`); the rest take the contact's defaults,
    so a row costs only the work its mapped columns need. Cells arrive stripped.
    """

    def __init__(self, mapping):
        columns, self.attributes = {}, {}
        for index, field in mapping.items():
            if field.startswith(ATTRIBUTE_PREFIX):
                self.attributes[int(index)] = field.removeprefix(ATTRIBUTE_PREFIX)
            elif field in FIELDS:
                columns[field] = int(index)
        if "email" not in columns:
            raise ImportFileError("The file has no 'email' column (map one column to the email address).")
        self.email_index = columns["email"]
        self.text = [(columns[field], _MAX_LENGTH[field], field) for field in TEXT_FIELDS if field in columns]
        self.tags_index = columns.get("tags")
        self.consent_date_index = columns.get("consent_date")
        self.mapped = [field for field in FIELDS if field in columns] + (["attributes"] if self.attributes else [])
        self.columns = ["email", "email_hash", *(field for field in CONTACT_COLUMNS[2:] if field in self.mapped)]

    def address(self, cells):
        return clean_address(cells[self.email_index] if self.email_index < len(cells) else "")

    def clean(self, cells, email, email_hash):
        width = len(cells)
        values = [email, email_hash]
        for index, max_length, field in self.text:
            value = cells[index] if index < width else ""
            if max_length and len(value) > max_length:
                raise ValueError(f"{field} is longer than {max_length} characters")
            values.append(value)
        if self.tags_index is not None:
            values.append(self._tags(cells[self.tags_index] if self.tags_index < width else ""))
        if self.attributes:
            values.append(json.dumps({name: cells[i] for i, name in self.attributes.items() if i < width and cells[i]}))
        if self.consent_date_index is not None:
            value = cells[self.consent_date_index] if self.consent_date_index < width else ""
            values.append(connection.ops.adapt_datetimefield_value(parse_consent_date(value)) if value else None)
        return values

    @staticmethod
    def _tags(cell):
        return json.dumps(list(dict.fromkeys(tag.strip() for tag in re.split(r"[,;|]", cell) if tag.strip())))


def clean_rows(rows, cleaner, summary, report):
    """Yield a staging tuple per good row; count and report the rest.

    Duplicates inside the file are found by the first 128 bits of each address's keyed
    hash, kept as a number: for a million rows about half the memory of the addresses
    themselves, and two addresses would share them only by a chance of 2**-128 per pair.
    """
    seen = set()
    for line, cells in rows:
        summary.rows += 1
        try:
            email, key = cleaner.address(cells)
            email_hash = key_hash(key)
            mark = int(email_hash[:32], 16)
            if mark in seen:
                summary.duplicates += 1
                report.add(line, "duplicate of an earlier row in this file (letter case ignored)")
                continue
            values = cleaner.clean(cells, email, email_hash)
        except ValueError as error:
            summary.invalid += 1
            report.add(line, str(error))
            continue
        seen.add(mark)
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


def import_file(
    path,
    *,
    kind="contacts",
    mapping=None,
    audience_name="",
    update_existing=False,
    dry_run=False,
    channel="email_marketing",
    report_path=None,
    progress=None,
):
    """Import `path` (CSV or XLSX) and return its ImportSummary. `mapping`: {column index: field},
    default: the automatic matches. `progress(rows_done, total)` is called once each chunk is in the database."""
    started = time.monotonic()
    summary = ImportSummary()
    report = ErrorReport(report_path)
    try:
        with open_table(path) as table:
            report.delimiter = table.delimiter or ","  # XLSX has none: a plain CSV report
            cleaner = RowCleaner(mapping if mapping is not None else auto_mapping(table.headers))
            batches = chunks(clean_rows(table.rows, cleaner, summary, report), CHUNK)
            tell = _teller(table.total, progress)
            if kind == "suppressions":
                _import_suppressions(batches, summary, channel, Path(path).name, dry_run, tell)
            else:
                _import_contacts(batches, cleaner, summary, audience_name, update_existing, dry_run, tell)
            tell(summary.rows, final=True)
    finally:
        summary.error_report = report.close()
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def _teller(total, progress):
    """tell(rows_done): report progress, if asked for, against the table's estimated total
    (never below what is done; the last report makes them equal)."""

    def tell(done, final=False):
        if progress:
            progress(done, done if final else max(total, done))

    return tell


def _import_suppressions(batches, summary, channel, file_name, dry_run, tell):
    """Addresses from a previous provider's suppression list: closed, source `import`, never reopened."""
    note = f"Imported from {file_name}"
    with transaction.atomic():
        for batch in batches:
            addresses = [values[0] for values in batch]
            summary.suppressed += len(addresses)
            summary.created += policy.record_opt_outs(addresses, channel, Source.IMPORT, actor="import", note=note)
            tell(summary.rows)
        transaction.set_rollback(dry_run)
    summary.unchanged = summary.suppressed - summary.created


def _import_contacts(batches, cleaner, summary, audience_name, update_existing, dry_run, tell):
    if dry_run:
        audience = Audience.objects.filter(name=audience_name).first()
    else:
        audience, _ = Audience.objects.get_or_create(name=audience_name)
    update_fields = [field for field in cleaner.mapped if field != "email"] if update_existing else []
    with Merger(cleaner.columns, audience, update_fields, dry_run) as merger:
        for batch in batches:
            # Rows read so far, told once this chunk is merged: the bar never runs ahead of the data.
            merger.add(batch, merged=partial(tell, summary.rows))
    for name in ("created", "updated", "unchanged", "suppressed"):
        setattr(summary, name, merger.counts[name])


def report_name(source_name):
    """A new rejected-row report's name in private storage (campaigns.models.private_storage)."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    return f"{REPORTS}/{Path(source_name).stem}-rejected-{stamp}.csv"


def default_report_path(source_name):
    return private_storage().path(report_name(source_name))
