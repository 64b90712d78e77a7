"""Read the spreadsheets admins bring: CSV in any common delimiter and encoding, and XLSX.

Nothing else gets in: check_upload refuses, from the first 64 KB and an XLSX's zip
directory (never its rows), anything that is not a text table or a real workbook within
MAILROOM_IMPORT_MAX_BYTES; a workbook counts at its unpacked size, may not unpack more
than XLSX_MAX_RATIO times its packed size (a zip bomb does by hundreds) and may not have
more rows than MAILROOM_IMPORT_XLSX_MAX_ROWS. Python's zipfile never unpacks a member
beyond the size its directory declares, so these checks bound the work of reading it.

Everything streams: a table yields (line number, cells) one row at a time, so a file of
a million rows never sits in memory. Headers are matched to contact fields by the names
common email tools, shops and spreadsheets export.
"""

import codecs
import csv
import datetime
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
XLSX_MAGIC = b"PK\x03\x04"
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIX = ".xlsx"
# Real workbooks unpack about 5-20 times their packed size; the zip bomb that took the
# upload request 212 s and 750 MB unpacked 410 times. Small parts may compress as they like.
XLSX_MAX_RATIO = 100
XLSX_RATIO_FROM_BYTES = 1 << 20
MB = 1024 * 1024

# Normalised header (lower case, letters and digits only) -> contact field.
HEADER_ALIASES = {
    "email": [
        "email",
        "emailaddress",
        "mail",
        "emailid",
        "mailaddress",
        "contactemail",
        "useremail",
        "customeremail",
        "billingemail",
        "emailadresse",
    ],
    "first_name": ["firstname", "fname", "first", "givenname", "forename", "vorname", "prenom", "billingfirstname"],
    "last_name": ["lastname", "lname", "last", "surname", "familyname", "nachname", "nom", "billinglastname"],
    "company": [
        "company",
        "companyname",
        "organization",
        "organisation",
        "org",
        "business",
        "billingcompany",
        "account",
        "accountname",
    ],
    "country": ["country", "countrycode", "countryname", "billingcountry", "land", "pays"],
    "language": ["language", "lang", "locale", "preferredlanguage"],
    "external_id": ["customerid", "externalid", "customernumber", "customerno", "clientid", "contactid", "userid"],
    "postal_address": ["postaladdress", "address", "mailingaddress", "streetaddress", "billingaddress"],
    "tags": ["tags", "tag", "labels", "groups"],
    "consent_basis": ["consentbasis", "lawfulbasis", "legalbasis"],
    "consent_date": ["consentdate", "optindate", "optintime", "confirmtime", "subscribedat", "signupdate"],
    "consent_source": ["consentsource", "source", "signupsource", "optinsource"],
}
_FIELD_BY_HEADER = {alias: field for field, aliases in HEADER_ALIASES.items() for alias in aliases}


class ImportFileError(Exception):
    """The file cannot be imported at all (wrong type, too big, unreadable, no email
    column); nothing was written. The message is for the admin."""


def _megabytes(size):
    return f"{size / MB:,.1f} MB"


def too_large(size):
    return f"The file is {_megabytes(size)}; the limit is {_megabytes(settings.MAILROOM_IMPORT_MAX_BYTES)}."


def check_upload(handle, name):
    """Refuse (ImportFileError) an upload that is not a text table or a real XLSX within
    the limits. `handle` is a binary file; only its first bytes and, for a zip, its
    directory are read."""
    suffix = Path(name).suffix.lower()
    if suffix not in (*TEXT_SUFFIXES, XLSX_SUFFIX):
        raise ImportFileError(
            f"“{suffix or name}” files cannot be imported: upload a CSV, TSV or text file, or an Excel workbook (.xlsx)."
        )
    size = handle.seek(0, io.SEEK_END)
    if size > settings.MAILROOM_IMPORT_MAX_BYTES:
        raise ImportFileError(too_large(size))
    handle.seek(0)
    sample = handle.read(SAMPLE_BYTES)
    handle.seek(0)
    if sample.startswith(XLSX_MAGIC):
        check_xlsx(handle)
    else:
        _check_text(sample)


def check_xlsx(handle):
    """A zip that is an Excel workbook and unpacks within the limits, judged by its directory."""
    try:
        with zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise ImportFileError(f"The file looks like a zip archive but cannot be read: {error}") from error
    names = {member.filename for member in members}
    if not {"[Content_Types].xml", "xl/workbook.xml"} <= names:
        raise ImportFileError("This zip archive is not an Excel workbook (.xlsx): upload a CSV or an XLSX file.")
    limit = settings.MAILROOM_IMPORT_MAX_BYTES
    unpacked = sum(member.file_size for member in members)
    if unpacked > limit:
        raise ImportFileError(f"The workbook unpacks to {_megabytes(unpacked)}; the limit is {_megabytes(limit)}.")
    for member in members:
        if member.file_size > XLSX_RATIO_FROM_BYTES and member.file_size > XLSX_MAX_RATIO * member.compress_size:
            raise ImportFileError(
                f"The workbook's {member.filename} unpacks to {_megabytes(member.file_size)} from "
                f"{_megabytes(member.compress_size)}: refused as a likely zip bomb. Save it again from your "
                "spreadsheet program, or export a CSV."
            )


def _check_text(sample):
    text = sample.decode(detect_encoding(sample), errors="replace")
    controls = sum(1 for char in text if char < " " and char not in "\t\n\r\f\v\x1a")
    if "\x00" in text or controls > len(text) // 100:
        raise ImportFileError("This file is not text: upload a CSV, TSV or text file, or an Excel workbook (.xlsx).")
    if text.lstrip("\ufeff \t\r\n").startswith("<"):
        raise ImportFileError(
            "This file is a web page or XML (HTML, SVG…), not a table: upload a CSV, TSV or text file, "
            "or an Excel workbook (.xlsx)."
        )


@dataclass
class Table:
    headers: list
    rows: Iterator  # (line number, list of cell strings), blank rows skipped
    total: int  # data rows, estimated from line breaks (exact for XLSX)
    encoding: str = ""
    delimiter: str = ""


def header_key(header):
    return re.sub(r"[^a-z0-9]", "", (header or "").lower())


def auto_mapping(headers):
    """{column index: field} for the headers we recognise; each field at most once."""
    mapping = {}
    for index, header in enumerate(headers):
        field = _FIELD_BY_HEADER.get(header_key(header))
        if field and field not in mapping.values():
            mapping[index] = field
    return mapping


def detect_encoding(sample):
    """BOMs first, then UTF-16 without BOM (NUL bytes), then UTF-8, else Windows-1252."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.count(b"\x00") > len(sample) // 4:
        return "utf-16-le" if sample[1::2].count(b"\x00") > sample[0::2].count(b"\x00") else "utf-16-be"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)  # a cut last character is fine
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def detect_delimiter(first_line):
    counts = {delimiter: first_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def count_lines(handle):
    handle.seek(0)
    lines, last = 0, b"\n"
    while chunk := handle.read(1 << 20):
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    handle.seek(0)
    return lines + (last != b"\n")


def cell_text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value).strip()


@contextmanager
def open_table(path):
    """Open a CSV or XLSX file as a Table; raises ImportFileError if it has no header row."""
    with open(path, "rb") as handle:
        is_xlsx = handle.read(4) == XLSX_MAGIC
    opener = _open_xlsx if is_xlsx else _open_csv
    with opener(path) as table:
        yield table


@contextmanager
def _open_csv(path):
    with open(path, "rb") as binary:
        encoding = detect_encoding(binary.read(SAMPLE_BYTES))
        lines = count_lines(binary)
        text = io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline="")
        first_line = next((line for line in text if line.strip()), "")
        text.seek(0)
        delimiter = detect_delimiter(first_line)
        reader = csv.reader(text, delimiter=delimiter)
        headers = _headers(reader)
        yield Table(headers, _csv_rows(reader), max(lines - reader.line_num, 0), encoding, delimiter)


def _headers(rows):
    for cells in rows:
        if isinstance(cells, tuple):  # XLSX rows are (line, cells) already
            cells = cells[1]
        if any(cell_text(cell) for cell in cells):
            return [cell_text(cell) for cell in cells]
    raise ImportFileError("The file is empty: it has no header row.")


def _csv_rows(reader):
    previous_end = reader.line_num
    for cells in reader:
        line = previous_end + 1  # where this record starts (a quoted newline spans lines)
        previous_end = reader.line_num
        cells = list(map(str.strip, cells))
        if any(cells):
            yield line, cells


@contextmanager
def _open_xlsx(path):
    from openpyxl import load_workbook

    with open(path, "rb") as handle:
        check_xlsx(handle)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise ImportFileError(f"The XLSX file cannot be read: {error}") from error
    try:
        sheet = workbook.worksheets[0]
        total = max((sheet.max_row or 0) - 1, 0)  # from the sheet's declared dimension
        limit = settings.MAILROOM_IMPORT_XLSX_MAX_ROWS
        if total > limit:
            raise ImportFileError(f"The sheet has {total:,} rows; the limit is {limit:,}.")
        rows = ((line, row) for line, row in enumerate(sheet.iter_rows(values_only=True), start=1))
        header_rows = iter(rows)
        headers = _headers(header_rows)
        data = ((line, [cell_text(cell) for cell in cells]) for line, cells in _at_most(header_rows, limit + 1))
        yield Table(headers, ((line, cells) for line, cells in data if any(cells)), total, "xlsx", "")
    finally:
        workbook.close()


def _at_most(rows, last_line):
    """The rows up to `last_line`; a sheet whose declared size lied is refused past it."""
    for line, cells in rows:
        if line > last_line:
            raise ImportFileError(f"The sheet has more than {last_line - 1:,} rows, the limit.")
        yield line, cells
