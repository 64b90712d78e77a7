"""Outages mid-send: Redis killed for 10 s, the workers' PostgreSQL connections terminated,
the ESP answering 503 then 429 with Retry-After, the SMTP server refusing connections, and
an outage longer than MAILROOM_GIVE_UP_AFTER_SECONDS."""

import time

import pytest
from django.db import connection

from campaigns.models import Campaign, Delivery, SendChain
from campaigns.sending import lifecycle
from campaigns.tasks import resume_campaign
from tests.services import RedisServer

from .conftest import FAST, assert_nothing_lost, due_campaign, received_count, status, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
TOTAL = 2_000


def moving_again_after(campaign, since, timeout=60):
    """Seconds from `since` until the campaign's deliveries move again."""
    before = received_count(campaign)
    wait_for(lambda: received_count(campaign) > before, timeout, "deliveries to move again")
    return time.monotonic() - since


def test_redis_killed_for_10_s_mid_send(stack, smtp_sink, tmp_path):
    broker = RedisServer(tmp_path).start()  # its own, so killing it harms nobody else
    try:
        stack.env |= {"REDIS_URL": broker.url}
        campaign = due_campaign(TOTAL)
        stack.workers(2)
        stack.beat()
        wait_for(lambda: len(smtp_sink.inbox.recipients()) >= TOTAL // 4, 90, "a quarter of the campaign")
        broker.kill()  # with every queued task: it keeps nothing on disk
        time.sleep(10)
        broker.start()
        back = time.monotonic()
        moved = moving_again_after(campaign, back)
        duplicates = assert_nothing_lost(campaign, smtp_sink.inbox.recipients, TOTAL)
        print(f"\nRedis down 10 s: {duplicates} sent twice; moving again {moved:.1f} s after Redis came back")
    finally:
        broker.stop()


def terminate_other_connections():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_workers_database_connections_terminated_mid_send(stack, smtp_sink):
    campaign = due_campaign(TOTAL)
    stack.workers(2)
    stack.beat()
    wait_for(lambda: len(smtp_sink.inbox.recipients()) >= TOTAL // 4, 90, "a quarter of the campaign")
    terminated = 0
    for _ in range(3):  # at three moments, so some land between a hand-off and its outcomes
        terminated += terminate_other_connections()
        time.sleep(0.5)
    cut_at = time.monotonic()
    moved = moving_again_after(campaign, cut_at)
    duplicates = assert_nothing_lost(campaign, smtp_sink.inbox.recipients, TOTAL)
    rewritten = stack.logs().count("Database connection lost")
    print(
        f"\n{terminated} PostgreSQL connections terminated: {duplicates} sent twice, {rewritten} writes done again "
        f"on a new connection; moving {moved:.1f} s after the last"
    )
    assert terminated >= 2


def test_esp_answering_503_then_429_with_retry_after_then_recovering(stack, esp_sink):
    campaign = due_campaign(TOTAL)
    stack.workers(2)
    stack.beat()
    wait_for(lambda: len(esp_sink.recipients()) >= TOTAL // 4, 90, "a quarter of the campaign")
    esp_sink.outage({"status": 503, "seconds": 20}, {"status": 429, "seconds": 5, "retry_after": 3})
    started = time.monotonic()
    during = len(esp_sink.recipients())
    wait_for(lambda: time.monotonic() - started > 25, 30, "the outage to end")
    assert len(esp_sink.recipients()) == during  # nothing got through, nothing was failed
    assert not Delivery.objects.filter(campaign=campaign, status=Delivery.Status.FAILED).exists()
    assert SendChain.objects.filter(campaign=campaign, backoffs__gt=0).exists()
    moved = moving_again_after(campaign, started + 25)
    duplicates = assert_nothing_lost(campaign, esp_sink.recipients, TOTAL)
    print(f"\nESP 503 for 20 s then 429 for 5 s: {duplicates} sent twice; moving {moved:.1f} s after it recovered")
    assert moved < 10  # backs off at most a lease (5 s here), or what Retry-After said


def test_smtp_server_refusing_connections_for_20_s(stack, smtp_sink):
    campaign = due_campaign(TOTAL)
    stack.workers(2)
    stack.beat()
    wait_for(lambda: len(smtp_sink.inbox.recipients()) >= TOTAL // 4, 90, "a quarter of the campaign")
    smtp_sink.stop()
    time.sleep(20)
    assert not Delivery.objects.filter(campaign=campaign, status=Delivery.Status.FAILED).exists()
    smtp_sink.start()
    back = time.monotonic()
    moved = moving_again_after(campaign, back)
    duplicates = assert_nothing_lost(campaign, smtp_sink.inbox.recipients, TOTAL)
    print(f"\nSMTP refusing for 20 s: {duplicates} sent twice; moving again {moved:.1f} s after it came back")
    assert moved < 10


def test_an_outage_longer_than_the_give_up_time_fails_the_batch_and_pauses(stack, smtp_sink):
    stack.env |= {"MAILROOM_GIVE_UP_AFTER_SECONDS": "3"}
    smtp_sink.stop()  # refusing connections from the start
    total = TOTAL // 4
    campaign = due_campaign(total)
    stack.workers(1)
    stack.beat()
    started = time.monotonic()
    wait_for(lambda: status(campaign) == Campaign.Status.PAUSED, 60, "the campaign to pause")
    gave_up = time.monotonic() - started
    campaign.refresh_from_db()
    assert "unavailable for over 3 s" in campaign.pause_reason
    assert "Connection refused" in campaign.pause_reason
    reasons = list(
        Delivery.objects.filter(campaign=campaign, status=Delivery.Status.FAILED).values_list("reason", flat=True)
    )
    # Only the batches in hand failed (one per chain at most); the rest wait, pending.
    assert 0 < len(reasons) <= int(FAST["MAILROOM_BATCH_SIZE"]) * int(FAST["MAILROOM_SEND_CHAINS"])
    assert all(reason.startswith("email service unavailable for over 3 s: ") for reason in reasons)
    assert campaign.failed_count == len(reasons) and campaign.sent_count == 0
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).count() == total - len(reasons)
    # Nothing is lost: once the server is back, retrying and resuming send everyone.
    smtp_sink.start()
    assert lifecycle.retry_failed(campaign.pk) == len(reasons)
    resume_campaign.delay(campaign.pk)
    duplicates = assert_nothing_lost(campaign, smtp_sink.inbox.recipients, total, faults=0)
    print(f"\nSMTP refusing: gave up and paused after {gave_up:.1f} s (give-up time 3 s); {duplicates} sent twice")
