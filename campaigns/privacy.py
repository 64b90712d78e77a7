"""A person's data: export everything held about one address as JSON, or erase it.

Erasure deletes the contact (and with it memberships and deliveries, taken out of their
campaigns' counters so the progress bar and the report still agree) and asks the
suppression ledger to keep only a keyed hash, closed in every personal channel, so the
person is never mailed again, not even after a re-import (DESIGN invariant 7). It also
takes the address out of Wagtail's log entries (the admin's history of a contact is
labelled with its address), deletes any kept upload whose preview shows it and any
account-service message to the address not yet handed off; import reports hold no addresses.
"""

import re

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from wagtail.log_actions import registry as log_registry

from accountmail.handoff import forget as forget_account_messages
from suppression import policy
from suppression.addresses import address_hash, normalise_address

from .audiences.import_jobs import forget_uploads_of
from .models import Contact, Delivery, Membership
from .sending.outcomes import uncount

ERASED = "(erased)"

CONTACT_FIELDS = [
    "email",
    "first_name",
    "last_name",
    "external_id",
    "company",
    "country",
    "language",
    "postal_address",
    "tags",
    "attributes",
    "consent_basis",
    "consent_date",
    "consent_source",
    "created_at",
    "updated_at",
]


def _contacts(email):
    return Contact.objects.filter(email_hash=address_hash(email))


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def export_person(email):
    """Contact, memberships, deliveries, suppressions and consent events: JSON-ready data."""
    contact = _contacts(email).first()
    data = {"address": normalise_address(email), "contact": None, "memberships": [], "deliveries": []}
    if contact is not None:
        data["contact"] = {name: _plain(getattr(contact, name)) for name in CONTACT_FIELDS}
        data["memberships"] = [
            {"audience": membership.audience.name, "added_at": _plain(membership.added_at)}
            for membership in Membership.objects.filter(contact=contact).select_related("audience").order_by("id")
        ]
        data["deliveries"] = [
            {
                "campaign": delivery.campaign.name,
                "campaign_id": delivery.campaign_id,
                "status": delivery.status,
                "reason": delivery.reason,
                "sent_at": _plain(delivery.sent_at),
                "esp_message_id": delivery.esp_message_id,
            }
            for delivery in Delivery.objects.filter(contact=contact).select_related("campaign").order_by("id")
        ]
    return data | policy.person_record(email)


@transaction.atomic
def erase_person(email, *, actor):
    """Delete the person's contact data; keep them suppressed by hash. Returns what was deleted."""
    contacts = _contacts(email)
    # Locked, so a worker cannot write an outcome (and count it) between this read and the delete.
    deliveries = list(
        Delivery.objects.select_for_update().filter(contact__in=contacts).values_list("campaign_id", "status")
    )
    counts = {
        "contacts": contacts.count(),
        "memberships": Membership.objects.filter(contact__in=contacts).count(),
        "deliveries": len(deliveries),
    }
    contact_ids = [str(pk) for pk in contacts.values_list("pk", flat=True)]
    addresses = {normalise_address(email), *contacts.values_list("email", flat=True)}
    contacts.delete()
    uncount(deliveries)
    policy.erase(email, actor=actor)
    scrub_log_entries(addresses, contact_ids)
    for address in addresses:
        forget_uploads_of(address)
    forget_account_messages(addresses)  # not yet handed off: they would mail an erased person
    return counts


def scrub_log_entries(addresses, contact_ids):
    """Replace the addresses in every Wagtail log entry's label and data; the erased
    contacts' own entries keep only their action and time. Returns how many changed."""
    pattern = re.compile("|".join(re.escape(address) for address in addresses), re.IGNORECASE)
    contact_type = ContentType.objects.get_for_model(Contact)
    changed = 0
    for model in log_registry.get_log_entry_models():
        mentions = Q()
        for address in addresses:
            mentions |= Q(label__icontains=address) | Q(data__icontains=address)
        has_object_id = any(field.name == "object_id" for field in model._meta.fields)  # not page entries
        if has_object_id:
            mentions |= Q(content_type=contact_type, object_id__in=contact_ids)
        for entry in model.objects.filter(mentions):
            if has_object_id and entry.content_type_id == contact_type.pk and entry.object_id in contact_ids:
                entry.label, entry.data = ERASED, {}
            else:
                entry.label, entry.data = _scrub(entry.label, pattern), _scrub(entry.data, pattern)
            entry.save(update_fields=["label", "data"])
            changed += 1
    return changed


def _scrub(value, pattern):
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, dict):
        return {_scrub(key, pattern): _scrub(item, pattern) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, pattern) for item in value]
    return value
