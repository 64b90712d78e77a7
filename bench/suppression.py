"""Suppression figures: the blocked-set query and one-click unsubscribe under load.

- blocked_query_ms: policy.blocked() for a 1,000-address batch (half suppressed) against
  1,000,000 suppressions on PostgreSQL; median of repeated runs (p99 in the line too).
  Goal: under 5 ms.
- unsubscribe_p99_ms: RFC 8058 one-click POSTs, each for a new address, against gunicorn
  with 4 sync workers on PostgreSQL, from 100 concurrent connections (closed loop).
  Goal: under 50 ms; the line carries p50 and requests/s.

Runs in its own throwaway database (<name>_bench_suppression), created and dropped here.
"""

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import django

from bench.report import emit

ROOT = Path(__file__).resolve().parent.parent
SUPPRESSIONS = 1_000_000
BATCH = 1_000
CONCURRENCY = 100
UNSUBSCRIBES = 6_000
WORKERS = 4


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def fill_ledger(connection):
    from suppression.models import Suppression

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Suppression._meta.db_table}
                (address, address_hash, channel, source, reason, actor, note, created_at)
            SELECT '', md5(i::text) || md5((i * 7)::text),
                   (ARRAY['email_marketing', 'undeliverable', 'complaint', 'postal_marketing',
                          'third_party_sharing'])[1 + i %% 5],
                   'import', '', 'bench', '', now()
            FROM generate_series(1, %s) AS i
            """,
            [SUPPRESSIONS],
        )
        cursor.execute(f"ANALYZE {Suppression._meta.db_table}")


def bench_blocked_query():
    from django.db import connection

    from suppression import policy
    from suppression.addresses import address_hash
    from suppression.models import Channel, Source, Suppression

    fill_ledger(connection)
    batch = [f"person{number}@example.com" for number in range(BATCH)]
    Suppression.objects.bulk_create(
        Suppression(address=a, address_hash=address_hash(a), channel=Channel.EMAIL_MARKETING, source=Source.IMPORT)
        for a in batch[::2]
    )
    connection.cursor().execute(f"ANALYZE {Suppression._meta.db_table}")
    assert len(policy.blocked(batch, "promotional")) == BATCH // 2
    timings, sql_timings = [], []
    hashes = [address_hash(a) for a in batch]
    for _ in range(50):
        started = time.perf_counter()
        policy.blocked(batch, "promotional")
        timings.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        list(Suppression.objects.filter(address_hash__in=hashes, channel__in=policy.BLOCKING["promotional"])
             .values_list("address_hash", "channel"))
        sql_timings.append((time.perf_counter() - started) * 1000)
    emit(
        "blocked_query_ms", statistics.median(timings), "ms", 5.0,
        p99_ms=round(percentile(timings, 0.99), 3), sql_only_ms=round(statistics.median(sql_timings), 3),
        batch=BATCH, suppressions=Suppression.objects.count(), baseline_is="goal",
    )


async def one_click(port, path, latencies):
    body = b"List-Unsubscribe=One-Click"
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    response = await reader.read()
    writer.close()
    latencies.append((time.perf_counter() - started) * 1000)
    if not response.startswith(b"HTTP/1.1 200") and not response.startswith(b"HTTP/1.0 200"):
        raise RuntimeError(f"one-click answered {response[:80]!r}")


async def load(port, paths, latencies):
    queue = list(paths)

    async def client():
        while queue:
            await one_click(port, queue.pop(), latencies)

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))


def bench_unsubscribe(database_name):
    from urllib.parse import urlparse

    from suppression.models import ConsentEvent
    from suppression.tokens import unsubscribe_url

    port = free_port()
    env = os.environ | {
        "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{database_name}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_CONN_MAX_AGE": "60",  # as production should run: no new PostgreSQL connection per request
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
         "--backlog", "2048", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    try:
        wait_for_port(port)
        paths = [urlparse(unsubscribe_url(f"reader{n}@example.com", 1)).path for n in range(UNSUBSCRIBES + 400)]
        asyncio.run(load(port, paths[UNSUBSCRIBES:], []))  # warm-up: imports, connections
        latencies = []
        started = time.perf_counter()
        asyncio.run(load(port, paths[:UNSUBSCRIBES], latencies))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert ConsentEvent.objects.filter(source="one_click").count() == UNSUBSCRIBES + 400
    emit(
        "unsubscribe_p99_ms", percentile(latencies, 0.99), "ms", 50.0,
        p50_ms=round(statistics.median(latencies), 3), requests_per_s=round(len(latencies) / elapsed, 1),
        workers=WORKERS, concurrency=CONCURRENCY, requests=len(latencies), cpus=os.cpu_count(), baseline_is="goal",
    )


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, timeout=60):
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def run():
    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"{database['NAME']}_bench_suppression"
    config = setup_databases(verbosity=0, interactive=False)
    try:
        from django.db import connection

        bench_blocked_query()
        bench_unsubscribe(connection.settings_dict["NAME"])
    finally:
        teardown_databases(config, verbosity=0)
