"""The contact import pipeline: read rows, validate, upsert contacts, join the audience.

It never touches the suppression ledger: an opted-out person who is imported again
stays opted out (DESIGN invariant 4).
"""

import csv
from dataclasses import asdict, dataclass, field

from email_validator import EmailNotValidError, validate_email

from suppression import policy
from suppression.addresses import address_key, normalise_address
from suppression.models import Stream

from .models import Audience, Contact, Membership

class ImportFileError(Exception):
    """The file cannot be imported at all (e.g. no email column); nothing was written."""


@dataclass
class ImportSummary:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0
    duplicates: int = 0
    suppressed: int = 0
    errors: list = field(default_factory=list)  # (line number, raw row, reason)

    def as_dict(self):
        summary = asdict(self)
        summary.pop("errors")
        return summary


def read_csv(stream):
    """Check the header, then return an iterator of (line number, row dict)."""
    reader = csv.DictReader(stream)
    if not reader.fieldnames or "email" not in [name.strip().lower() for name in reader.fieldnames]:
        raise ImportFileError("The file has no 'email' column.")

    def rows():
        for row in reader:
            yield reader.line_num, {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()}

    return rows()


def check_address(raw):
    """Return the normalised address or raise ValueError with a reason a person can read."""
    try:
        validate_email(raw, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error
    return normalise_address(raw)


def import_rows(rows, audience_name, *, update_existing=False):
    audience, _ = Audience.objects.get_or_create(name=audience_name)
    summary = ImportSummary()
    seen = set()
    for line, row in rows:
        summary.rows += 1
        try:
            email = check_address(row.get("email", ""))
        except ValueError as error:
            summary.invalid += 1
            summary.errors.append((line, row, str(error)))
            continue
        if address_key(email) in seen:
            summary.duplicates += 1
            summary.errors.append((line, row, "duplicate of an earlier row in this file"))
            continue
        seen.add(address_key(email))
        names = {name: row.get(name, "") for name in ("first_name", "last_name")}
        contact = Contact.objects.filter(email__iexact=email).first()
        if contact is None:
            contact = Contact.objects.create(email=email, **names)
            summary.created += 1
        elif update_existing and any(getattr(contact, k) != v for k, v in names.items()):
            for key, value in names.items():
                setattr(contact, key, value)
            contact.save()
            summary.updated += 1
        else:
            summary.unchanged += 1
        Membership.objects.get_or_create(audience=audience, contact=contact)
        if policy.blocked([email], Stream.PROMOTIONAL):
            summary.suppressed += 1
    return summary


def import_csv_file(path, audience_name, *, update_existing=False):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return import_rows(read_csv(handle), audience_name, update_existing=update_existing)
