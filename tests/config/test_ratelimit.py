"""Token buckets: one bucket in Redis shared by every process, or one per process without Redis."""

import time

import pytest
import redis

from config import ratelimit


@pytest.fixture
def bucket(settings, redis_url):
    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    keys = ["mailroom:rate:promotional", "mailroom:quota:day", "mailroom:booked:queue"]
    keys += ["mailroom:halved:group", "mailroom:halved:group:recent"]
    keys += [f"mailroom:rate:public:{name}" for name in ("client", "a", "b")]
    client.delete(*keys)
    ratelimit._leases.clear()
    yield client
    client.delete(*keys)
    ratelimit._leases.clear()


def test_a_full_bucket_grants_then_makes_the_next_taker_wait(bucket):
    assert ratelimit.take("promotional", rate=100, burst=100, wanted=100) == 0
    wait_ms = ratelimit.take("promotional", rate=100, burst=100, wanted=50)
    assert 400 <= wait_ms <= 500  # 50 tokens at 100/s


def test_the_bucket_is_shared_through_redis_not_per_process(bucket):
    assert ratelimit.take("promotional", rate=10, burst=10, wanted=10) == 0
    # Another worker (another client, another script handle) sees the same empty bucket.
    other_worker = redis.Redis.from_url(ratelimit.settings.REDIS_URL)
    script = other_worker.register_script(ratelimit._TAKE)
    wait_ms, taken = script(keys=["mailroom:rate:promotional"], args=[10, 10, 5, 60_000, 0])
    assert wait_ms > 0 and taken == 0
    assert float(bucket.hget("mailroom:rate:promotional", "tokens")) < 1


def test_an_idle_bucket_is_kept_until_it_would_be_full_again(bucket):
    ratelimit.take("promotional", rate=1, burst=300, wanted=1)
    assert 299_000 < bucket.pttl("mailroom:rate:promotional") <= 300_000


def test_embedded_default_keeps_the_bucket_in_process(settings):
    settings.REDIS_URL = ""
    ratelimit._local_buckets.clear()
    assert ratelimit.take("account", rate=5, burst=5, wanted=5) == 0
    assert ratelimit.take("account", rate=5, burst=5, wanted=5) > 0


def test_take_up_to_takes_what_the_bucket_holds(bucket):
    assert ratelimit.take_up_to("promotional", rate=10, burst=10, wanted=4) == 4
    assert ratelimit.take_up_to("promotional", rate=10, burst=10, wanted=20) == 6
    assert ratelimit.take_up_to("promotional", rate=10, burst=10, wanted=5) == 0


def tokens_left(bucket, name):
    return float(bucket.hget(f"mailroom:rate:{name}", "tokens"))


def test_a_lease_takes_tokens_from_redis_ten_at_a_time(bucket):
    assert ratelimit.take_leased("public:client", rate=0.001, burst=300) == 0
    assert tokens_left(bucket, "public:client") == pytest.approx(290, abs=0.01)  # a thirtieth of the burst
    assert all(ratelimit.take_leased("public:client", rate=0.001, burst=300) == 0 for _ in range(9))
    assert tokens_left(bucket, "public:client") == pytest.approx(290, abs=0.01)  # spent in the process
    ratelimit.take_leased("public:client", rate=0.001, burst=300)
    assert tokens_left(bucket, "public:client") == pytest.approx(280, abs=0.01)


def test_leases_never_grant_more_than_the_bucket_holds(bucket):
    waits = [ratelimit.take_leased("public:client", rate=0.001, burst=65) for _ in range(70)]
    assert waits[:65] == [0] * 65  # leases of 2, then the last odd token alone
    assert all(999_000 < wait <= 1_000_000 for wait in waits[65:])  # one token's wait at 0.001/s, not a lease's
    ratelimit._leases.clear()  # another process shares the bucket, not the lease
    assert ratelimit.take_leased("public:client", rate=0.001, burst=65) > 0


def test_a_lease_left_unspent_runs_out(bucket, monkeypatch):
    monkeypatch.setattr(ratelimit, "LEASE_SECONDS", 0.05)
    ratelimit.take_leased("public:client", rate=0.001, burst=300)
    time.sleep(0.1)
    ratelimit.take_leased("public:client", rate=0.001, burst=300)
    assert tokens_left(bucket, "public:client") == pytest.approx(280, abs=0.01)  # the 9 left were dropped


def test_a_process_drops_every_lease_once_it_holds_too_many(bucket, monkeypatch):
    monkeypatch.setattr(ratelimit, "LEASES_KEPT", 2)
    for client in ("public:a", "public:b", "public:client"):
        ratelimit.take_leased(client, rate=0.001, burst=300)
    assert list(ratelimit._leases) == ["public:client"]  # bounded memory; a dropped lease only holds tighter


def test_small_bursts_are_taken_one_token_at_a_time(bucket):
    assert [ratelimit.take_leased("public:client", rate=0.001, burst=3) == 0 for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert tokens_left(bucket, "public:client") < 1


def test_a_quota_grants_up_to_its_limit_then_nothing(bucket):
    assert ratelimit.take_quota("day", limit=100, wanted=60, keep_seconds=60) == 60
    assert ratelimit.take_quota("day", limit=100, wanted=60, keep_seconds=60) == 40
    assert ratelimit.take_quota("day", limit=100, wanted=1, keep_seconds=60) == 0


def test_bookings_queue_after_each_other(bucket):
    assert ratelimit.book("queue", count=10, rate=10) == 0
    assert 0.9 <= ratelimit.book("queue", count=10, rate=10) <= 1.0  # after the first ten's second


def test_halving_compounds_once_a_second_down_to_a_floor_and_expires(bucket):
    assert ratelimit.rate_factor("group") == 1
    ratelimit.halve("group", seconds=60)
    ratelimit.halve("group", seconds=60)  # the same burst of deferrals
    assert ratelimit.rate_factor("group") == 0.5
    for _ in range(4):
        bucket.delete("mailroom:halved:group:recent")  # a second later
        ratelimit.halve("group", seconds=60)
    assert ratelimit.rate_factor("group") == 0.125
    assert 0 < bucket.ttl("mailroom:halved:group") <= 60


def test_embedded_default_keeps_quotas_bookings_and_halvings_in_process(settings):
    settings.REDIS_URL = ""
    ratelimit._local_buckets.clear()
    ratelimit._local_counters.clear()
    ratelimit._local_bookings.clear()
    ratelimit._local_halvings.clear()
    assert ratelimit.take_up_to("account", rate=5, burst=5, wanted=8) == 5
    assert ratelimit.take_quota("day", limit=3, wanted=5, keep_seconds=60) == 3
    assert ratelimit.book("queue", count=5, rate=5) == 0
    assert ratelimit.book("queue", count=5, rate=5) > 0.9
    ratelimit.halve("group", seconds=60)
    assert ratelimit.rate_factor("group") == 0.5
