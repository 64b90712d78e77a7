"""A messages-per-second limit per stream, shared by every worker on every machine.

A token bucket in Redis (one Lua script, so taking tokens is atomic across workers);
Celery's rate_limit would be per worker. Without Redis (the embedded default runs one
worker) the bucket lives in the process. A rate of 0 means no limit.
"""

import threading
import time

import redis
from django.conf import settings

# KEYS[1] bucket; ARGV rate/s, burst, tokens wanted. Returns ms to wait (0 = granted).
_TAKE = """
local rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ms')
local tokens = tonumber(state[1]) or burst
local last = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - last) * rate / 1000)
local wait = 0
if tokens >= wanted then
  tokens = tokens - wanted
else
  wait = math.ceil((wanted - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ms', now)
redis.call('PEXPIRE', KEYS[1], 60000)
return wait
"""


class _LocalBucket:
    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = None
        self.last = time.monotonic()

    def take(self, rate, burst, wanted):
        with self.lock:
            now = time.monotonic()
            self.tokens = burst if self.tokens is None else min(burst, self.tokens + (now - self.last) * rate)
            self.last = now
            if self.tokens >= wanted:
                self.tokens -= wanted
                return 0
            return int((wanted - self.tokens) * 1000 / rate) + 1


_local_buckets = {}
_script = None


def _take(stream, rate, burst, wanted):
    global _script
    if not settings.REDIS_URL:
        return _local_buckets.setdefault(stream, _LocalBucket()).take(rate, burst, wanted)
    if _script is None:
        _script = redis.Redis.from_url(settings.REDIS_URL).register_script(_TAKE)
    return int(_script(keys=[f"mailroom:rate:{stream}"], args=[rate, burst, wanted]))


def acquire(stream, count):
    """Block until `count` messages may go out on `stream` under its global limit."""
    rate = settings.MAILROOM_RATE_LIMITS.get(stream, 0)
    if not rate or count <= 0:
        return
    burst = max(rate, count)  # one chunk must always fit in the bucket
    while wait_ms := _take(stream, rate, burst, count):
        time.sleep(wait_ms / 1000)
