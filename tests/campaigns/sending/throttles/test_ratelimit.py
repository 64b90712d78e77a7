"""The per-stream send rate: acquire() waits for the stream's shared bucket."""

import time

from campaigns.sending.throttles import ratelimit
from config import ratelimit as buckets


def test_no_limit_configured_means_no_waiting(settings):
    settings.MAILROOM_RATE_LIMITS = {"promotional": 0}
    buckets._local_buckets.clear()
    ratelimit.acquire("promotional", 10_000)  # returns at once; a limit would block here
    assert "promotional" not in buckets._local_buckets


def test_a_limited_stream_waits_for_its_tokens(settings):
    settings.REDIS_URL = ""
    settings.MAILROOM_RATE_LIMITS = {"account": 20}
    buckets._local_buckets.clear()
    started = time.monotonic()
    for _ in range(3):
        ratelimit.acquire("account", 10)  # 20 at once, then 10 more at 20/s
    assert 0.4 <= time.monotonic() - started < 2
