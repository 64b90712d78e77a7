"""Read the spreadsheets admins bring: CSV in any common delimiter and encoding, and XLSX.

Everything streams: a table yields (line number, cells) one row at a time, so a file of
a million rows never sits in memory. Headers are matched to contact fields by the names
common email tools, shops and spreadsheets export.
"""

import codecs
import csv
import datetime
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
XLSX_MAGIC = b"PK\x03\x04"

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
    """The file cannot be imported at all (unreadable, no email column); nothing was written."""


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
        cells = [cell.strip() for cell in cells]
        if any(cells):
            yield line, cells


@contextmanager
def _open_xlsx(path):
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise ImportFileError(f"The XLSX file cannot be read: {error}") from error
    try:
        sheet = workbook.worksheets[0]
        rows = ((line, row) for line, row in enumerate(sheet.iter_rows(values_only=True), start=1))
        header_rows = iter(rows)
        headers = _headers(header_rows)
        total = max((sheet.max_row or 0) - 1, 0)
        data = ((line, [cell_text(cell) for cell in cells]) for line, cells in header_rows)
        yield Table(headers, ((line, cells) for line, cells in data if any(cells)), total, "xlsx", "")
    finally:
        workbook.close()
