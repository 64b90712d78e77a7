"""A messages-per-second limit per stream, shared by every worker on every machine.

One token bucket per stream (config.ratelimit: in Redis, or in the process without it);
Celery's rate_limit would be per worker. A rate of 0 means no limit.
"""

import time

from django.conf import settings

from config.ratelimit import take


def acquire(stream, count):
    """Block until `count` messages may go out on `stream` under its global limit."""
    rate = settings.MAILROOM_RATE_LIMITS.get(stream, 0)
    if not rate or count <= 0:
        return
    burst = max(rate, count)  # one chunk must always fit in the bucket
    while wait_ms := take(stream, rate, burst, count):
        time.sleep(wait_ms / 1000)
