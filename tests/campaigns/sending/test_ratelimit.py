"""The per-stream rate limit is one token bucket in Redis, shared by every worker."""

import pytest
import redis

from campaigns.sending import ratelimit


@pytest.fixture
def bucket(settings, redis_url):
    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    client.delete("mailroom:rate:promotional")
    ratelimit._script = None  # bind the script to this Redis
    yield client
    client.delete("mailroom:rate:promotional")


def test_a_full_bucket_grants_then_makes_the_next_taker_wait(bucket):
    assert ratelimit._take("promotional", rate=100, burst=100, wanted=100) == 0
    wait_ms = ratelimit._take("promotional", rate=100, burst=100, wanted=50)
    assert 400 <= wait_ms <= 500  # 50 tokens at 100/s


def test_the_bucket_is_shared_through_redis_not_per_process(bucket):
    assert ratelimit._take("promotional", rate=10, burst=10, wanted=10) == 0
    # Another worker (another client, another script handle) sees the same empty bucket.
    other_worker = redis.Redis.from_url(ratelimit.settings.REDIS_URL)
    script = other_worker.register_script(ratelimit._TAKE)
    assert script(keys=["mailroom:rate:promotional"], args=[10, 10, 5]) > 0
    assert float(bucket.hget("mailroom:rate:promotional", "tokens")) < 1


def test_no_limit_configured_means_no_waiting(settings):
    settings.MAILROOM_RATE_LIMITS = {"promotional": 0}
    ratelimit.acquire("promotional", 10_000)  # returns at once; a limit would block here
    assert ratelimit._local_buckets == {} or "promotional" not in ratelimit._local_buckets


def test_embedded_default_limits_in_process(settings):
    settings.REDIS_URL = ""
    ratelimit._local_buckets.clear()
    assert ratelimit._take("account", rate=5, burst=5, wanted=5) == 0
    assert ratelimit._take("account", rate=5, burst=5, wanted=5) > 0
