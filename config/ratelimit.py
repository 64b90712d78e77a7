"""Token buckets shared by every process, and the per-client limit on public pages.

A bucket lives in Redis (one Lua script, so taking tokens is atomic across processes and
machines); without Redis (the embedded default runs one process of each kind) it lives in
the process. Two users: the global send rate per mail stream (campaigns/sending/ratelimit.py)
and `limit_per_client`, which answers 429 with Retry-After to a client asking public pages
too often.
"""

import functools
import ipaddress
import logging
import math
import threading
import time

import redis
from django.conf import settings
from django.http import HttpResponse

logger = logging.getLogger(__name__)

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


def client_address(request):
    """The client's IP address, as far as it can be trusted.

    REMOTE_ADDR, unless MAILROOM_BEHIND_PROXY says N proxies stand in front: each appends
    the address it received from to X-Forwarded-For, so the N-th entry from the right is
    what the outermost one saw. Entries further left are whatever the client wrote.
    """
    hops = settings.MAILROOM_BEHIND_PROXY
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= hops and forwarded[-hops]:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


def client_key(address):
    """One bucket per IPv4 address and per IPv6 /64 (one subscriber line holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)


def limit_per_client(view):
    """Answer 429 with Retry-After once a client passes MAILROOM_PUBLIC_RATE requests/s
    (after a burst of MAILROOM_PUBLIC_BURST). A rate of 0 turns the limit off.

    If Redis cannot be reached the request is let through: an opt-out must never fail
    because the limiter is down.
    """

    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        rate = settings.MAILROOM_PUBLIC_RATE
        if rate:
            try:
                wait_ms = take(f"public:{client_key(client_address(request))}", rate, settings.MAILROOM_PUBLIC_BURST)
            except redis.RedisError:
                logger.warning("Rate limit skipped: Redis did not answer.", exc_info=True)
                wait_ms = 0
            if wait_ms:
                seconds = max(1, math.ceil(wait_ms / 1000))
                response = HttpResponse(
                    f"Too many requests. Please try again in {seconds} seconds.\n",
                    status=429,
                    content_type="text/plain",
                )
                response["Retry-After"] = str(seconds)
                return response
        return view(request, *args, **kwargs)

    return limited
