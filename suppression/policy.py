"""Who may get what: the one place that decides whether a stream may reach an address.

| stream      | blocked by                                   |
| ----------- | -------------------------------------------- |
| promotional | email_marketing, complaint, undeliverable    |
| account     | undeliverable                                |

Postal and third-party channels never block email; their exports consult them.
"""

import hashlib
from datetime import timedelta

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Case, CharField, Exists, IntegerField, Min, OuterRef, Q, Value, When
from django.utils import timezone

from config import prepared

from .addresses import address_hash, normalise_address
from .models import (
    Channel,
    ConsentEvent,
    ConsentWording,
    DroppedMessage,
    SignupConfirmation,
    Source,
    Stream,
    Suppression,
)

# The channels that block each stream, most serious first: when several block an address,
# the first of them names it, in Python (blocked_by_hash) and in SQL (blocking_channels).
BLOCKING = {
    Stream.PROMOTIONAL: (Channel.UNDELIVERABLE, Channel.COMPLAINT, Channel.EMAIL_MARKETING),
    Stream.ACCOUNT: (Channel.UNDELIVERABLE,),
}
# Channels a person closes and reopens themselves; the others the system records.
PERSONAL_CHANNELS = (Channel.EMAIL_MARKETING, Channel.POSTAL_MARKETING, Channel.THIRD_PARTY_SHARING)
SYSTEM_CHANNELS = (Channel.UNDELIVERABLE, Channel.COMPLAINT)
# "Undo" right after unsubscribing reopens only an opt-out made by the link, this recently.
UNDOABLE_SOURCES = (Source.LINK, Source.ONE_CLICK)
UNDO_WINDOW = timedelta(hours=1)
_LOOKUP_CHUNK = 5000


class PolicyError(Exception):
    """An attempt to change consent in a way the policy forbids."""


def blocked(addresses, stream, known=None):
    """Map each blocked address (as given) to the channel that blocks it for `stream`.

    known: {address: its keyed hash} for addresses whose hash the caller holds (a
    contact's email_hash), so they are not hashed again."""
    known = known or {}
    by_hash = {}
    for address in addresses:
        by_hash.setdefault(known.get(address) or address_hash(address), []).append(address)
    return {
        address: channel for hash_, channel in blocked_by_hash(by_hash, stream).items() for address in by_hash[hash_]
    }


def blocked_by_hash(hashes, stream):
    """Map each blocked address hash to the channel that blocks it for `stream`: for callers
    that already hold the hashes (a contact's email_hash), so nothing is hashed twice."""
    channels = BLOCKING[Stream(stream)]
    hashes = list(set(hashes))
    result = {}
    for start in range(0, len(hashes), _LOOKUP_CHUNK):
        for hash_, channel in _ledger_rows(hashes[start : start + _LOOKUP_CHUNK]):
            # The most serious channel wins; channels that do not block this stream are ignored.
            if channel in channels and (hash_ not in result or channels.index(channel) < channels.index(result[hash_])):
                result[hash_] = channel
    return result


def _ledger_rows(hashes):
    """(address_hash, channel) for every ledger row of `hashes`, in any channel.

    On PostgreSQL the hashes travel as one comma-joined string split by the server: an
    array or IN list of 1,000 parameters costs more to build in Python than the index
    lookups themselves. The channel is filtered by the caller, so the lookup is one probe of
    the hash index per hash (migration 0003). Hashes are hex, so never contain a comma.
    """
    if connection.vendor == "postgresql":
        # Not prepared (config.prepared): a generic plan, blind to how many hashes come,
        # took 75 ms for 1,000 among 1,000,000 rows against 5 ms planned for them.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT address_hash, channel FROM {Suppression._meta.db_table} "
                "WHERE address_hash = ANY(string_to_array(%s, ','))",
                [",".join(hashes)],
            )
            return cursor.fetchall()
    return Suppression.objects.filter(address_hash__in=hashes).values_list("address_hash", "channel")


def blocking_channels(stream):
    """Each blocked hash with the channel that blocks it (`address_hash`, `blocked_by`), as a
    queryset to join against: for a million rows a hash join beats a subquery per row. The
    most serious channel wins, ranked by BLOCKING's order as blocked_by_hash ranks them."""
    channels = BLOCKING[Stream(stream)]
    rank = Case(
        *[When(channel=channel, then=Value(n)) for n, channel in enumerate(channels)], output_field=IntegerField()
    )
    named = Case(*[When(rank=n, then=Value(channel)) for n, channel in enumerate(channels)], output_field=CharField())
    return (
        Suppression.objects.filter(channel__in=channels)
        .values("address_hash")
        .annotate(rank=Min(rank))
        .annotate(blocked_by=named)
        .order_by()
    )


def is_suppressed(address, channel):
    return Suppression.objects.filter(address_hash=address_hash(address), channel=channel).exists()


def record_opt_out(address, channel, source, *, hashed=None, actor="", note="", reason="", campaign_id=None):
    """Close `channel` for `address` at once; True if it was open. Idempotent; only a change is logged.

    `hashed` is the address's keyed hash when only that is known (a link's token): pass
    address="" with it. For an erased person the row keeps no address, note or reason.
    """
    row = {
        "address": normalise_address(address),
        "address_hash": hashed or address_hash(address),
        "channel": channel,
        "source": source,
        "reason": reason,
        "actor": actor,
        "note": note,
        "campaign_id": campaign_id,
    }
    if connection.vendor == "postgresql":
        return _close_in_one_statement(row)
    with transaction.atomic():
        if Suppression.objects.filter(address_hash=row["address_hash"], source=Source.ERASURE).exists():
            row.update(address="", note="", reason="")
        _, created = Suppression.objects.get_or_create(address_hash=row["address_hash"], channel=channel, defaults=row)
        if created:
            ConsentEvent.objects.create(
                address_hash=row["address_hash"],
                channel=channel,
                action=ConsentEvent.Action.OPT_OUT,
                source=source,
                actor=actor,
                note=row["note"] or row["reason"],
                campaign_id=campaign_id,
            )
    return created


def _close_in_one_statement(row):
    """The ledger row and its consent event in one prepared statement: one round trip, one commit.

    One-click unsubscribes arrive in bursts after every campaign; the ORM's get_or_create
    in a transaction took seven round trips and about five times as long, and planning
    this statement afresh took as long as running it (config.prepared).

    Outside a transaction the statement also stands in for Django's health-check ping of a
    kept connection (a round trip of its own, 0.15 ms here, a third of the statement's
    time): a connection found dead is closed and the statement run once more on a new one.
    Running it twice is safe, as closing a closed channel changes nothing.
    """
    if connection.in_atomic_block:
        return _run_close(row)
    # Django's own flag (BaseDatabaseWrapper, since 4.1): the check for this request is done.
    connection.health_check_done = True
    try:
        return _run_close(row)
    except (OperationalError, InterfaceError):
        connection.close()
        return _run_close(row)


def _run_close(row):
    params = {**row, "opt_out": ConsentEvent.Action.OPT_OUT, "erasure": Source.ERASURE}
    return prepared.execute(_CLOSE, params).rowcount == 1


_CLOSE = f"""
    WITH erased AS MATERIALIZED (  -- looked up once, not once per CASE
        SELECT EXISTS (
            SELECT 1 FROM {Suppression._meta.db_table}
            WHERE address_hash = %(address_hash)s::text AND source = %(erasure)s::text
        ) AS yes
    ), closed AS (
        INSERT INTO {Suppression._meta.db_table}
            (address, address_hash, channel, source, reason, actor, note, campaign_id, created_at)
        SELECT CASE WHEN yes THEN '' ELSE %(address)s::text END, %(address_hash)s::text, %(channel)s::text,
               %(source)s::text, CASE WHEN yes THEN '' ELSE %(reason)s::text END, %(actor)s::text,
               CASE WHEN yes THEN '' ELSE %(note)s::text END, %(campaign_id)s::bigint, now()
        FROM erased
        ON CONFLICT (address_hash, channel) DO NOTHING
        RETURNING address_hash, channel, source, actor, note, reason, campaign_id, created_at
    )
    INSERT INTO {ConsentEvent._meta.db_table}
        (address_hash, channel, action, source, actor, note, campaign_id, created_at)
    SELECT address_hash, channel, %(opt_out)s::text, source, actor, CASE WHEN note <> '' THEN note ELSE reason END,
           campaign_id, created_at
    FROM closed
"""


def is_erased(hashed):
    """True once the person with this address hash was erased (policy.erase)."""
    return Suppression.objects.filter(address_hash=hashed, source=Source.ERASURE).exists()


def erased_since(hashed, moment):
    """True if the person with this address hash was erased after `moment`."""
    return ConsentEvent.objects.filter(
        address_hash=hashed, action=ConsentEvent.Action.ERASED, created_at__gt=moment
    ).exists()


@transaction.atomic
def record_opt_in(hashed, channel, *, note=""):
    """The person reopens one of their own channels: in the preference centre, or by undoing
    an unsubscribe right after it (undo_opt_out). `hashed` is the address's keyed hash.

    Never after erasure: the one thing that may reopen a channel for an erased person is a
    new confirmed opt-in (record_confirmed_opt_in), and nothing else deletes an erasure row.
    """
    if channel not in PERSONAL_CHANNELS:
        raise PolicyError(f"{channel} is recorded by the system; a person cannot opt back in to it.")
    if is_erased(hashed):
        raise PolicyError("This address was erased at the person's request; it stays suppressed.")
    deleted, _ = Suppression.objects.filter(address_hash=hashed, channel=channel).delete()
    if deleted:
        ConsentEvent.objects.create(
            address_hash=hashed,
            channel=channel,
            action=ConsentEvent.Action.OPT_IN,
            source=Source.PREFERENCE_CENTRE,
            actor="the person",
            note=note,
        )
    return bool(deleted)


def wording_version(text):
    """The version of a consent wording: the SHA-256 of the exact text shown."""
    return hashlib.sha256(text.encode()).hexdigest()


def keep_wording(text):
    """The ConsentWording row of `text`, made the first time this version is agreed to."""
    wording, _ = ConsentWording.objects.get_or_create(version=wording_version(text), defaults={"text": text})
    return wording


@transaction.atomic
def record_confirmed_opt_in(hashed, channels, *, wording, page_id, page_title, page_url, requested_at):
    """A confirmed signup (double opt-in): the person asked on a signup page and then followed
    the link mailed to their address. Reopens each of `channels` whatever closed it, an
    unsubscribe or an erasure: the one path that may reopen a channel after erasure (DESIGN
    invariant 7). Channels not named stay as they are, so an erased person's other channels
    stay locked.

    Every channel named gets an opt-in event with source `signup`, even one that was open
    (the consent is new), pointing at the SignupConfirmation returned: the proof, with the
    page and the exact wording shown. System channels (undeliverable, complaint) are not the
    person's to reopen: an Admin lifts them, with a reason.
    """
    channels = list(dict.fromkeys(channels))
    if not channels or any(channel not in PERSONAL_CHANNELS for channel in channels):
        raise PolicyError(f"A signup confirms only the person's own channels, not {channels}.")
    confirmation = SignupConfirmation.objects.create(
        address_hash=hashed,
        channels=channels,
        page_id=page_id,
        page_title=page_title,
        page_url=page_url,
        wording=wording,
        requested_at=requested_at,
    )
    Suppression.objects.filter(address_hash=hashed, channel__in=channels).delete()
    ConsentEvent.objects.bulk_create(
        ConsentEvent(
            address_hash=hashed,
            channel=channel,
            action=ConsentEvent.Action.OPT_IN,
            source=Source.SIGNUP,
            actor="the person",
            confirmation=confirmation,
        )
        for channel in channels
    )
    return confirmation


@transaction.atomic
def undo_opt_out(hashed, campaign_id):
    """The "Undo" on the page shown after unsubscribing: reopens email offers only when the
    opt-out was made with this campaign's link (button or one-click) under UNDO_WINDOW ago.

    Anything else (staff-recorded, an old opt-out, another campaign's link) stays: the
    preference centre is where a person changes their mind later.
    """
    row = Suppression.objects.filter(address_hash=hashed, channel=Channel.EMAIL_MARKETING).first()
    if row is None:
        return False
    undoable = (
        row.source in UNDOABLE_SOURCES
        and row.campaign_id == campaign_id
        and row.created_at > timezone.now() - UNDO_WINDOW
    )
    if not undoable and not is_erased(hashed):  # record_opt_in refuses an erased person itself
        raise PolicyError("This unsubscribe can no longer be undone here. Tick Email offers below to get them again.")
    return record_opt_in(hashed, Channel.EMAIL_MARKETING, note="undo right after unsubscribing")


@transaction.atomic
def lift_suppression(address_hash_value, channel, *, actor, reason):
    """An admin lifts a suppression the system recorded (e.g. a bounce in error)."""
    if channel not in SYSTEM_CHANNELS:
        raise PolicyError("Only the person can lift their own opt-out, from the preference centre.")
    if not reason.strip():
        raise PolicyError("Lifting a suppression needs a reason.")
    deleted, _ = Suppression.objects.filter(address_hash=address_hash_value, channel=channel).delete()
    if deleted:
        ConsentEvent.objects.create(
            address_hash=address_hash_value,
            channel=channel,
            action=ConsentEvent.Action.LIFTED,
            source=Source.ADMIN,
            actor=actor,
            note=reason,
        )
    return bool(deleted)


def blocked_hashes(stream):
    """Address hashes `stream` may not reach, as a queryset of `address_hash` values for set-based SQL."""
    return Suppression.objects.filter(channel__in=BLOCKING[Stream(stream)]).values("address_hash")


def suppressed_for(hash_field, channel):
    """An Exists() that is true when the row's `hash_field` has closed `channel` (for exports)."""
    return Exists(Suppression.objects.filter(address_hash=OuterRef(hash_field), channel=channel))


def record_opt_outs(addresses, channel, source, *, actor="", note=""):
    """record_opt_out for many addresses in set-based steps; returns how many were newly closed."""
    by_hash = {address_hash(address): normalise_address(address) for address in addresses}
    with transaction.atomic():
        existing, erased = set(), set()
        hashes = list(by_hash)
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            rows = Suppression.objects.filter(address_hash__in=hashes[start : start + _LOOKUP_CHUNK]).filter(
                Q(channel=channel) | Q(source=Source.ERASURE)
            )
            for hash_, row_channel, row_source in rows.values_list("address_hash", "channel", "source"):
                if row_channel == channel:
                    existing.add(hash_)
                if row_source == Source.ERASURE:
                    erased.add(hash_)
        new = [hash_ for hash_ in hashes if hash_ not in existing]
        Suppression.objects.bulk_create(
            [
                Suppression(
                    address_hash=h,
                    address="" if h in erased else by_hash[h],  # an erased person's address is not kept again
                    channel=channel,
                    source=source,
                    actor=actor,
                    note="" if h in erased else note,
                )
                for h in new
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        ConsentEvent.objects.bulk_create(
            [
                ConsentEvent(
                    address_hash=h,
                    channel=channel,
                    action=ConsentEvent.Action.OPT_OUT,
                    source=source,
                    actor=actor,
                    note="" if h in erased else note,
                )
                for h in new
            ],
            batch_size=1000,
        )
    return len(new)


def closed_by_campaign(campaign_id, channel):
    """Address hashes whose `channel` closed citing `campaign_id`: for email offers, people
    who used its unsubscribe link; for undeliverable, its hard bounces and mailbox
    rejections, reported by the ESP's webhooks or at hand-off.

    A queryset, so callers can count it or combine it in SQL.
    """
    return (
        ConsentEvent.objects.filter(campaign_id=campaign_id, channel=channel, action=ConsentEvent.Action.OPT_OUT)
        .order_by()
        .values("address_hash")
        .distinct()
    )


def open_channels(hashed):
    """For the preference centre: each personal channel → True while the person receives it."""
    closed = set(
        Suppression.objects.filter(address_hash=hashed, channel__in=PERSONAL_CHANNELS).values_list("channel", flat=True)
    )
    return {channel: channel not in closed for channel in PERSONAL_CHANNELS}


@transaction.atomic
def set_preferences(hashed, wanted, *, address="", campaign_id=None):
    """Apply the person's choices from the preference centre; return the channels that changed.

    `hashed` is the address's keyed hash (all a link's token carries; `address` when known).
    `wanted` maps personal channels to True (keep receiving) or False (opt out); channels
    not named are left alone.
    """
    current = open_channels(hashed)
    changed = []
    for channel, receive in wanted.items():
        if channel not in PERSONAL_CHANNELS or current[channel] == receive:
            continue
        if receive:
            record_opt_in(hashed, channel)
        else:
            record_opt_out(
                address,
                channel,
                Source.PREFERENCE_CENTRE,
                hashed=hashed,
                actor="the person",
                campaign_id=campaign_id,
            )
        changed.append(channel)
    return changed


@transaction.atomic
def erase(address, *, actor):
    """Forget the person but keep them suppressed (DESIGN invariant 7).

    Every personal channel is closed with source `erasure`, whatever was recorded there
    before (an earlier unsubscribe keeps no source a person or admin could undo); every
    ledger row keeps only the keyed hash; free-text notes and the subjects of dropped
    messages are blanked.
    """
    hash_ = address_hash(address)
    already = set(
        Suppression.objects.filter(address_hash=hash_, source=Source.ERASURE).values_list("channel", flat=True)
    )
    locked = [channel for channel in PERSONAL_CHANNELS if channel not in already]
    for channel in locked:
        Suppression.objects.update_or_create(
            address_hash=hash_,
            channel=channel,
            defaults={"source": Source.ERASURE, "actor": actor, "campaign_id": None},
        )
    Suppression.objects.filter(address_hash=hash_).update(address="", note="", reason="")
    ConsentEvent.objects.filter(address_hash=hash_).update(note="")
    DroppedMessage.objects.filter(address_hash=hash_).update(subject="")
    ConsentEvent.objects.bulk_create(
        [
            ConsentEvent(
                address_hash=hash_,
                channel=channel,
                action=ConsentEvent.Action.OPT_OUT,
                source=Source.ERASURE,
                actor=actor,
            )
            for channel in locked
        ]
        + [
            ConsentEvent(
                address_hash=hash_,
                channel=Channel.EMAIL_MARKETING,
                action=ConsentEvent.Action.ERASED,
                source=Source.ERASURE,
                actor=actor,
            )
        ]
    )


def person_record(address):
    """Everything the ledger holds about one address, as plain data (for a data export),
    with each confirmed signup's proof: the page and the wording the person agreed to."""
    hash_ = address_hash(address)
    suppressions = Suppression.objects.filter(address_hash=hash_).order_by("created_at", "id")
    events = ConsentEvent.objects.filter(address_hash=hash_).order_by("created_at", "id")
    confirmations = (
        SignupConfirmation.objects.filter(address_hash=hash_).select_related("wording").order_by("confirmed_at", "id")
    )
    return {
        "suppressions": [
            {
                "channel": row.channel,
                "source": row.source,
                "reason": row.reason,
                "note": row.note,
                "campaign_id": row.campaign_id,
                "created_at": row.created_at.isoformat(),
            }
            for row in suppressions
        ],
        "consent_events": [
            {
                "action": event.action,
                "channel": event.channel,
                "source": event.source,
                "actor": event.actor,
                "note": event.note,
                "campaign_id": event.campaign_id,
                "signup_confirmation": event.confirmation_id,
                "created_at": event.created_at.isoformat(),
            }
            for event in events
        ],
        "signup_confirmations": [
            {
                "id": confirmation.pk,
                "channels": confirmation.channels,
                "page_id": confirmation.page_id,
                "page_title": confirmation.page_title,
                "page_url": confirmation.page_url,
                "requested_at": confirmation.requested_at.isoformat(),
                "confirmed_at": confirmation.confirmed_at.isoformat(),
                "wording_version": confirmation.wording.version,
                "wording": confirmation.wording.text,
            }
            for confirmation in confirmations
        ],
    }
