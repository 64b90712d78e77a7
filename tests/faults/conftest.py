"""What every fault test needs: its own worker and beat processes on the test database,
short leases, and the checks each fault must pass at the sink.

Each test asserts: nothing lost, at most one chunk sent twice per fault, the campaign
sent, and its counters equal to what the sink received.
"""

import collections
import json
import os
import time

import pytest
from django.db import connection

from campaigns.models import Campaign, Delivery
from campaigns.sending import lifecycle
from tests.conftest import _missing
from tests.factories import make_big_audience, make_campaign, make_page
from tests.services import Beat, SmtpServer, Worker, forget_queued_tasks, smtp_mailer_env
from tests.standins.postmark import StandInPostmark

CHUNK = 50
LEASE = 5
# Short leases and a quick beat keep each fault test under a minute; the README's defaults
# (30 s, 5 s) put recovery at about 35 s.
FAST = {
    "MAILROOM_CLAIM_LEASE_SECONDS": str(LEASE),
    "MAILROOM_SCHEDULER_INTERVAL": "1",
    "MAILROOM_CHUNK_SIZE": str(CHUNK),
    "MAILROOM_BATCH_SIZE": "200",
    "MAILROOM_SEND_CHAINS": "2",
}
POSTMARK = "anymail.backends.postmark.EmailBackend"


def wait_for(condition, timeout, what, tick=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(tick)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Stack:
    """One test's processes, all stopped at its end: workers and beat share `env`."""

    def __init__(self, env, folder):
        self.env = env
        self.folder = folder
        self.processes = []

    def _log(self, name):
        return self.folder / f"{name}-{len(self.processes)}.log"

    def workers(self, count=1, queues="promotional", concurrency=1):
        """Start `count` workers at once; returns them when all are ready."""
        started = [Worker(self.env, queues, self._log(queues), concurrency, wait=False) for _ in range(count)]
        self.processes += started
        return [worker.wait_ready() for worker in started]

    def beat(self):
        self.processes.append(Beat(self.env, self._log("beat"), self.folder / "celerybeat-schedule"))
        return self.processes[-1]

    def logs(self):
        return "".join(process.output() for process in self.processes)

    def stop(self):
        for process in self.processes:
            process.kill()  # the test is over: nothing to finish, and none may outlive it
            process.stop()


@pytest.fixture
def stack(transactional_db, redis_url, tmp_path, sender_settings):
    if connection.vendor != "postgresql":
        _missing("PostgreSQL", "DATABASE_URL")
    forget_queued_tasks(redis_url)
    database_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{connection.settings_dict['NAME']}"
    env = os.environ | FAST | {"DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": database_url}
    processes = Stack(env | {"PYTHONUNBUFFERED": "1"}, tmp_path)
    yield processes
    processes.stop()
    forget_queued_tasks(redis_url)


@pytest.fixture
def smtp_sink(stack):
    """An SMTP server of this test's own, which the stack's processes mail to."""
    server = SmtpServer().start()
    server.inbox.keep_content = False
    stack.env |= smtp_mailer_env(server.port)
    yield server
    server.stop()


@pytest.fixture
def esp_sink(smtp_sink, stack):
    """A stand-in Postmark API of this test's own, which promotional mail goes to in batch
    calls (account mail still goes to smtp_sink)."""
    server = StandInPostmark(record=False, latency=0.05).start()
    options = {"api_url": server.api_url, "server_token": "stand-in-token"}
    stack.env |= {"MAILROOM_PROMOTIONAL_BACKEND": POSTMARK, "MAILROOM_PROMOTIONAL_OPTIONS": json.dumps(options)}
    yield server
    server.stop()


def due_campaign(total, name="Everyone"):
    """A campaign to `total` people, scheduled now: beat starts it."""
    campaign = make_campaign(make_page(title=name), make_big_audience(name, total, f"{name.lower()}.example"))
    lifecycle.schedule(campaign)
    campaign.domain = f"{name.lower()}.example"
    return campaign


def received_count(campaign):
    return Delivery.objects.filter(campaign=campaign, status=Delivery.Status.SENT).count()


def assert_nothing_lost(campaign, received, total, faults=1, timeout=120):
    """Wait for the campaign to be sent, then: nothing lost, at most one chunk per fault
    sent twice, counters equal to what the sink received. Returns the duplicates."""
    wait_for(lambda: status(campaign) == Campaign.Status.SENT, timeout, f"campaign {campaign.pk} to be sent")
    counts = collections.Counter(address for address in received() if address.endswith(f"@{campaign.domain}"))
    duplicates = sum(counts.values()) - len(counts)
    assert len(counts) == total, f"{total - len(counts)} recipients lost"
    assert duplicates <= faults * CHUNK
    campaign.refresh_from_db()
    counters = (campaign.audience_count, campaign.sent_count, campaign.failed_count, campaign.suppressed_count)
    assert counters == (total, len(counts), 0, 0)
    assert received_count(campaign) == total
    return duplicates


def status(campaign):
    campaign.refresh_from_db()
    return campaign.status
