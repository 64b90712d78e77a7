"""Shared fixtures: real services (PostgreSQL, Redis, an SMTP server, a Celery worker).

Tests that need PostgreSQL or Redis skip with a reason when DATABASE_URL / REDIS_URL
are not set, and fail instead when MAILROOM_REQUIRE_SERVICES=1 (as CI sets it).
"""

import os

import pytest
from django.db import connection

from tests.services import SmtpServer, Worker, smtp_mailer_env

REQUIRE_SERVICES = os.environ.get("MAILROOM_REQUIRE_SERVICES") == "1"
# Without the background-networking flags Chromium keeps calling hosts this machine cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback; yields its Inbox (with the port)."""
    server = SmtpServer().start()
    server.inbox.port = server.port
    yield server.inbox
    server.stop()


@pytest.fixture
def smtp_inbox(smtp_server):
    smtp_server.clear()
    return smtp_server


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
    base_env = (
        os.environ
        | smtp_mailer_env(smtp_server.port)
        | {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
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


@pytest.fixture(autouse=True)
def outbox_dir(settings, tmp_path):
    """Every test mails through the real gateway, as production does; the real backend
    behind it writes .eml files here.

    Django's test setup swaps every MAILERS alias for locmem, which would bypass the
    gateway (DESIGN invariant 1) without anyone noticing; this puts it back.
    """
    from config.settings.base import gateway_mailer

    outbox = tmp_path / "outbox"
    options = {"directory": str(outbox)}
    settings.MAILERS = {
        "default": gateway_mailer("account", "config.outbox.OutboxBackend", options),
        "promotional": gateway_mailer("promotional", "config.outbox.OutboxBackend", options),
    }
    outbox.mkdir()
    return outbox


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


@pytest.fixture
def browser(monkeypatch):
    """Debian's headless Chromium driven by Playwright (playwright cannot download its own
    browser here). Playwright's sync API runs an event loop in this thread; the test's ORM
    calls are still plain synchronous code, so Django's async guard is lifted for it."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            connections.close_all()  # else the test database cannot be dropped
