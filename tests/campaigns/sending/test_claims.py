"""Claiming batches: a claim scans the pending rows above the last it took, not every row
claimed before it, and still finds a row handed back below that."""

import pytest
from django.db import connection

from campaigns.models import Delivery
from campaigns.sending import claims
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
