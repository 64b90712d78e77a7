"""Report figures from aggregate SQL: counts per status and reason, ESP events, unsubscribes,
sent over time, and retrying failed deliveries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign, Delivery
from campaigns.reports import stats
from campaigns.sending import lifecycle
from tests.campaigns.report_data import PEOPLE, seeded_campaign
from tests.factories import make_audience, make_campaign, make_page, start

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(sender_settings):
    return seeded_campaign()


def test_results_count_every_outcome(campaign):
    results = stats.results(campaign)
    progress = results.progress
    assert (progress.total, progress.sent, progress.failed, progress.suppressed) == (10, 5, 2, 1)
    assert (progress.pending, progress.done, progress.percent) == (2, 8, 80.0)
    assert results.audience == 10 and results.snapshotted
    assert results.suppressed_by_reason == [("Spam complaint", 1)]
    assert (results.bounced, results.complained) == (1, 1)
    # person2 unsubscribed by link and the ESP reported it too: counted once.
    assert results.unsubscribed == 3
    assert (results.opened, results.clicked, results.tracking) == (2, 1, True)


def test_results_take_a_fixed_number_of_queries(campaign):
    with CaptureQueriesContext(connection) as queries:
        stats.results(campaign)
    assert len(queries) == 4  # statuses, ESP events, unsubscribes, hard bounces: no query per delivery


def test_progress_as_json_for_the_status_endpoint(campaign):
    expected = {
        "status": "sending",
        "status_label": "Sending",
        "pause_reason": "",
        "total": 10,
        "pending": 2,
        "sent": 5,
        "failed": 2,
        "suppressed": 1,
        "done": 8,
        "percent": 80.0,
    }
    with CaptureQueriesContext(connection) as queries:
        assert stats.progress(campaign).as_json() == expected  # from the campaign's counters
    assert len(queries) == 0
    assert stats.results(campaign).progress.as_json() == expected  # from counting the deliveries


def test_sent_per_minute_includes_empty_minutes(campaign):
    buckets, unit = stats.sent_over_time(campaign.pk)
    assert unit == "minute"
    assert [count for _, count in buckets] == [3, 0, 2]
    assert buckets[1][0] - buckets[0][0] == timedelta(minutes=1)


def test_long_campaigns_are_charted_per_hour(campaign):
    first = Delivery.objects.filter(campaign=campaign, status="sent").order_by("pk").first()
    Delivery.objects.filter(pk=first.pk).update(sent_at=first.sent_at - timedelta(hours=5))
    buckets, unit = stats.sent_over_time(campaign.pk)
    assert unit == "hour"
    assert sum(count for _, count in buckets) == 5 and len(buckets) in (6, 7)


def test_a_draft_reports_its_audience_size_before_the_snapshot(sender_settings):
    draft = make_campaign(make_page(), make_audience("Draft audience", PEOPLE[:4]))
    results = stats.results(draft)
    assert (results.audience, results.snapshotted, results.progress.total) == (4, False, 0)
    assert stats.sent_over_time(draft.pk) == ([], None)
    empty = make_campaign(make_page(title="Empty"), make_audience("Nobody", []))
    assert stats.results(empty).audience == 0


def test_retry_failed_requeues_failures_and_reopens_a_sent_campaign(campaign):
    Delivery.objects.filter(campaign=campaign, status="pending").update(status="sent")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENT, failed_count=2)
    assert lifecycle.retry_failed(campaign.pk) == 2
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING and campaign.finished_at is None
    assert campaign.failed_count == 0  # the failure-rate guard no longer counts them
    retried = Delivery.objects.filter(
        campaign=campaign, contact__email__in=["person5@example.com", "person6@example.com"]
    )
    assert set(retried.values_list("status", "reason")) == {("pending", "")}
    assert lifecycle.retry_failed(campaign.pk) == 0


def test_retry_failed_keeps_a_paused_campaign_paused_and_skips_cancelled(campaign):
    assert lifecycle.pause(campaign.pk)
    assert lifecycle.retry_failed(campaign.pk) == 2
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    other = start(make_campaign(make_page(title="Other"), make_audience("Other", PEOPLE[:2]), name="Other"))
    Delivery.objects.filter(campaign=other).update(status="failed")
    assert lifecycle.cancel(other.pk)
    assert lifecycle.retry_failed(other.pk) == 0
    assert Delivery.objects.filter(campaign=other, status="failed").count() == 2
