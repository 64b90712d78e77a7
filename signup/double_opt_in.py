"""Double opt-in from the form to the audience: plain functions for the views and the beat job.

subscribe() keeps a pending signup and mails its confirmation link on the account stream (it
is transactional mail); confirm() runs when the owner of the address follows that link: the
consent is recorded with its proof (suppression.policy.record_confirmed_opt_in, the one
path that reopens email offers even after an unsubscribe or an erasure) and the contact
joins the page's audience (campaigns.audiences.signups), in one transaction.
delete_expired() forgets what was not confirmed within CONFIRM_WITHIN.

Nothing here looks at whether the address belongs to a contact: a customer's address and a
stranger's take the same path, so the form answers both alike and in the same time. What
is kept before confirmation is the PendingSignup row, with no readable address or name
(signup.links).
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accountmail.templated import send_account_mail
from campaigns.audiences.signups import join_audience
from suppression import policy
from suppression.addresses import address_hash
from suppression.models import Channel

from . import links
from .models import PendingSignup

CONFIRM_WITHIN = timedelta(days=7)
# However many IP addresses ask: no more confirmation mails than this to one address a week.
MAX_PENDING_PER_ADDRESS = 3


def subscribe(page, *, address, first_name, channels, wording):
    """Keep the signup and mail its link; False (nothing kept or sent) past the per-address
    cap. `address` is checked already; `wording` is the exact text the person was shown."""
    hashed = address_hash(address)
    now = timezone.now()
    if PendingSignup.objects.filter(address_hash=hashed, expires_at__gt=now).count() >= MAX_PENDING_PER_ADDRESS:
        return False
    sealed, key = links.seal({"address": address, "first_name": first_name})
    pending = PendingSignup.objects.create(
        address_hash=hashed,
        sealed=sealed,
        page=page,
        audience_id=page.audience_id,
        channels=[Channel.EMAIL_MARKETING.value, *(c for c in page.offered_channels() if c in channels)],
        wording=policy.keep_wording(wording),
        created_at=now,
        expires_at=now + CONFIRM_WITHIN,
    )
    send_account_mail(
        address,
        "signup_confirmation",
        {
            "first_name": first_name,
            "page_title": page.title,
            "confirm_url": links.confirm_url(pending.pk, key),
            "days": CONFIRM_WITHIN.days,
        },
    )
    return True


def open_link(token, *, lock=False):
    """(pending signup, its sealed values) that a confirmation link opens; links.BadLink if
    it is forged, links.GoneLink if it is too old, used, or its signup was deleted."""
    pending_id, key = links.read_token(token, CONFIRM_WITHIN)
    pending = PendingSignup.objects.select_related("page", "wording")
    if lock:
        pending = pending.select_for_update(of=("self",))
    pending = pending.filter(pk=pending_id, expires_at__gt=timezone.now()).first()
    if pending is None:
        raise links.GoneLink("no such pending signup")
    person = links.unseal(pending.sealed, key)
    if address_hash(person["address"]) != pending.address_hash:
        raise links.BadLink("the link does not match its signup")
    return pending, person


def confirm(token):
    """The owner of the address followed the link: record the consent and join the audience.

    Returns the SignupConfirmation. Refused (links.BadLink / GoneLink), with nothing
    changed, for a forged or used link, and for a signup made before its person was erased
    (that signup is deleted: erasure wins over what was asked before it).
    """
    with transaction.atomic():
        pending, person = open_link(token, lock=True)
        if not policy.erased_since(pending.address_hash, pending.created_at):
            return _record(pending, person)
        pending.delete()
    raise links.GoneLink("the person was erased after this signup was made")


def _record(pending, person):
    page = pending.page
    confirmation = policy.record_confirmed_opt_in(
        pending.address_hash,
        pending.channels,
        wording=pending.wording,
        page_id=page.pk,
        page_title=page.title,
        page_url=page.full_url or "",
        requested_at=pending.created_at,
    )
    join_audience(
        person["address"],
        person["first_name"],
        pending.audience_id,
        consent_source=f"Signup page “{page.title}” {page.full_url or ''}".strip(),
        confirmed_at=confirmation.confirmed_at,
    )
    PendingSignup.objects.filter(address_hash=pending.address_hash, page=page).delete()
    return confirmation


def delete_expired(now=None):
    """Delete the signups nobody confirmed in time; returns how many."""
    deleted, _ = PendingSignup.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
