"""Token buckets: one bucket in Redis shared by every process, or one per process without Redis."""

import pytest
import redis

from config import ratelimit


@pytest.fixture
def bucket(settings, redis_url):
    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    client.delete("mailroom:rate:promotional")
    yield client
    client.delete("mailroom:rate:promotional")


def test_a_full_bucket_grants_then_makes_the_next_taker_wait(bucket):
    assert ratelimit.take("promotional", rate=100, burst=100, wanted=100) == 0
    wait_ms = ratelimit.take("promotional", rate=100, burst=100, wanted=50)
    assert 400 <= wait_ms <= 500  # 50 tokens at 100/s


def test_the_bucket_is_shared_through_redis_not_per_process(bucket):
    assert ratelimit.take("promotional", rate=10, burst=10, wanted=10) == 0
    # Another worker (another client, another script handle) sees the same empty bucket.
    other_worker = redis.Redis.from_url(ratelimit.settings.REDIS_URL)
    script = other_worker.register_script(ratelimit._TAKE)
    assert script(keys=["mailroom:rate:promotional"], args=[10, 10, 5, 60_000]) > 0
    assert float(bucket.hget("mailroom:rate:promotional", "tokens")) < 1


def test_an_idle_bucket_is_kept_until_it_would_be_full_again(bucket):
    ratelimit.take("promotional", rate=1, burst=300, wanted=1)
    assert 299_000 < bucket.pttl("mailroom:rate:promotional") <= 300_000


def test_embedded_default_keeps_the_bucket_in_process(settings):
    settings.REDIS_URL = ""
    ratelimit._local_buckets.clear()
    assert ratelimit.take("account", rate=5, burst=5, wanted=5) == 0
    assert ratelimit.take("account", rate=5, burst=5, wanted=5) > 0
