"""Pacing per mailbox provider and the daily warm-up allowance, in process against real
Redis (the buckets every worker shares). tests/faults/test_pacing.py measures them with
worker processes."""

import time
from datetime import date, timedelta

import pytest
import redis
from django.utils import timezone

from campaigns import tasks
from campaigns.models import Campaign, Delivery, SendChain
from campaigns.sending import chains, pipeline
from campaigns.sending.delivery_errors import BackendUnavailable
from campaigns.sending.throttles import pacing, ratelimit
from tests.factories import started_campaign
from tests.services import free_port

pytestmark = pytest.mark.django_db

GMAIL = [(f"g{n}@gmail.com", f"G{n}") for n in range(6)]
OTHERS = [(f"o{n}@example.org", f"O{n}") for n in range(4)]


def forget_pacing(url):
    """Drop the provider buckets, bookings and halvings earlier tests left in Redis."""
    client = redis.Redis.from_url(url)
    for pattern in ("mailroom:rate:domain:*", "mailroom:booked:domain:*", "mailroom:halved:domain:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    for key in client.scan_iter("mailroom:quota:warmup:*"):
        client.delete(key)


@pytest.fixture
def shared_redis(settings, redis_url):
    settings.REDIS_URL = redis_url
    forget_pacing(redis_url)
    yield
    forget_pacing(redis_url)


def by_status(campaign):
    rows = Delivery.objects.filter(campaign=campaign).values_list("contact__email", "status")
    result = {}
    for address, status in rows:
        result.setdefault(status, set()).add(address)
    return result


def test_domains_fall_into_their_provider_groups():
    group_of = pacing.grouper()
    assert group_of("a@gmail.com") == group_of("b@GoogleMail.com") == "google"
    assert group_of("a@yahoo.co.uk") == group_of("a@yahoo.fr") == group_of("a@aol.com") == "yahoo"
    assert group_of("a@hotmail.de") == group_of("a@live.com") == group_of("a@msn.com") == "microsoft"
    assert group_of("a@example.com") == group_of("a@notyahoo.com") == group_of("a@mail.yahoo.com") == "other"


def test_without_rates_nothing_is_held_back(settings, sender_settings, outbox_dir, shared_redis):
    campaign = started_campaign(GMAIL + OTHERS)
    assert not pacing.enabled()
    assert pipeline.send_next_batch(campaign.pk) == 10
    assert by_status(campaign) == {"sent": {a for a, _ in GMAIL + OTHERS}}


def test_a_throttled_group_is_put_off_while_the_others_go(settings, sender_settings, outbox_dir, shared_redis):
    settings.MAILROOM_DOMAIN_RATES = {"google": 2}
    campaign = started_campaign(GMAIL + OTHERS)
    assert pipeline.send_next_batch(campaign.pk) == 10
    statuses = by_status(campaign)
    assert {a for a, _ in OTHERS} <= statuses["sent"]
    assert len(statuses["sent"] & {a for a, _ in GMAIL}) == 2  # the bucket's burst: one second's worth
    put_off = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.CLAIMED).order_by("claimed_until")
    turns = [(d.claimed_until - timezone.now()).total_seconds() for d in put_off]
    assert len(turns) == 4 and 0.3 < turns[0] < turns[-1] <= 2.1  # booked half a second apart
    # Nothing else to claim: the chain is told when the next turn comes, not that it is done.
    with pytest.raises(pipeline.Waiting) as waiting:
        pipeline.send_next_batch(campaign.pk)
    assert 0 <= waiting.value.seconds <= turns[0] + 0.1
    deadline = timezone.now() + timedelta(seconds=10)
    while Campaign.objects.get(pk=campaign.pk).status != Campaign.Status.SENT and timezone.now() < deadline:
        try:
            pipeline.send_next_batch(campaign.pk)
        except pipeline.Waiting as later:
            time.sleep(later.seconds)
    assert by_status(campaign) == {"sent": {a for a, _ in GMAIL + OTHERS}}


def test_smtp_deferrals_halve_only_their_groups_rate(settings, sender_settings, smtp_mailers, shared_redis):
    settings.MAILROOM_DOMAIN_RATES = {"google": 100, "yahoo": 100}
    people = [("a@gmail.com", "A"), ("b@yahoo.com", "B"), ("c@gmail.com", "C")]
    smtp_mailers.rcpt_replies["a@gmail.com"] = ["451 4.7.1 Too many messages, slow down"]
    campaign = started_campaign(people)
    pipeline.send_next_batch(campaign.pk)
    assert pacing.rate("google") == 50
    assert pacing.rate("yahoo") == 100
    assert by_status(campaign)["sent"] == {"b@yahoo.com", "c@gmail.com"}


def test_warmup_allowance_by_day(settings):
    settings.MAILROOM_WARMUP_SCHEDULE = [100, 500]
    settings.MAILROOM_WARMUP_START = date(2026, 3, 1)
    assert ratelimit.warmup_limit(date(2026, 2, 27)) == 100  # not started: the first day's
    assert ratelimit.warmup_limit(date(2026, 3, 1)) == 100
    assert ratelimit.warmup_limit(date(2026, 3, 2)) == 500
    assert ratelimit.warmup_limit(date(2026, 3, 3)) is None  # warmed up
    settings.MAILROOM_WARMUP_SCHEDULE = []
    assert ratelimit.warmup_limit(date(2026, 3, 1)) is None


def test_a_campaign_waits_for_tomorrows_warmup_allowance(
    settings, sender_settings, outbox_dir, shared_redis, monkeypatch
):
    today = timezone.now().replace(hour=22, minute=0)
    monkeypatch.setattr(ratelimit, "clock", lambda: today)
    settings.MAILROOM_WARMUP_SCHEDULE = [6, 100]
    settings.MAILROOM_WARMUP_START = timezone.localdate(today)
    campaign = started_campaign(GMAIL + OTHERS)
    with pytest.raises(pipeline.Waiting) as waiting:
        pipeline.send_next_batch(campaign.pk)
    assert 3600 < waiting.value.seconds <= 2 * 3600  # until midnight
    assert len(by_status(campaign)["sent"]) == 6
    assert len(by_status(campaign)["pending"]) == 4
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.pause_reason == "Waiting for tomorrow's warm-up allowance."
    with pytest.raises(pipeline.Waiting):  # still today: nothing more goes
        pipeline.send_next_batch(campaign.pk)
    assert len(by_status(campaign)["sent"]) == 6
    monkeypatch.setattr(ratelimit, "clock", lambda: today + timedelta(hours=3))  # past midnight
    assert pipeline.send_next_batch(campaign.pk) == 4
    assert pipeline.send_next_batch(campaign.pk) == 0
    campaign.refresh_from_db()
    assert (campaign.status, campaign.pause_reason, campaign.sent_count) == (Campaign.Status.SENT, "", 10)


def test_a_chain_out_of_warmup_allowance_is_left_for_beat_to_queue_tomorrow(
    settings, sender_settings, outbox_dir, shared_redis, monkeypatch
):
    today = timezone.now().replace(hour=22, minute=0)
    monkeypatch.setattr(ratelimit, "clock", lambda: today)
    settings.MAILROOM_WARMUP_SCHEDULE = [6]
    settings.MAILROOM_WARMUP_START = timezone.localdate(today)
    campaign = started_campaign(GMAIL + OTHERS)
    (slot, run), _ = chains.open_chains(campaign.pk)
    tasks.send_batch(campaign.pk, slot, run)  # sends 6, then no next task: beat's lease instead
    lease_until = SendChain.objects.get(campaign=campaign, slot=slot).lease_until
    waits = (lease_until - timezone.now()).total_seconds()
    assert 7200 - 60 < waits - settings.MAILROOM_CLAIM_LEASE_SECONDS <= 7200  # midnight, then a lease
    assert len(by_status(campaign)["sent"]) == 6
    assert (slot, run + 1) not in [(s, r) for _, s, r in chains.due()]


def test_an_outage_gives_back_the_warmup_allowance_it_took(settings, sender_settings, shared_redis):
    from config.settings.base import gateway_mailer

    refused = {"host": "127.0.0.1", "port": free_port(), "timeout": 2}  # nobody listens there
    backend = "django.core.mail.backends.smtp.EmailBackend"
    settings.MAILERS = {
        "default": gateway_mailer("account", backend, refused),
        "promotional": gateway_mailer("promotional", backend, refused),
    }
    settings.MAILROOM_WARMUP_SCHEDULE = [6]
    settings.MAILROOM_WARMUP_START = timezone.localdate()
    campaign = started_campaign(GMAIL + OTHERS)
    with pytest.raises(BackendUnavailable):
        pipeline.send_next_batch(campaign.pk)
    assert by_status(campaign) == {"pending": {a for a, _ in GMAIL + OTHERS}}
    assert ratelimit.warmup_allowance("promotional", 10) == 6  # the whole day's allowance is still there
