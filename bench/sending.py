"""Send-engine figures through real Redis, PostgreSQL and two promotional workers as the
Procfile runs them (PROMOTIONAL_CONCURRENCY processes each, one chain per process).

send_esp_batch (BENCH_RECIPIENTS), send_esp_single (a tenth of them; anymail's Postmark
backend → stand-in Postmark API on loopback), send_esp_batch_<esp> for every ESP with a
stand-in (BENCH_ESP_RECIPIENTS each, best of BENCH_ESP_ROUNDS against the best of as many
baselines; Resend sends one message per call, to a tenth as many) and send_smtp (a tenth
of BENCH_RECIPIENTS → aiosmtpd on loopback), each against a
baseline: the same messages built by the same builder and handed to the same anymail
backend and sink in this one process, with no database or broker. worker_peak_rss_mb at
10,000 and 100,000 recipients; snapshot_1m_s against a plain INSERT … SELECT of the same
rows; ab_split_1m_s (an A/B subject test's start) against the plain snapshot of the same
audience.

domain_pacing_overhead (`make bench ONLY=sending:pacing` alone): the Postmark batch path
with a rate set for every provider group, too high to bind, over the same path with pacing
off, alternating in one run (best of three each: other work on the machine only ever slows
a run): what the per-batch group split and bucket calls cost.

crash_recovery_s and crash_duplicates (`make bench ONLY=sending:crash` alone): the only
promotional worker is killed with SIGKILL mid-campaign and a replacement started at once,
with beat and the default lease, on the SMTP and the Postmark batch path; each line gives
the worst path. Their baselines are the bounds the settings promise, not measurements:
a lease plus a beat interval, and one chunk.
"""

import io
import json
import os
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from django.core.management import call_command
from django.db import connection, transaction

from bench.database import seed_audience
from bench.report import emit
from tests.services import Beat, Inbox, SmtpServer, SmtpSink, Worker, forget_queued_tasks, smtp_mailer_env
from tests.standins import esps
from tests.standins.postmark import StandInPostmark

RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", "100000"))
# Large enough that a campaign's start (the first task picked up, the template stored at
# the ESP) does not weigh on the rate: at 5,000 it was a tenth to a quarter of the run.
ESP_RECIPIENTS = int(os.environ.get("BENCH_ESP_RECIPIENTS", "20000"))
ESP_ROUNDS = int(os.environ.get("BENCH_ESP_ROUNDS", "3"))
ESP_GOALS = {"mailgun": 8_000}  # recipients/s; every ESP's goal is also a ratio of at least 0.8
# The one-message-per-call lines (SMTP, an ESP without batching) run at a tenth of the batch
# rate: their campaigns and baselines send a tenth as many, still 8-40 s each.
BASELINE_SAMPLE = int(os.environ.get("BENCH_BASELINE_SAMPLE", "10000"))
POSTMARK = "anymail.backends.postmark.EmailBackend"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CAMPAIGN_TIMEOUT = 900
# Processes per worker: the Procfile's worker-promotional default (PROMOTIONAL_CONCURRENCY).
WORKER_CONCURRENCY = int(os.environ.get("PROMOTIONAL_CONCURRENCY", "2"))


def make_campaign(audience):
    from campaigns.models import Campaign
    from tests.factories import make_page

    campaign = Campaign.objects.create(name=f"Bench {audience.name}", page=make_page(title=f"Bench {audience.name}"))
    campaign.audiences.add(audience)
    return campaign


def ensure_sender():
    from wagtail.models import Site

    from cms.models import SenderSettings

    sender = SenderSettings.for_site(Site.objects.get(is_default_site=True))
    sender.postal_address = "1 Example Street\nSpringfield 12345"
    sender.save()


def processes():
    """(pid, process group, command name, CPU seconds so far) of every live process."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
            fields = raw.rsplit(")", 1)[1].split()  # the name, in brackets, may hold spaces
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            yield int(stat.parent.name), int(fields[2]), name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, ValueError, IndexError):
            continue


def peak_rss_mb(worker):
    """Largest VmHWM among the worker's processes (it runs in its own session)."""
    peak = 0
    for pid, group, _, _ in processes():
        if group != worker.process.pid:
            continue
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) // 1024)
        except (OSError, ValueError, IndexError):
            continue
    return peak


def cpu_seconds(workers, server):
    """CPU seconds so far of the workers' processes, of PostgreSQL's (0 unless it runs on
    this machine) and of the stand-in's."""
    groups = {worker.process.pid for worker in workers}
    used = Counter()
    for pid, group, name, seconds in processes():
        if group in groups:
            used["workers"] += seconds
        elif name.startswith("postgres"):
            used["postgres"] += seconds
        elif pid == server.process.pid:
            used["stand_in"] += seconds
    return used


def baseline_cpu_seconds(server):
    """CPU seconds so far of this process (where the baselines run) and of the stand-in's."""
    return Counter(process=time.process_time(), stand_in=cpu_seconds((), server)["stand_in"])


def per_recipient_us(used, recipients):
    return {kind: round(seconds * 1e6 / recipients) for kind, seconds in sorted(used.items())}


@contextmanager
def two_workers(env):
    """Two fresh promotional workers with `env`, each with the Procfile's concurrency and
    together worked by one chain per process, as the README's MAILROOM_SEND_CHAINS advises;
    yields (workers, their log folder)."""
    from django.test import override_settings

    from config.celery import app

    app.control.purge()
    chains = 2 * WORKER_CONCURRENCY  # starting a campaign here opens them; the workers carry them on
    worker_env = os.environ | {"MAILROOM_SEND_CHAINS": str(chains)} | env
    worker_env |= {"DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1"}
    logs = Path(tempfile.mkdtemp(prefix="mailroom-bench-"))
    workers = [
        Worker(worker_env, "promotional", logs / f"worker{n}.log", concurrency=WORKER_CONCURRENCY) for n in range(2)
    ]
    try:
        with override_settings(MAILROOM_SEND_CHAINS=chains):
            yield workers, logs
    finally:
        for worker in workers:
            worker.stop()


def send_campaign(audience, logs):
    """Send one new campaign to `audience` through the running workers; returns recipients/s."""
    from campaigns.models import Campaign

    campaign = make_campaign(audience)
    call_command("send_campaign", str(campaign.pk), stdout=io.StringIO())
    deadline = time.monotonic() + CAMPAIGN_TIMEOUT
    while True:
        if time.monotonic() > deadline:
            raise RuntimeError(f"campaign {campaign.pk} not sent after {CAMPAIGN_TIMEOUT} s; logs in {logs}")
        campaign.refresh_from_db()
        if campaign.status == Campaign.Status.SENT:
            break
        if campaign.status not in (Campaign.Status.SCHEDULED, Campaign.Status.SENDING):
            raise RuntimeError(f"campaign {campaign.status}: {campaign.pause_reason}")
        time.sleep(0.2)
    return campaign.sent_count / (campaign.finished_at - campaign.started_at).total_seconds()


def run_campaign(audience, env):
    """Send one campaign with two fresh workers (two_workers); returns (recipients/s, peak RSS MB)."""
    with two_workers(env) as (workers, logs):
        rate = send_campaign(audience, logs)
        return rate, max(peak_rss_mb(worker) for worker in workers)


def frozen_campaign():
    """The bench page frozen once, as the baseline's stand-in for a campaign."""
    from cms.rendering import freeze
    from tests.factories import make_page

    frozen = freeze(make_page(title="Bench baseline"))
    return SimpleNamespace(pk=999_999, frozen=lambda: frozen)


def contacts(count):
    return [
        SimpleNamespace(pk=n, contact=SimpleNamespace(email=f"b{n}@baseline.example", first_name=f"B{n}", last_name=""))
        for n in range(count)
    ]


def baseline(backend, deliveries):
    """Build with the engine's own builder and hand straight to the real backend, in the
    chunks the pipeline would use."""
    from campaigns.sending.builders import builder_for
    from campaigns.sending.pipeline import chunk_size

    builder = builder_for(frozen_campaign(), backend)
    size = chunk_size(builder)
    started = time.perf_counter()
    with backend:
        for start in range(0, len(deliveries), size):
            chunk = deliveries[start : start + size]
            if hasattr(builder, "alias"):
                backend.send_messages([builder.build(chunk)])
            else:
                messages = [builder.build(delivery) for delivery in chunk]
                for message in messages:
                    message.extra_headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
                backend.send_messages(messages)
    return len(deliveries) / (time.perf_counter() - started)


def esp_env(name, server, batch):
    """The workers' settings for `name`'s anymail backend against its running stand-in."""
    return {
        "MAILROOM_PROMOTIONAL_BACKEND": esps.backend_path(name),
        "MAILROOM_PROMOTIONAL_OPTIONS": json.dumps(esps.options(name, server)),
        "MAILROOM_ESP_BATCH": "1" if batch else "0",
    }


def esp_baseline(name, server, batch, count):
    """The in-process baseline's recipients/s for `count` recipients."""
    from django.test import override_settings
    from django.utils.module_loading import import_string

    with override_settings(MAILROOM_ESP_BATCH=batch):
        backend = import_string(esps.backend_path(name))(alias="bench", **esps.options(name, server))
        return baseline(backend, contacts(count))


def bench_esp(name, server, audience, batch, baseline_count):
    """(recipients/s through the workers, the in-process baseline's, worker peak RSS MB)."""
    rate, rss = run_campaign(audience, esp_env(name, server, batch))
    return rate, esp_baseline(name, server, batch, baseline_count), rss


def esp_batches():
    """send_esp_batch_<esp>: each ESP's batch path (Resend's one message per call) to its
    stand-in, ESP_RECIPIENTS recipients each (a tenth for one message per call), best of
    ESP_ROUNDS campaigns (the same two workers) against the best of as many baselines, run
    in turn: on this shared machine one run of either side swung by half from the next, and
    other work only ever slows a run. Each line also gives the CPU each side spent per
    recipient over all its rounds (the workers', PostgreSQL's and the stand-in's; the
    baseline's process and the stand-in's): steadier than the rates, and it says where the
    pipeline's time goes."""
    from campaigns.sending.esp.table import ESPS

    ensure_sender()
    batched = {esp.name for esp in ESPS}
    for name in esps.ESPS:
        recipients = ESP_RECIPIENTS if name in batched else ESP_RECIPIENTS // 10
        audience = seed_audience(f"esp-{name}", recipients)
        server = esps.start(name, record=False)
        rates, bases = [], []
        used, base_used = Counter(), Counter()
        try:
            with two_workers(esp_env(name, server, True)) as (workers, logs):
                for _ in range(ESP_ROUNDS):
                    before = cpu_seconds(workers, server)
                    rates.append(send_campaign(audience, logs))
                    used.update(cpu_seconds(workers, server) - before)
                    before = baseline_cpu_seconds(server)
                    bases.append(esp_baseline(name, server, True, recipients))
                    base_used.update(baseline_cpu_seconds(server) - before)
        finally:
            server.stop()
        emit(
            f"send_esp_batch_{name}",
            max(rates),
            "recipients/s",
            max(bases),
            recipients=recipients,
            path="batch" if name in batched else "one message per call",
            runs=[round(rate) for rate in rates],
            baseline_runs=[round(base) for base in bases],
            cpu_us_per_recipient=per_recipient_us(used, recipients * ESP_ROUNDS),
            baseline_cpu_us_per_recipient=per_recipient_us(base_used, recipients * ESP_ROUNDS),
            goal=ESP_GOALS.get(name, "ratio >= 0.8"),
        )


def run():
    from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

    ensure_sender()
    big = seed_audience("big", RECIPIENTS)
    small = seed_audience("small", RECIPIENTS // 10)
    postmark = StandInPostmark(record=False).start()
    try:
        rate, base, rss_big = bench_esp("postmark", postmark, big, True, RECIPIENTS)
        emit("send_esp_batch", rate, "recipients/s", base, recipients=RECIPIENTS, goal=10_000)
        _, _, rss_small = bench_esp("postmark", postmark, small, True, RECIPIENTS // 10)
        emit(
            "worker_peak_rss_mb",
            rss_big,
            "MB",
            rss_small,
            at_100k_mb=rss_big,
            at_10k_mb=rss_small,
            goal="under 250 and flat",
        )
        rate, base, _ = bench_esp("postmark", postmark, small, False, BASELINE_SAMPLE)
        emit("send_esp_single", rate, "messages/s", base, recipients=RECIPIENTS // 10, goal=2_000)
    finally:
        postmark.stop()
    esp_batches()

    sink = SmtpSink().start()
    try:
        rate, _ = run_campaign(small, smtp_mailer_env(sink.port))
        base = baseline(SmtpBackend(alias="bench", host="127.0.0.1", port=sink.port), contacts(BASELINE_SAMPLE))
        emit("send_smtp", rate, "messages/s", base, recipients=RECIPIENTS // 10, goal=500)
    finally:
        sink.stop()

    pacing()
    bench_snapshot()
    ab_split()
    crash()


def pacing():
    from django.conf import settings

    ensure_sender()
    recipients = int(os.environ.get("BENCH_PACING_RECIPIENTS", "20000"))
    postmark = StandInPostmark(record=False).start()
    options = {"api_url": postmark.api_url, "server_token": "bench"}
    path = {"MAILROOM_PROMOTIONAL_BACKEND": POSTMARK, "MAILROOM_PROMOTIONAL_OPTIONS": json.dumps(options)}
    groups = [*settings.MAILROOM_DOMAIN_GROUPS, "other"]
    unbound = json.dumps(dict.fromkeys(groups, 1_000_000))  # set, consulted, never reached
    rates = {"off": [], "on": []}
    modes = [("off", "{}"), ("on", unbound)]
    try:
        for round_ in range(3):  # off-on, on-off, off-on: neither always runs first
            for mode, domain_rates in modes if round_ % 2 == 0 else modes[::-1]:
                audience = seed_audience(f"pacing-{mode}-{round_}", recipients)
                rates[mode].append(run_campaign(audience, path | {"MAILROOM_DOMAIN_RATES": domain_rates})[0])
    finally:
        postmark.stop()
    emit(
        "domain_pacing_overhead",
        max(rates["on"]),
        "recipients/s",
        max(rates["off"]),
        recipients=recipients,
        runs_on=[round(rate) for rate in rates["on"]],
        runs_off=[round(rate) for rate in rates["off"]],
        goal=">= 0.9",
    )


def bench_snapshot():
    from campaigns.models import Contact, Membership
    from campaigns.sending import snapshot

    audience = seed_audience("million", 1_000_000)
    campaign = make_campaign(audience)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute(
            "CREATE TABLE bench_plain (campaign_id bigint, contact_id bigint, email_hash varchar(64), status varchar(16))"
        )
        started = time.perf_counter()
        cursor.execute(
            f"INSERT INTO bench_plain SELECT %s, c.id, c.email_hash, 'pending' FROM {Contact._meta.db_table} c "
            f"WHERE c.id IN (SELECT contact_id FROM {Membership._meta.db_table} WHERE audience_id = %s)",
            [campaign.pk, audience.pk],
        )
        base = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        snapshot.snapshot(campaign)
    seconds = time.perf_counter() - started
    emit("snapshot_1m_s", seconds, "s", base, recipients=1_000_000, goal="under 20")


def ab_split():
    """ab_split_1m_s: starting an A/B subject test of 1,000,000 recipients (the snapshot
    holding every row, then a random 20 % given the variants in one UPDATE) against the
    plain snapshot of the same audience."""
    from campaigns.models import Delivery, SubjectVariant
    from campaigns.sending import ab, snapshot

    audience = seed_audience("split", 1_000_000)
    plain, tested = make_campaign(audience), make_campaign(audience)
    SubjectVariant.objects.bulk_create(
        SubjectVariant(campaign=tested, label=label, subject=f"Subject {label}") for label in "AB"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    started = time.perf_counter()
    with transaction.atomic():
        snapshot.snapshot(plain)
    base = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        snapshot.snapshot(tested, Delivery.Status.HELD)
        in_test = ab.start_test(tested, ab.variants(tested))
    seconds = time.perf_counter() - started
    emit("ab_split_1m_s", seconds, "s", base, recipients=1_000_000, test_share=in_test, goal="under 30")


def wait_until(condition, timeout, what, tick=0.05):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(tick)


def kill_mid_campaign(audience, total, env, received, logs):
    """Send a campaign with one promotional worker (one process) and beat; SIGKILL the worker
    a quarter of the way in and start a replacement at once. Returns seconds from the kill
    until deliveries move again, seconds until every row the dead worker held is sent, and
    how many recipients were sent twice."""
    from campaigns.models import Campaign
    from campaigns.sending import lifecycle
    from tests.factories import in_hand, without_outcome

    campaign = make_campaign(audience)
    lifecycle.schedule(campaign)
    env = os.environ | env | {"DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1"}
    processes = [Beat(env, logs / "beat.log", logs / "celerybeat-schedule")]
    try:
        processes.append(Worker(env, "promotional", logs / "worker0.log", concurrency=1))
        # Polled tightly, so the kill lands just after the sink took a message: mid-chunk, or
        # before its outcomes are written (the worst moment).
        wait_until(lambda: len(received()) >= total // 4, CAMPAIGN_TIMEOUT, "a quarter of the campaign", tick=0.002)
        processes[-1].kill()
        killed_at = time.monotonic()
        held = without_outcome(in_hand(campaign.pk))
        processes.append(Worker(env, "promotional", logs / "worker1.log", concurrency=1, wait=False))
        time.sleep(0.5)  # what was on the wire has landed
        before = len(received())
        wait_until(lambda: len(received()) > before, 300, "deliveries to move again")
        moving = time.monotonic() - killed_at
        wait_until(lambda: not held.exists(), 300, "the dead worker's rows to be sent")
        recovered = time.monotonic() - killed_at
        wait_until(
            lambda: Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENT).exists(),
            CAMPAIGN_TIMEOUT,
            "the campaign to be sent",
        )
    finally:
        for process in processes:
            process.stop()
    addresses = received()
    return moving, recovered, len(addresses) - len(set(addresses))


def crash():
    from django.conf import settings

    ensure_sender()
    recipients = int(os.environ.get("BENCH_CRASH_RECIPIENTS", "5000"))
    results = {}
    forget_queued_tasks(settings.REDIS_URL)
    sink = SmtpServer(Inbox(keep_content=False)).start()
    try:
        logs = Path(tempfile.mkdtemp(prefix="mailroom-bench-crash-smtp-"))
        audience = seed_audience("crash-smtp", recipients)
        results["smtp"] = kill_mid_campaign(
            audience, recipients, smtp_mailer_env(sink.port), sink.inbox.recipients, logs
        )
    finally:
        sink.stop()
    postmark = StandInPostmark(record=False, latency=0.05).start()  # a real ESP's round trip
    try:
        logs = Path(tempfile.mkdtemp(prefix="mailroom-bench-crash-esp-"))
        options = {"api_url": postmark.api_url, "server_token": "bench"}
        env = {"MAILROOM_PROMOTIONAL_BACKEND": POSTMARK, "MAILROOM_PROMOTIONAL_OPTIONS": json.dumps(options)}
        audience = seed_audience("crash-esp", recipients)
        results["esp_batch"] = kill_mid_campaign(audience, recipients, env, postmark.recipients, logs)
    finally:
        postmark.stop()
    forget_queued_tasks(settings.REDIS_URL)  # and the killed workers' tasks Redis would hand out again
    lease, interval = settings.MAILROOM_CLAIM_LEASE_SECONDS, settings.MAILROOM_SCHEDULER_INTERVAL
    chunk = settings.MAILROOM_CHUNK_SIZE
    # Kill → every row the dead worker held sent again; moving_again_s: → the first delivery
    # after the kill (the campaign's other chain, queued, goes on in the replacement).
    path = max(results, key=lambda name: results[name][1])
    per_path = {f"{name}_s": round(result[1], 1) for name, result in results.items()}
    per_path |= {f"{name}_moving_again_s": round(result[0], 1) for name, result in results.items()}
    emit("crash_recovery_s", results[path][1], "s", lease + interval, path=path, **per_path, goal=60, lease_s=lease)
    path = max(results, key=lambda name: results[name][2])
    per_path = {name: result[2] for name, result in results.items()}
    emit("crash_duplicates", results[path][2], "recipients", chunk, path=path, **per_path, goal=f"<= {chunk}")
