"""Token buckets shared by every process, and the per-client limit on public pages.

A bucket lives in Redis (one Lua script, so taking tokens is atomic across processes and
machines); without Redis (the embedded default runs one process of each kind) it lives in
the process. So do their companions: daily quotas (take_quota), turns booked for work a
bucket put off (book) and rates halved for a while (halve, rate_factor).

Users: the send rate per mail stream and its daily warm-up allowance
(campaigns/sending/throttles/ratelimit.py), the rate per mailbox provider
(campaigns/sending/throttles/pacing.py), and `limit_per_client`, which answers 429 with
Retry-After to a client asking public pages too often (its tokens leased a few at a time,
take_leased).
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

# KEYS[1] bucket; ARGV rate/s, burst, tokens wanted, ms to keep an idle bucket, 1 to take
# as many as there are when fewer than wanted. Returns {ms to wait (0 = granted), taken}.
_TAKE = """
local rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ms')
local tokens = tonumber(state[1]) or burst
local last = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - last) * rate / 1000)
local wait, taken = 0, wanted
if tokens < wanted then
  wait = math.ceil((wanted - tokens) * 1000 / rate)
  taken = 0
  if ARGV[5] == '1' then taken = math.floor(tokens) end
end
tokens = tokens - taken
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ms', now)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {wait, taken}
"""
# KEYS[1] counter; ARGV limit, wanted, ms to keep it. Returns how many were granted.
_TAKE_QUOTA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local granted = math.max(0, math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - used))
redis.call('INCRBY', KEYS[1], granted)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return granted
"""

# KEYS[1] a queue's next free moment; ARGV count, rate/s. Books `count` moments 1/rate
# apart from that one (or now), kept a minute past the last; returns ms from now to the first.
_BOOK = """
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local first = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local next = math.floor(first + tonumber(ARGV[1]) * 1000 / tonumber(ARGV[2]))
redis.call('SET', KEYS[1], next, 'PX', next - now + 60000)
return first - now
"""


class _LocalBucket:
    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = None
        self.last = time.monotonic()

    def take(self, rate, burst, wanted, partial):
        with self.lock:
            now = time.monotonic()
            self.tokens = burst if self.tokens is None else min(burst, self.tokens + (now - self.last) * rate)
            self.last = now
            if self.tokens >= wanted:
                self.tokens -= wanted
                return 0, wanted
            taken = math.floor(self.tokens) if partial else 0
            self.tokens -= taken
            return int((wanted - self.tokens - taken) * 1000 / rate) + 1, taken


_local_buckets = {}
_local_counters = {}
_local_lock = threading.Lock()
_local_halvings = {}
_local_bookings = {}
_leases = {}  # take_leased: bucket name -> [tokens left, monotonic moment it runs out]
_clients = {}

LEASE_MOST = 10  # tokens take_leased takes from a bucket at once
LEASE_SECONDS = 1.0  # how long this process may spend them
LEASES_KEPT = 10_000  # clients a process holds leases for before it drops them all


def _redis():
    """A client of the Redis at REDIS_URL (one per URL and process)."""
    if settings.REDIS_URL not in _clients:
        _clients[settings.REDIS_URL] = redis.Redis.from_url(settings.REDIS_URL)
    return _clients[settings.REDIS_URL]


def _script(source):
    key = (settings.REDIS_URL, source)
    if key not in _clients:
        _clients[key] = _redis().register_script(source)
    return _clients[key]


def take(name, rate, burst, wanted=1):
    """Take `wanted` tokens from bucket `name` (refilled at `rate`/s, holding at most `burst`).

    Returns 0 when granted, else the milliseconds until they would be; nothing is taken then.
    """
    return _take(name, rate, burst, wanted, partial=False)[0]


def take_up_to(name, rate, burst, wanted):
    """Take as many of `wanted` tokens as bucket `name` holds now; returns how many."""
    return _take(name, rate, burst, wanted, partial=True)[1]


def _take(name, rate, burst, wanted, partial):
    if not settings.REDIS_URL:
        return _local_buckets.setdefault(name, _LocalBucket()).take(rate, burst, wanted, partial)
    # An idle bucket is dropped once it would be full again anyway (at least after a minute).
    keep_ms = max(60_000, math.ceil(burst * 1000 / rate))
    wait, taken = _script(_TAKE)(keys=[f"mailroom:rate:{name}"], args=[rate, burst, wanted, keep_ms, int(partial)])
    return int(wait), int(taken)


def take_leased(name, rate, burst):
    """take(name, rate, burst) for one token, but through Redis only once per lease.

    A process takes up to LEASE_MOST tokens (a thirtieth of the burst, at least 1) and
    spends them itself within LEASE_SECONDS: a mailbox provider's burst of one-click POSTs
    from one address costs one Redis round trip per lease, not one per request (under load
    each round trip cost the web process ~300 µs of CPU, a one-click ~1.3 ms). Nothing is
    granted that the bucket did not give out; tokens still leased when the time runs out
    are dropped, so a client is only ever held tighter, never looser. Returns 0 when
    granted, else ms to wait.
    """
    if not settings.REDIS_URL:
        return take(name, rate, burst)
    now = time.monotonic()
    with _local_lock:
        lease = _leases.get(name)
        if lease and lease[0] and lease[1] > now:
            lease[0] -= 1
            return 0
    size = max(1, min(LEASE_MOST, burst // 30))
    wait_ms, taken = _take(name, rate, burst, size, partial=True)
    if not taken:  # the wait is for the whole lease; the client asked for one token
        return max(1, math.ceil(wait_ms - (size - 1) * 1000 / rate))
    with _local_lock:
        if len(_leases) >= LEASES_KEPT:  # many clients at once: dropping leases only holds them tighter
            _leases.clear()
        _leases[name] = [taken - 1, now + LEASE_SECONDS]
    return 0


def take_quota(name, limit, wanted, keep_seconds):
    """Take up to `wanted` of counter `name`'s `limit` (a daily allowance: put the date in
    the name); returns how many were granted. The counter is forgotten after `keep_seconds`."""
    if not settings.REDIS_URL:
        with _local_lock:
            used = _local_counters.get(name, 0)
            granted = max(0, min(wanted, limit - used))
            _local_counters[name] = used + granted
            return granted
    return int(_script(_TAKE_QUOTA)(keys=[f"mailroom:quota:{name}"], args=[limit, wanted, int(keep_seconds * 1000)]))


def book(name, count, rate):
    """Book `count` turns, 1/`rate` s apart, in queue `name` after those booked before (or
    from now); returns the seconds until the first. Work put off by a bucket waits its turn
    this way instead of all coming back at once."""
    if not settings.REDIS_URL:
        with _local_lock:
            now = time.monotonic()
            first = max(now, _local_bookings.get(name, 0))
            _local_bookings[name] = first + count / rate
            return first - now
    return int(_script(_BOOK)(keys=[f"mailroom:booked:{name}"], args=[count, rate])) / 1000


def give_back_quota(name, count):
    """Return `count` of what take_quota granted from counter `name` (they were not used)."""
    if not settings.REDIS_URL:
        with _local_lock:
            _local_counters[name] = max(0, _local_counters.get(name, 0) - count)
        return
    _redis().decrby(f"mailroom:quota:{name}", count)


def halve(name, seconds):
    """Halve the rate of `name` (once more per further second with calls, down to
    rate_factor's floor) until `seconds` pass without a call; rate_factor reads it in every
    process. Calls within a second of the last halving (a burst, from many workers) only
    extend it."""
    if not settings.REDIS_URL:
        with _local_lock:
            now = time.monotonic()
            count, until, last = _local_halvings.get(name, (0, 0, 0))
            count = count if until > now else 0
            again = now - last >= 1
            _local_halvings[name] = (count + again, now + seconds, now if again else last)
        return
    key = f"mailroom:halved:{name}"
    client = _redis()
    again = client.set(f"{key}:recent", 1, nx=True, px=1000)
    with client.pipeline() as pipe:
        if again:
            pipe.incr(key)
        pipe.expire(key, math.ceil(seconds)).execute()


def rate_factor(name, most=3):
    """1, or 1/2**n while `name` stands halved n times (halve)."""
    if not settings.REDIS_URL:
        count, until, _ = _local_halvings.get(name, (0, 0, 0))
        count = count if until > time.monotonic() else 0
    else:
        count = int(_redis().get(f"mailroom:halved:{name}") or 0)
    return 0.5 ** min(count, most)


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
                bucket = f"public:{client_key(client_address(request))}"
                wait_ms = take_leased(bucket, rate, settings.MAILROOM_PUBLIC_BURST)
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
