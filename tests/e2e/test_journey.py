"""`make run`'s embedded default as a newcomer meets it: web, worker and beat from
Procfile.dev on SQLite, the filesystem broker and the outbox, in a throwaway folder.

The marketer's journey runs in Chromium (tests/e2e/journey.py). While its campaign waits
for the minute it is scheduled for, another admin sends 600 with "Send now" and two
more keep using the admin: no process may log "database is locked" (web, worker and beat
share one SQLite file), and both campaigns are sent.
"""

import csv
import re
import threading
import time

import pytest
import requests

from tests.e2e import journey
from tests.services import EmbeddedMailroom

pytestmark = pytest.mark.browser
LOCKED = "database is locked"
BIG = 600


def test_from_make_run_to_a_sent_campaign_while_the_admin_is_busy(browser, tmp_path):
    # Beat scans every second (5 s by default) so the scheduled minute is met promptly.
    with EmbeddedMailroom(tmp_path / "var", MAILROOM_SCHEDULER_INTERVAL="1") as mailroom:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        try:
            journey.until_scheduled(page, mailroom)
            send_now_while_the_admin_is_used(mailroom, tmp_path)
            journey.after_scheduled(page, mailroom)
        except AssertionError:
            print(mailroom.output()[-6000:])  # what web, worker and beat said
            raise
        assert LOCKED not in mailroom.output(), mailroom.output()[-3000:]


class AdminSession(requests.Session):
    """A logged-in admin talking to the embedded default's web process."""

    def __init__(self, mailroom):
        super().__init__()
        self.trust_env = False
        self.base = mailroom.url
        self.get("/admin/login/")
        self.post("/admin/login/", data={"username": "admin", "password": mailroom.password})

    def request(self, method, url, *args, data=None, **kwargs):
        if method.upper() == "POST":
            data = {**(data or {}), "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
            kwargs.setdefault("headers", {})["Referer"] = self.base + "/admin/"
        return super().request(method, self.base + url, *args, data=data, timeout=60, **kwargs)


def use_the_admin(mailroom, campaign_id, stop, statuses, worker):
    """What an admin does meanwhile: read the dashboard and the report, record opt-outs."""
    admin = AdminSession(mailroom)
    number = 0
    while not stop.is_set():
        number += 1
        for path in ("/admin/", f"/admin/campaign/inspect/{campaign_id}/", f"/admin/campaign/status/{campaign_id}/"):
            statuses.append(admin.get(path).status_code)
        opt_out = {
            "address": f"caller{worker}-{number}@example.com",
            "channels": ["postal_marketing"],
            "source": "phone",
        }
        statuses.append(admin.post("/admin/suppression/record/", data=opt_out).status_code)


def send_now_while_the_admin_is_used(mailroom, tmp_path):
    people = tmp_path / "big-list.csv"
    with people.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name"])
        writer.writerows([f"reader{number:05d}@example.com", f"Reader{number}"] for number in range(BIG))
    page_id, audience_id = mailroom.manage("shell", "--no-imports", "-c", IMPORT.format(path=people)).split()[-2:]
    admin = AdminSession(mailroom)
    created = admin.post("/admin/campaign/new/", data={"name": "Big send", "page": page_id, "audiences": [audience_id]})
    campaign_id = re.search(r"/campaign/edit/(\d+)/", created.url).group(1)

    stop, statuses = threading.Event(), []
    others = [
        threading.Thread(target=use_the_admin, args=(mailroom, campaign_id, stop, statuses, worker))
        for worker in range(2)
    ]
    for thread in others:
        thread.start()
    try:
        assert admin.post(f"/admin/campaign/send/{campaign_id}/").status_code == 200  # the report
        deadline = time.monotonic() + 120
        while (status := admin.get(f"/admin/campaign/status/{campaign_id}/").json())["status"] != "sent":
            assert time.monotonic() < deadline, f"stuck: {status}"
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in others:
            thread.join()
    assert (status["sent"], status["done"]) == (BIG, BIG)
    assert len(statuses) > 20 and set(statuses) <= {200}, set(statuses)


# import_contacts and the ids it needs, in one process (each Django start costs seconds).
IMPORT = (
    "from django.core.management import call_command; from cms.models import EmailPage; "
    "from campaigns.models import Audience; call_command('import_contacts', '{path}', audience='Big list'); "
    "print(EmailPage.objects.get(slug='winter-offers').pk, Audience.objects.get(name='Big list').pk)"
)
