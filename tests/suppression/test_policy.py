"""Policy: per-stream blocking, address variants, opt-in and lifting rules, the event log."""

import pytest
from django.db import connection

from suppression import policy
from suppression.addresses import address_hash, normalise_address
from suppression.models import Channel, ConsentEvent, Source, Suppression
from tests.prepared import prepared_statements

pytestmark = pytest.mark.django_db


def test_blocking_table_per_stream():
    policy.record_opt_out("optout@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    policy.record_opt_out("bounced@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    policy.record_opt_out("angry@example.com", Channel.COMPLAINT, Source.COMPLAINT)
    policy.record_opt_out("nopost@example.com", Channel.POSTAL_MARKETING, Source.PHONE)
    everyone = [
        "optout@example.com",
        "bounced@example.com",
        "angry@example.com",
        "nopost@example.com",
        "ok@example.com",
    ]
    assert policy.blocked(everyone, "promotional") == {
        "optout@example.com": Channel.EMAIL_MARKETING,
        "bounced@example.com": Channel.UNDELIVERABLE,
        "angry@example.com": Channel.COMPLAINT,
    }
    assert policy.blocked(everyone, "account") == {"bounced@example.com": Channel.UNDELIVERABLE}


def test_address_variants_are_one_person():
    policy.record_opt_out("  Ada@EXAMPLE.com ", Channel.EMAIL_MARKETING, Source.LINK)
    assert policy.blocked(["ada@example.com", "ADA@example.COM"], "promotional") == {
        "ada@example.com": Channel.EMAIL_MARKETING,
        "ADA@example.COM": Channel.EMAIL_MARKETING,
    }
    assert normalise_address(" Ada@Bücher.Example ") == "Ada@xn--bcher-kva.example"


def test_a_hash_the_caller_holds_is_checked_as_given_and_the_rest_are_hashed():
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    known = {"Ada <ada@example.com>": address_hash("ada@example.com"), "grace@example.com": None}
    everyone = [*known, "ADA@example.com"]
    assert policy.blocked(everyone, "promotional", known) == {
        "Ada <ada@example.com>": Channel.EMAIL_MARKETING,  # held: no parsing of the display name
        "ADA@example.com": Channel.EMAIL_MARKETING,
    }


def test_person_may_opt_back_in_only_to_their_own_channels():
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    policy.record_opt_out("ada@example.com", Channel.COMPLAINT, Source.COMPLAINT)
    assert policy.record_opt_in(address_hash("ada@example.com"), Channel.EMAIL_MARKETING) is True
    with pytest.raises(policy.PolicyError):
        policy.record_opt_in(address_hash("ada@example.com"), Channel.COMPLAINT)
    assert policy.blocked(["ada@example.com"], "promotional") == {"ada@example.com": Channel.COMPLAINT}
    actions = list(ConsentEvent.objects.order_by("id").values_list("channel", "action"))
    assert actions == [
        (Channel.EMAIL_MARKETING, "opt_out"),
        (Channel.COMPLAINT, "opt_out"),
        (Channel.EMAIL_MARKETING, "opt_in"),
    ]


def test_admin_lifts_only_system_suppressions_with_a_reason():
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    policy.record_opt_out("ada@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    hash_ = address_hash("ada@example.com")
    with pytest.raises(policy.PolicyError):
        policy.lift_suppression(hash_, Channel.EMAIL_MARKETING, actor="admin", reason="asked")
    with pytest.raises(policy.PolicyError):
        policy.lift_suppression(hash_, Channel.UNDELIVERABLE, actor="admin", reason=" ")
    assert policy.lift_suppression(hash_, Channel.UNDELIVERABLE, actor="admin", reason="bounce was a test")
    assert list(Suppression.objects.values_list("channel", flat=True)) == [Channel.EMAIL_MARKETING]
    lifted = ConsentEvent.objects.get(action="lifted")
    assert (lifted.actor, lifted.note) == ("admin", "bounce was a test")


def test_consent_events_are_append_only():
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    event = ConsentEvent.objects.get()
    event.note = "rewritten"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


def test_an_erased_row_still_blocks_by_hash():
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    Suppression.objects.update(address="")  # what erasure keeps: the keyed hash only
    assert policy.blocked(["Ada@example.com"], "promotional") == {"Ada@example.com": Channel.EMAIL_MARKETING}


def test_opt_out_is_recorded_once_with_its_event():
    assert (
        policy.record_opt_out(
            " Ada@Example.com",
            Channel.UNDELIVERABLE,
            Source.BOUNCE,
            actor="postmark",
            reason="550 no such user",
            campaign_id=7,
        )
        is True
    )
    assert policy.record_opt_out("ada@example.com", Channel.UNDELIVERABLE, Source.BOUNCE, actor="postmark") is False
    row = Suppression.objects.get()
    assert (row.address, row.address_hash, row.source, row.actor, row.reason, row.campaign_id) == (
        "Ada@example.com",
        address_hash("ada@example.com"),
        Source.BOUNCE,
        "postmark",
        "550 no such user",
        7,
    )
    event = ConsentEvent.objects.get()
    assert (event.action, event.channel, event.source, event.note, event.campaign_id) == (
        "opt_out",
        Channel.UNDELIVERABLE,
        Source.BOUNCE,
        "550 no such user",
        7,
    )


@pytest.mark.parametrize("stream", ["promotional", "account"])
def test_python_and_sql_name_the_same_channel_whichever_several_block_an_address(stream):
    import itertools

    channels = [Channel.UNDELIVERABLE, Channel.COMPLAINT, Channel.EMAIL_MARKETING, Channel.POSTAL_MARKETING]
    people = {}
    for size in range(1, len(channels) + 1):
        for combination in itertools.permutations(channels, size):  # recorded in every order
            address = f"{'-'.join(combination)}@example.com"
            for channel in combination:
                policy.record_opt_out(address, channel, Source.ADMIN)
            people[address_hash(address)] = combination
    in_sql = {row["address_hash"]: row["blocked_by"] for row in policy.blocking_channels(stream)}
    in_python = policy.blocked_by_hash(list(people), stream)
    assert in_sql == in_python
    ranking = policy.BLOCKING[stream]
    for hash_, combination in people.items():
        blocking = [channel for channel in ranking if channel in combination]
        assert in_python.get(hash_) == (blocking[0] if blocking else None)


def test_blocked_by_hash_reports_the_most_serious_channel_across_lookup_chunks():
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    policy.record_opt_out("ada@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    policy.record_opt_out("ada@example.com", Channel.POSTAL_MARKETING, Source.PHONE)
    policy.record_opt_out("grace@example.com", Channel.COMPLAINT, Source.COMPLAINT)
    strangers = [address_hash(f"stranger{n}@example.com") for n in range(policy._LOOKUP_CHUNK)]
    ada, grace = address_hash("ada@example.com"), address_hash("grace@example.com")
    assert policy.blocked_by_hash([*strangers, ada, grace], "promotional") == {
        ada: Channel.UNDELIVERABLE,
        grace: Channel.COMPLAINT,
    }
    assert policy.blocked_by_hash([ada, grace], "account") == {ada: Channel.UNDELIVERABLE}


def test_the_ledger_probe_is_planned_for_each_batch_of_hashes(postgres):
    """Never a prepared statement: a generic plan, blind to how many hashes come, took 75 ms
    for 1,000 among 1,000,000 ledger rows against 5 ms planned for them (config.prepared)."""
    for _ in range(7):  # PostgreSQL may switch a prepared statement to a generic plan after five
        policy.blocked_by_hash([address_hash("ada@example.com")], "promotional")
    assert prepared_statements("address_hash = ANY") == 0


def test_each_consent_event_writes_only_the_index_entries_a_query_reads(postgres):
    """A one-click writes one event, and every index is one more write: no LIKE index on the
    hash (db_index would add one), and signups and campaigns index only events that cite them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [ConsentEvent._meta.db_table])
        indexes = dict(cursor.fetchall())
    assert not [name for name, definition in indexes.items() if "pattern_ops" in definition]
    assert "WHERE (confirmation_id IS NOT NULL)" in indexes["consent_event_confirmation_idx"]
    assert "WHERE (campaign_id IS NOT NULL)" in indexes["consent_event_campaign_idx"]
    assert "(address_hash)" in indexes["consent_event_hash_idx"]
    assert len(indexes) == 4  # and the primary key


def test_no_keyed_hash_has_a_like_index(postgres):
    """Hashes are matched whole, never by prefix: db_index on a CharField would add a second,
    LIKE (pattern_ops) index that only costs a write per row (dropped messages, signups)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' "
            "AND indexdef ~ '(address|email)_hash' AND indexdef LIKE '%%pattern_ops%%'"
        )
        assert cursor.fetchall() == []
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%%\\_hash\\_idx'")
        names = {name for (name,) in cursor.fetchall()}
    assert {"dropped_message_hash_idx", "signup_confirmation_hash_idx", "pending_signup_hash_idx"} <= names
