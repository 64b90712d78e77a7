"""Who may get what: the one place that decides whether a stream may reach an address.

| stream      | blocked by                                   |
| ----------- | -------------------------------------------- |
| promotional | email_marketing, complaint, undeliverable    |
| account     | undeliverable                                |

Postal and third-party channels never block email; their exports consult them.
"""

from django.db import connection, transaction
from django.db.models import Case, CharField, Exists, IntegerField, Min, OuterRef, Value, When

from .addresses import address_hash, normalise_address
from .models import Channel, ConsentEvent, DroppedMessage, Source, Stream, Suppression

# The channels that block each stream, most serious first: when several block an address,
# the first of them names it, in Python (blocked_by_hash) and in SQL (blocking_channels).
BLOCKING = {
    Stream.PROMOTIONAL: (Channel.UNDELIVERABLE, Channel.COMPLAINT, Channel.EMAIL_MARKETING),
    Stream.ACCOUNT: (Channel.UNDELIVERABLE,),
}
# Channels a person closes and reopens themselves; the others the system records.
PERSONAL_CHANNELS = (Channel.EMAIL_MARKETING, Channel.POSTAL_MARKETING, Channel.THIRD_PARTY_SHARING)
SYSTEM_CHANNELS = (Channel.UNDELIVERABLE, Channel.COMPLAINT)
_LOOKUP_CHUNK = 5000


class PolicyError(Exception):
    """An attempt to change consent in a way the policy forbids."""


def blocked(addresses, stream):
    """Map each blocked address (as given) to the channel that blocks it for `stream`."""
    by_hash = {}
    for address in addresses:
        by_hash.setdefault(address_hash(address), []).append(address)
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


def record_opt_out(address, channel, source, *, actor="", note="", reason="", campaign_id=None):
    """Close `channel` for `address` at once; True if it was open. Idempotent; only a change is logged."""
    row = {
        "address": normalise_address(address),
        "address_hash": address_hash(address),
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
        _, created = Suppression.objects.get_or_create(address_hash=row["address_hash"], channel=channel, defaults=row)
        if created:
            ConsentEvent.objects.create(
                address_hash=row["address_hash"],
                channel=channel,
                action=ConsentEvent.Action.OPT_OUT,
                source=source,
                actor=actor,
                note=note or reason,
                campaign_id=campaign_id,
            )
    return created


def _close_in_one_statement(row):
    """The ledger row and its consent event in one statement: one round trip and one commit.

    One-click unsubscribes arrive in bursts after every campaign; the ORM's get_or_create
    in a transaction took seven round trips and about five times as long.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH closed AS (
                INSERT INTO {Suppression._meta.db_table}
                    (address, address_hash, channel, source, reason, actor, note, campaign_id, created_at)
                VALUES (%(address)s, %(address_hash)s, %(channel)s, %(source)s, %(reason)s, %(actor)s, %(note)s,
                        %(campaign_id)s, now())
                ON CONFLICT (address_hash, channel) DO NOTHING
                RETURNING address_hash, channel, source, actor, campaign_id, created_at
            )
            INSERT INTO {ConsentEvent._meta.db_table}
                (address_hash, channel, action, source, actor, note, campaign_id, created_at)
            SELECT address_hash, channel, %(action)s, source, actor, %(event_note)s, campaign_id, created_at
            FROM closed
            """,
            {**row, "action": ConsentEvent.Action.OPT_OUT, "event_note": row["note"] or row["reason"]},
        )
        return cursor.rowcount == 1


@transaction.atomic
def record_opt_in(address, channel, *, note=""):
    """The person reopens one of their own channels, only from the preference centre.

    An erased person's suppressions stay: their data is gone, so nothing may mail them again.
    """
    if channel not in PERSONAL_CHANNELS:
        raise PolicyError(f"{channel} is recorded by the system; a person cannot opt back in to it.")
    hash_ = address_hash(address)
    rows = Suppression.objects.filter(address_hash=hash_, channel=channel)
    if rows.filter(source=Source.ERASURE).exists():
        raise PolicyError("This address was erased at the person's request; it stays suppressed.")
    deleted, _ = rows.delete()
    if deleted:
        ConsentEvent.objects.create(
            address_hash=hash_,
            channel=channel,
            action=ConsentEvent.Action.OPT_IN,
            source=Source.PREFERENCE_CENTRE,
            actor="the person",
            note=note,
        )
    return bool(deleted)


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
        existing = set()
        hashes = list(by_hash)
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            existing.update(
                Suppression.objects.filter(
                    address_hash__in=hashes[start : start + _LOOKUP_CHUNK], channel=channel
                ).values_list("address_hash", flat=True)
            )
        new = [hash_ for hash_ in hashes if hash_ not in existing]
        Suppression.objects.bulk_create(
            [
                Suppression(address_hash=h, address=by_hash[h], channel=channel, source=source, actor=actor, note=note)
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
                    note=note,
                )
                for h in new
            ],
            batch_size=1000,
        )
    return len(new)


def opt_outs_by_campaign(campaign_id):
    """Address hashes that opted out of email offers citing `campaign_id` (its unsubscribe link).

    A queryset, so callers can count it or combine it in SQL.
    """
    return (
        ConsentEvent.objects.filter(
            campaign_id=campaign_id, channel=Channel.EMAIL_MARKETING, action=ConsentEvent.Action.OPT_OUT
        )
        .order_by()
        .values("address_hash")
        .distinct()
    )


def open_channels(address):
    """For the preference centre: each personal channel → True while the person receives it."""
    closed = set(
        Suppression.objects.filter(address_hash=address_hash(address), channel__in=PERSONAL_CHANNELS).values_list(
            "channel", flat=True
        )
    )
    return {channel: channel not in closed for channel in PERSONAL_CHANNELS}


@transaction.atomic
def set_preferences(address, wanted, *, campaign_id=None):
    """Apply the person's choices from the preference centre; return the channels that changed.

    `wanted` maps personal channels to True (keep receiving) or False (opt out); channels
    not named are left alone.
    """
    current = open_channels(address)
    changed = []
    for channel, receive in wanted.items():
        if channel not in PERSONAL_CHANNELS or current[channel] == receive:
            continue
        if receive:
            record_opt_in(address, channel)
        else:
            record_opt_out(address, channel, Source.PREFERENCE_CENTRE, actor="the person", campaign_id=campaign_id)
        changed.append(channel)
    return changed


@transaction.atomic
def erase(address, *, actor):
    """Forget the person but keep them suppressed (DESIGN invariant 7).

    Every personal channel is closed (source: erasure); every ledger row keeps only the
    keyed hash; free-text notes and the subjects of dropped messages are blanked.
    """
    hash_ = address_hash(address)
    for channel in PERSONAL_CHANNELS:
        record_opt_out(address, channel, Source.ERASURE, actor=actor)
    Suppression.objects.filter(address_hash=hash_).update(address="", note="", reason="")
    ConsentEvent.objects.filter(address_hash=hash_).update(note="")
    DroppedMessage.objects.filter(address_hash=hash_).update(subject="")
    ConsentEvent.objects.create(
        address_hash=hash_,
        channel=Channel.EMAIL_MARKETING,
        action=ConsentEvent.Action.ERASED,
        source=Source.ERASURE,
        actor=actor,
    )


def person_record(address):
    """Everything the ledger holds about one address, as plain data (for a data export)."""
    hash_ = address_hash(address)
    suppressions = Suppression.objects.filter(address_hash=hash_).order_by("created_at", "id")
    events = ConsentEvent.objects.filter(address_hash=hash_).order_by("created_at", "id")
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
                "created_at": event.created_at.isoformat(),
            }
            for event in events
        ],
    }
