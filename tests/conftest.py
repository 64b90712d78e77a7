"""Shared fixtures: real services (PostgreSQL, Redis, an SMTP server, a Celery worker).

Tests that need PostgreSQL or Redis skip with a reason when DATABASE_URL / REDIS_URL
are not set, and fail instead when MAILROOM_REQUIRE_SERVICES=1 (as CI sets it).
"""

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection, connections

ROOT = Path(__file__).resolve().parent.parent
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
REQUIRE_SERVICES = os.environ.get("MAILROOM_REQUIRE_SERVICES") == "1"


def _missing(what, variable):
    message = f"needs {what}: set {variable}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (MAILROOM_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(message)


@pytest.fixture
def postgres(db):
    if connection.vendor != "postgresql":
        _missing("PostgreSQL", "DATABASE_URL")


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("REDIS_URL")
    if not url:
        _missing("Redis", "REDIS_URL")
    return url


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """What the SMTP server received: a list of (envelope sender, recipients, bytes)."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        # address -> replies to give its next RCPT TO commands, e.g. ["451 4.3.0 Try later"]
        self.rcpt_replies = {}
        self.on_message = None  # called (in the server's thread) after each message

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            replies = self.rcpt_replies.get(address)
            reply = replies.pop(0) if replies else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        if self.on_message:
            await asyncio.to_thread(self._call_on_message)  # off the event loop: it may use the ORM
        return "250 OK"

    def _call_on_message(self):
        try:
            self.on_message()
        finally:
            connections.close_all()  # this thread's connection would block dropping the test DB

    def clear(self):
        with self.lock:
            self.messages.clear()
            self.rcpt_replies.clear()
            self.on_message = None

    def recipients(self):
        return [rcpts[0] for _, rcpts, _ in list(self.messages)]

    def wait_for(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.05)
        return list(self.messages)


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback."""
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def smtp_inbox(smtp_server):
    smtp_server.clear()
    return smtp_server


def smtp_mailer_env(port):
    backend = "django.core.mail.backends.smtp.EmailBackend"
    options = json.dumps({"host": "127.0.0.1", "port": port, "timeout": 10})
    return {
        "MAILROOM_PROMOTIONAL_BACKEND": backend,
        "MAILROOM_PROMOTIONAL_OPTIONS": options,
        "MAILROOM_ACCOUNT_BACKEND": backend,
        "MAILROOM_ACCOUNT_OPTIONS": options,
    }


class Worker:
    """A real `celery worker` process (own session, so kill() takes its pool down too)."""

    def __init__(self, env, queues, log_path, concurrency=2):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", str(concurrency),
             "-Q", queues, "-n", f"{queues}-{log_path.stem}@%h",
             "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in Path(self.log_path).read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"Celery worker did not start:\n{self.output()}")

    def output(self):
        return Path(self.log_path).read_text(errors="replace")

    def kill(self):
        """A crash: SIGKILL to the worker and its pool, no chance to finish or ack."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


@pytest.fixture
def start_worker(transactional_db, redis_url, smtp_server, tmp_path):
    """Start real worker processes on the test database and Redis, mailing to the test
    SMTP server: start_worker(queues="promotional,account", **extra_env). All are stopped
    at the end of the test."""
    from config.celery import app

    if connection.vendor != "postgresql":
        _missing("PostgreSQL", "DATABASE_URL")
    app.control.purge()
    database_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{connection.settings_dict['NAME']}"
    base_env = os.environ | smtp_mailer_env(smtp_server.port) | {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
    }
    workers = []

    def start(queues="promotional,account", concurrency=2, **extra_env):
        log_path = tmp_path / f"worker{len(workers)}.log"
        workers.append(Worker(base_env | extra_env, queues, log_path, concurrency))
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()
    app.control.purge()


@pytest.fixture
def sender_settings(db):
    """Default site's sender settings with the postal address promotional mail requires."""
    from wagtail.models import Site

    from cms.models import SenderSettings

    settings = SenderSettings.for_site(Site.objects.get(is_default_site=True))
    settings.company_name = "Example Software Ltd"
    settings.postal_address = "1 Example Street\nSpringfield 12345"
    settings.from_name = "Example Offers"
    settings.from_email = "offers@example.com"
    settings.save()
    return settings


@pytest.fixture
def smtp_mailers(settings, smtp_inbox):
    """Both mailers deliver over SMTP to the test server, in this process."""
    from config.settings.base import gateway_mailer

    options = {"host": "127.0.0.1", "port": smtp_inbox.port, "timeout": 10}
    backend = "django.core.mail.backends.smtp.EmailBackend"
    settings.MAILERS = {
        "default": gateway_mailer("account", backend, options),
        "promotional": gateway_mailer("promotional", backend, options),
    }
    return smtp_inbox


@pytest.fixture
def outbox_dir(settings, tmp_path):
    """Both mailers write .eml files here (the dev outbox backend, a real file backend)."""
    from config.settings.base import gateway_mailer

    options = {"directory": str(tmp_path)}
    settings.MAILERS = {
        "default": gateway_mailer("account", "config.outbox.OutboxBackend", options),
        "promotional": gateway_mailer("promotional", "config.outbox.OutboxBackend", options),
    }
    return tmp_path


@pytest.fixture(scope="session")
def postmark_server():
    """The stand-in Postmark API on loopback (its own process)."""
    from tests.standins.postmark import StandInPostmark

    server = StandInPostmark(record=True).start()
    yield server
    server.stop()


@pytest.fixture
def postmark_mailers(settings, postmark_server):
    """The promotional mailer uses anymail's real Postmark backend against the stand-in."""
    from config.settings.base import gateway_mailer

    postmark_server.reset()
    options = {"api_url": postmark_server.api_url, "server_token": "stand-in-token"}
    settings.MAILERS = settings.MAILERS | {
        "promotional": gateway_mailer("promotional", "anymail.backends.postmark.EmailBackend", options)
    }
    return postmark_server
