"""Writing a chunk's outcomes: every value lands as written, a flush with nothing to write
only reads, and on PostgreSQL the write finds its rows by primary key however the table
grew since the plan was made."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Campaign, Delivery
from campaigns.sending import claims, outcomes
from tests.factories import make_audience, make_campaign, make_page, start

pytestmark = pytest.mark.django_db

# JSON and array-literal syntax, quotes, a backslash, a NUL-free control character, non-ASCII.
AWKWARD = 'He said "no", {1,2} [3] \\ \' \t ñ 😀 NULL'


def test_outcomes_keep_every_value_as_written(sender_settings):
    campaign = make_campaign(
        make_page(), make_audience("Customers", [("ada@example.com", "Ada"), ("bo@example.com", "Bo")])
    )
    start(campaign)
    failed, retried = claims.claim(campaign.pk, 10)
    until = timezone.now().replace(microsecond=123456) + timedelta(minutes=5)
    recorder = outcomes.Recorder(campaign.pk)
    recorder.add(failed, Delivery.Status.FAILED, AWKWARD, message_id="id,with,commas")
    recorder.add(retried, Delivery.Status.CLAIMED, "try again", claimed_until=until)
    status, sent, failed_count = recorder.flush()
    assert (status, sent, failed_count) == (Campaign.Status.SENDING, 0, 1)
    row = Delivery.objects.get(pk=failed.pk)
    assert (row.status, row.reason, row.esp_message_id, row.attempts) == ("failed", AWKWARD, "id,with,commas", 1)
    row = Delivery.objects.get(pk=retried.pk)
    assert (row.status, row.reason, row.claimed_until, row.attempts) == ("claimed", "try again", until, 1)


def test_no_plan_of_the_chunk_write_scans_the_deliveries(postgres, sender_settings):
    """The statement is prepared: PostgreSQL plans it for its values five times, then may
    keep one plan for the connection. No plan may scan the deliveries: a table not yet
    analyzed after a campaign's snapshot looks small enough to scan, and a kept scan went
    on as the table grew (a JSON row source looks like 100 rows to the planner)."""
    campaign = make_campaign(make_page(), make_audience("Nobody", []))
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, contact_id, email_hash, status, reason, attempts, esp_message_id)"
            " SELECT %s, i, md5(i::text), 'claimed', '', 0, '' FROM generate_series(1, 20000) AS i",
            [campaign.pk],
        )
        cursor.execute("SELECT min(id) FROM " + table)
        (first,) = cursor.fetchone()
    scans = f"SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = '{table}'"
    with connection.cursor() as cursor:
        cursor.execute(scans)
        (before,) = cursor.fetchone()
    for run in range(8):  # past the five custom plans
        rows = [(first + run * 50 + n, "sent", "", f"id-{n}", None) for n in range(50)]
        outcomes.write_outcomes(rows, timezone.now(), campaign.pk)
    with connection.cursor() as cursor:
        cursor.execute(scans)
        (after,) = cursor.fetchone()
        cursor.execute(f"SELECT count(*) FROM {table} WHERE status = 'sent'")
        (written,) = cursor.fetchone()
    assert (after - before, written) == (0, 400)


def test_a_flush_with_nothing_recorded_reads_the_standing_and_writes_nothing(sender_settings):
    campaign = make_campaign(make_page(), make_audience("Customers", [("ada@example.com", "Ada")]))
    start(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(sent_count=3, failed_count=2)
    with CaptureQueriesContext(connection) as queries:
        standing = outcomes.Recorder(campaign.pk).flush()
    assert standing == (Campaign.Status.SENDING, 3, 2)
    assert [query["sql"] for query in queries if not query["sql"].lstrip().upper().startswith("SELECT")] == []
