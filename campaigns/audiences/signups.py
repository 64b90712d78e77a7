"""A confirmed signup joins its audience: the contact is created, or updated with what the
person typed, and added to the audience the signup page names.

Only the contact side: the consent itself (reopening email offers, the proof) is recorded
by suppression.policy.record_confirmed_opt_in, in the caller's transaction.
"""

from django.db import transaction

from campaigns.models import Contact, Membership
from suppression.addresses import address_hash, check_address

CONSENT_BASIS = "consent (double opt-in)"


@transaction.atomic
def join_audience(address, first_name, audience_id, *, consent_source, confirmed_at):
    """The contact for `address` (made if new) as a member of the audience; returns it."""
    address = check_address(address)
    contact, _ = Contact.objects.select_for_update().get_or_create(
        email_hash=address_hash(address), defaults={"email": address}
    )
    if first_name:
        contact.first_name = first_name
    contact.consent_basis = CONSENT_BASIS
    contact.consent_date = confirmed_at
    contact.consent_source = consent_source[: Contact._meta.get_field("consent_source").max_length]
    contact.save()
    Membership.objects.get_or_create(audience_id=audience_id, contact=contact)
    return contact
