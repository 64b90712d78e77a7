"""Bulk CSV exports of contacts (audience, segment, postal offers, affiliated-company sharing).

Only `Admins` (permission campaigns.export_contacts) may run them; every export is written
to the ExportLog audit trail; every cell is neutralised against spreadsheet formula
injection. Opt-outs of the postal and third-party channels are decided by suppression.policy.
"""

import csv

from campaigns.models import Contact, ExportLog
from suppression import policy
from suppression.models import Channel

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CONTACT_COLUMNS = [
    "email",
    "first_name",
    "last_name",
    "company",
    "country",
    "language",
    "external_id",
    "tags",
    "consent_basis",
    "consent_date",
    "consent_source",
]
POSTAL_COLUMNS = ["first_name", "last_name", "company", "postal_address", "country"]
THIRD_PARTY_COLUMNS = ["email", "first_name", "last_name", "company", "country", "language"]


def neutralise(value):
    """A cell a spreadsheet shows as text, never runs as a formula (OWASP CSV injection)."""
    text = "" if value is None else ", ".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def postal_contacts():
    """Contacts with a postal address who have not opted out of postal offers."""
    return Contact.objects.exclude(postal_address="").exclude(
        policy.suppressed_for("email_hash", Channel.POSTAL_MARKETING)
    )


def third_party_contacts():
    """Contacts who have not opted out of disclosure to affiliated companies."""
    return Contact.objects.exclude(policy.suppressed_for("email_hash", Channel.THIRD_PARTY_SHARING))


def write_csv(contacts, handle, columns):
    """Stream `contacts` as CSV into `handle`; returns the number of rows."""
    writer = csv.writer(handle)
    writer.writerow(columns)
    rows = 0
    for values in contacts.order_by("pk").values_list(*columns).iterator(chunk_size=2000):
        writer.writerow([neutralise(value) for value in values])
        rows += 1
    return rows


def export(kind, label, contacts, handle, columns, user=None):
    """Write the CSV and record who exported what and how many rows."""
    rows = write_csv(contacts, handle, columns)
    ExportLog.objects.create(
        kind=kind,
        label=label,
        rows=rows,
        user=user if user and user.pk else None,
        username=getattr(user, "username", "") or "command line",
    )
    return rows
