"""Public pages are rate limited per client IP in Redis (429 with Retry-After), generously
enough for a mailbox provider's burst of RFC 8058 one-click POSTs; without Redis the limit
lives in the process; a Redis outage never blocks an opt-out."""

import time
from urllib.parse import urlparse

import pytest
import redis
from django.test import Client

from config import ratelimit
from suppression.models import Suppression
from suppression.tokens import unsubscribe_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(settings, redis_url):
    """The production defaults (5/s after a burst of 300) on the test Redis, every bucket empty."""
    settings.REDIS_URL = redis_url
    settings.MAILROOM_PUBLIC_RATE, settings.MAILROOM_PUBLIC_BURST = 5.0, 300
    server = redis.Redis.from_url(redis_url)

    def clear():
        for key in server.scan_iter("mailroom:rate:public:*"):
            server.delete(key)
        ratelimit._leases.clear()  # what this process took from those buckets

    clear()
    yield settings
    clear()


def path_for(number=0, campaign_id=7):
    return urlparse(unsubscribe_url(f"reader{number}@example.com", campaign_id)).path


def one_click(client, path, **extra):
    return client.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded", **extra)


def test_a_providers_burst_of_one_clicks_passes_then_a_flood_gets_429(limited):
    provider = Client(REMOTE_ADDR="203.0.113.7")
    started = time.monotonic()
    statuses = [one_click(provider, path_for(number)).status_code for number in range(300)]
    assert statuses == [200] * 300
    assert Suppression.objects.count() == 300
    flood = [provider.get(path_for()) for _ in range(100)]
    elapsed = time.monotonic() - started
    let_through = sum(response.status_code == 200 for response in flood)
    assert let_through <= 5 * elapsed + 1  # only what the bucket refilled at 5/s
    refused = [response for response in flood if response.status_code == 429]
    assert len(refused) == len(flood) - let_through
    assert refused and all(1 <= int(response["Retry-After"]) <= 2 for response in refused)
    assert Client(REMOTE_ADDR="203.0.113.8").get(path_for()).status_code == 200  # others are not affected


def test_the_limit_holds_for_every_public_page_and_forged_tokens_too(limited):
    limited.MAILROOM_PUBLIC_BURST = 3
    client = Client(REMOTE_ADDR="198.51.100.20")
    for path in ("/u/forged:token/", path_for() + "preferences/", path_for()):
        client.post(path) if path.endswith("preferences/") else client.get(path)
    assert client.get(path_for()).status_code == 429
    assert client.post(path_for() + "undo/").status_code == 429
    assert client.get("/view/forged/").status_code == 429  # the web version is a public page too


def test_an_ipv6_subscriber_line_is_one_client(limited):
    limited.MAILROOM_PUBLIC_BURST = 2
    assert Client(REMOTE_ADDR="2001:db8:1:2::1").get(path_for()).status_code == 200
    assert Client(REMOTE_ADDR="2001:db8:1:2:ffff::9").get(path_for()).status_code == 200
    assert Client(REMOTE_ADDR="2001:db8:1:2:abcd::3").get(path_for()).status_code == 429  # same /64
    assert Client(REMOTE_ADDR="2001:db8:1:3::1").get(path_for()).status_code == 200


def test_x_forwarded_for_counts_only_behind_a_proxy(limited):
    limited.MAILROOM_PUBLIC_BURST = 1
    # Directly connected, a client that writes X-Forwarded-For is still its own address.
    client = Client(REMOTE_ADDR="192.0.2.1")
    assert client.get(path_for(), HTTP_X_FORWARDED_FOR="192.0.2.100").status_code == 200
    assert client.get(path_for(), HTTP_X_FORWARDED_FOR="192.0.2.101").status_code == 429
    # Behind one proxy, the address it appended is the client; what the client wrote is ignored.
    limited.MAILROOM_BEHIND_PROXY = 1
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    assert proxy.get(path_for(), HTTP_X_FORWARDED_FOR="1.1.1.1, 192.0.2.50").status_code == 200
    assert proxy.get(path_for(), HTTP_X_FORWARDED_FOR="8.8.8.8, 192.0.2.50").status_code == 429
    assert proxy.get(path_for(), HTTP_X_FORWARDED_FOR="192.0.2.51").status_code == 200


def test_without_redis_the_limit_lives_in_the_process(settings):
    settings.REDIS_URL = ""
    settings.MAILROOM_PUBLIC_RATE, settings.MAILROOM_PUBLIC_BURST = 5.0, 2
    ratelimit._local_buckets.clear()
    client = Client(REMOTE_ADDR="198.51.100.30")
    assert [client.get(path_for()).status_code for _ in range(3)] == [200, 200, 429]


def test_an_opt_out_goes_through_when_redis_is_down(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.MAILROOM_PUBLIC_RATE, settings.MAILROOM_PUBLIC_BURST = 5.0, 1
    assert one_click(Client(REMOTE_ADDR="198.51.100.40"), path_for()).status_code == 200
    assert Suppression.objects.count() == 1
