"""Token buckets shared by every process.

A bucket lives in Redis (one Lua script, so taking tokens is atomic across processes and
machines); without Redis (the embedded default runs one process of each kind) it lives in
the process. The global send rate per mail stream (campaigns/sending/ratelimit.py) uses it;
nothing here knows about mail.
"""

import math
import threading
import time

import redis
from django.conf import settings

# KEYS[1] bucket; ARGV rate/s, burst, tokens wanted, ms to keep an idle bucket.
# Returns ms to wait (0 = granted).
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
redis.call('PEXPIRE', KEYS[1], ARGV[4])
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
_scripts = {}


def take(name, rate, burst, wanted=1):
    """Take `wanted` tokens from bucket `name` (refilled at `rate`/s, holding at most `burst`).

    Returns 0 when granted, else the milliseconds until they would be; nothing is taken then.
    """
    if not settings.REDIS_URL:
        return _local_buckets.setdefault(name, _LocalBucket()).take(rate, burst, wanted)
    script = _scripts.get(settings.REDIS_URL)
    if script is None:
        script = _scripts[settings.REDIS_URL] = redis.Redis.from_url(settings.REDIS_URL).register_script(_TAKE)
    # An idle bucket is dropped once it would be full again anyway (at least after a minute).
    keep_ms = max(60_000, math.ceil(burst * 1000 / rate))
    return int(script(keys=[f"mailroom:rate:{name}"], args=[rate, burst, wanted, keep_ms]))

