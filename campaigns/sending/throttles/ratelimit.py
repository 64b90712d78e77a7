"""A messages-per-second limit per stream, shared by every worker on every machine, and
the stream's daily warm-up allowance.

One token bucket per stream (config.ratelimit: in Redis, or in the process without it);
Celery's rate_limit would be per worker. A rate of 0 means no limit. The warm-up
allowance is one counter per stream and day (MAILROOM_WARMUP_SCHEDULE, counted from
MAILROOM_WARMUP_START): a new sending address earns the mailbox providers' trust by
sending a little more each day. Off without a schedule, and after its last day.
"""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from config.ratelimit import give_back_quota, take, take_quota

clock = timezone.now  # tests put the day forward here


def acquire(stream, count):
    """Block until `count` messages may go out on `stream` under its global limit."""
    rate = settings.MAILROOM_RATE_LIMITS.get(stream, 0)
    if not rate or count <= 0:
        return
    burst = max(rate, count)  # one chunk must always fit in the bucket
    while wait_ms := take(stream, rate, burst, count):
        time.sleep(wait_ms / 1000)


def warmup_limit(day):
    """The day's warm-up allowance, or None when warm-up is off that day."""
    schedule, start = settings.MAILROOM_WARMUP_SCHEDULE, settings.MAILROOM_WARMUP_START
    if not schedule or start is None:
        return None
    index = (day - start).days
    return schedule[max(index, 0)] if index < len(schedule) else None


def warmup_allowance(stream, count):
    """How many of `count` messages `stream` may still send today (all of them with warm-up off)."""
    day = timezone.localdate(clock())
    limit = warmup_limit(day)
    if limit is None:
        return count
    return take_quota(f"warmup:{stream}:{day.isoformat()}", limit, count, keep_seconds=2 * 86400)


def unused_warmup(stream, count):
    """`count` messages of today's allowance were not handed off after all (an outage, a
    pause mid-batch): they go back to it."""
    day = timezone.localdate(clock())
    if count and warmup_limit(day) is not None:
        give_back_quota(f"warmup:{stream}:{day.isoformat()}", count)


def until_tomorrow():
    """Seconds until the next day (and its warm-up allowance) begins."""
    now = timezone.localtime(clock())
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
    return max(1.0, (midnight - now).total_seconds())
