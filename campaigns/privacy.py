"""A person's data: export everything held about one address as JSON, or erase it.

Erasure deletes the contact (and with it memberships and deliveries, taken out of their
campaigns' counters so the progress bar and the report still agree) and asks the
suppression ledger to keep only a keyed hash, closed in every personal channel, so the
person is never mailed again, not even after a re-import (DESIGN invariant 7).
"""

from django.db import transaction

from suppression import policy
from suppression.addresses import address_hash, normalise_address

from .models import Contact, Delivery, Membership
from .sending.outcomes import uncount

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
    contacts.delete()
    uncount(deliveries)
    policy.erase(email, actor=actor)
    return counts
