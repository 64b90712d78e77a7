"""Claiming batches: a chain takes the next range of untouched rows without writing them,
and the range is its own only while its lease runs; a row claim scans the pending rows
above the last it took, not every row claimed before it, and still finds a row handed
back below that."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, Delivery, SendChain
from campaigns.sending import chains, claims
from tests.factories import make_audience, make_campaign, make_page, start

pytestmark = pytest.mark.django_db


def started_campaign(people):
    campaign = make_campaign(make_page(), make_audience("Customers", people))
    start(campaign)
    return campaign


def pending_index_reads():
    with connection.cursor() as cursor:
        cursor.execute(  # this transaction's scans of the index and the entries they read
            "SELECT pg_stat_get_xact_numscans(i), pg_stat_get_xact_tuples_returned(i)"
            " FROM CAST('delivery_pending_idx' AS regclass) AS i"
        )
        return cursor.fetchone()


def test_a_claim_does_not_walk_the_rows_claimed_before_it(postgres, sender_settings):
    """In the partial index on pending rows, every claimed row keeps an entry until VACUUM:
    scanned from the campaign's first id, the tenth claim of a campaign read them all."""
    campaign = started_campaign([(f"p{n}@example.com", f"P{n}") for n in range(100)])
    with connection.cursor() as cursor:  # the tables are tiny: make the planner take the index
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    for _ in range(9):
        assert len(claims.claim(campaign.pk, 10)) == 10
    scans, read = pending_index_reads()
    assert len(claims.claim(campaign.pk, 10)) == 10
    more_scans, more_read = pending_index_reads()
    assert more_scans > scans
    assert more_read - read <= 11  # without the mark: the 90 claimed before, then 10


def test_a_row_handed_back_below_the_last_claim_is_still_claimed(sender_settings):
    campaign = started_campaign([(f"p{n}@example.com", f"P{n}") for n in range(6)])
    first = claims.claim(campaign.pk, 3)
    assert len(claims.claim(campaign.pk, 3)) == 3
    # As another worker's release or an A/B test's decision would, unknown to this process.
    Delivery.objects.filter(pk=first[0].pk).update(status=Delivery.Status.PENDING, claimed_until=None)
    assert [delivery.pk for delivery in claims.claim(campaign.pk, 3)] == [first[0].pk]


def sent(batch):
    """What the chain's worker does before its chain claims again."""
    Delivery.objects.filter(pk__in=[delivery.pk for delivery in batch]).update(status=Delivery.Status.SENT)
    return [delivery.pk for delivery in batch]


def chain_claims(people):
    """A started campaign with its chains open (claims then take ranges)."""
    campaign = started_campaign([(f"p{n}@example.com", f"P{n}") for n in range(people)])
    chains.open_chains(campaign.pk)
    return campaign


def deliveries_written():
    with connection.cursor() as cursor:  # this transaction's updates of delivery rows
        cursor.execute(f"SELECT pg_stat_get_xact_tuples_updated(CAST('{Delivery._meta.db_table}' AS regclass))")
        return cursor.fetchone()[0]


def test_a_chain_takes_its_batch_as_a_range_and_writes_no_delivery(postgres, sender_settings):
    campaign = chain_claims(10)
    written = deliveries_written()
    batch = claims.claim(campaign.pk, 4, slot=0)
    assert deliveries_written() == written
    ids = [delivery.pk for delivery in batch]
    assert len(ids) == 4 and Delivery.objects.get(pk=ids[0]).status == Delivery.Status.PENDING
    campaign.refresh_from_db()
    assert campaign.taken_up_to == ids[-1]
    chain = SendChain.objects.get(campaign=campaign, slot=0)
    assert (chain.range_from, chain.range_to) == (ids[0], ids[-1])


def test_chains_taking_turns_share_out_every_row_once(postgres, sender_settings):
    campaign = chain_claims(11)
    taken = []
    for slot in (0, 1, 0, 1, 0):
        taken += sent(claims.claim(campaign.pk, 3, slot=slot))
    assert sorted(taken) == sorted(set(taken))
    assert set(taken) == set(Delivery.objects.filter(campaign=campaign).values_list("pk", flat=True))


def test_a_chain_s_range_is_its_own_while_its_lease_runs_then_anyone_s(postgres, sender_settings):
    campaign = chain_claims(6)
    held = [delivery.pk for delivery in claims.claim(campaign.pk, 3, slot=0)]
    assert len(sent(claims.claim(campaign.pk, 3, slot=1))) == 3
    # Chain 0's rows are unsent and still pending, as when its worker died mid-batch.
    assert claims.claim(campaign.pk, 3, slot=1) == []
    SendChain.objects.filter(campaign=campaign, slot=0).update(lease_until=timezone.now() - timedelta(seconds=1))
    taken = claims.claim(campaign.pk, 3, slot=1)
    assert [delivery.pk for delivery in taken] == held
    assert set(Delivery.objects.filter(pk__in=held).values_list("status", flat=True)) == {Delivery.Status.CLAIMED}


def test_a_chain_s_row_claim_never_reaches_above_the_rows_handed_out_as_ranges(postgres, sender_settings):
    """A range handed out while a row claim's statement runs is above what that statement
    saw as the campaign's `taken_up_to`: the claim cannot take it from under its chain."""
    campaign = chain_claims(6)
    ids = list(Delivery.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True))
    Campaign.objects.filter(pk=campaign.pk).update(taken_up_to=ids[1])
    rows = claims.lease_rows(campaign.pk, 10, 0, slot=1)
    assert [row[0] for row in rows] == ids[:2]


def test_a_row_put_off_from_a_range_gets_a_lease_of_its_own(postgres, sender_settings):
    campaign = chain_claims(3)
    first, *_ = claims.claim(campaign.pk, 3, slot=0)
    claims.defer([(first, 60)])
    row = Delivery.objects.get(pk=first.pk)
    assert row.status == Delivery.Status.CLAIMED
    assert timedelta(seconds=55) < row.claimed_until - timezone.now() <= timedelta(seconds=60)
