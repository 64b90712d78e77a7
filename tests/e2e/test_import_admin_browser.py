"""An admin imports a customer list through the Wagtail admin in headless Chromium.

Upload → column mapping (automatic matches, one changed by hand) → dry run → import for
real, watching the progress bar; the real Celery worker does the import; then the report
of rejected rows is downloaded.
"""

import csv

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from campaigns.management.commands.seed_demo import GROUP_PERMISSIONS
from campaigns.models import Audience, Contact
from suppression import policy
from suppression.models import Channel, Source, Suppression

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
ROWS = 3000


@pytest.fixture
def page(browser):
    return browser.new_page(accept_downloads=True)


def admin_user():
    group, _ = Group.objects.get_or_create(name="Admins")
    group.permissions.set(Permission.objects.filter(codename__in=GROUP_PERMISSIONS["Admins"]))
    user = get_user_model().objects.create_user("alice", "alice@example.com", "correct horse")
    user.groups.add(group)


def customer_file(path):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email Address", "FNAME", "LNAME", "Plan"])
        for number in range(ROWS):
            writer.writerow([f"customer{number}@example.com", f"First{number}", f"Last{number}", "pro"])
        writer.writerow(["not-an-address", "Bad", "Row", "pro"])
        writer.writerow(["CUSTOMER7@example.com", "Dup", "Row", "pro"])


def test_admin_imports_with_mapping_and_progress(start_worker, live_server, page, tmp_path):
    start_worker()
    admin_user()
    policy.record_opt_out("customer5@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    path = tmp_path / "export-from-old-tool.csv"
    customer_file(path)

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct horse")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/admin/imports/new/")
    page.set_input_files("input[name=file]", str(path))
    assert page.is_hidden("select[name=channel]")  # a suppression list's field only
    page.check("input[name=kind][value=suppressions]")  # Wagtail's w-rules shows each kind's fields
    expect(page.locator("select[name=channel]")).to_be_visible()
    expect(page.locator("select[name=audience]")).to_be_hidden()
    page.check("input[name=kind][value=contacts]")
    expect(page.locator("select[name=channel]")).to_be_hidden()
    assert page.input_value("select[name=audience]") == "new"  # no audience yet: a new one, named here
    page.fill("input[name=new_audience]", "Old tool customers")
    page.click("text=Upload and map columns")

    # Mapping step: common headers matched automatically; "Plan" kept as a custom attribute.
    assert page.input_value("select[name=column_0]") == "email"
    assert page.input_value("select[name=column_1]") == "first_name"
    assert page.input_value("select[name=column_2]") == "last_name"
    assert page.input_value("select[name=column_3]") == ""
    assert "customer0@example.com" in page.inner_text("table")
    page.select_option("select[name=column_3]", "attribute")
    page.click("text=Dry run (write nothing)")
    page.wait_for_selector("[data-import-summary]:not([hidden])", timeout=60_000)
    assert page.inner_text("[data-count=created]") == str(ROWS)
    assert not Contact.objects.exists()

    page.click("text=Back to mapping to import for real")
    assert page.input_value("select[name=column_3]") == "attribute"
    page.click("button[name=import]")
    page.wait_for_selector("[data-import-summary]:not([hidden])", timeout=120_000)
    counts = {
        name: page.inner_text(f"[data-count={name}]")
        for name in ("rows", "created", "updated", "unchanged", "invalid", "duplicates", "suppressed")
    }
    assert counts == {
        "rows": str(ROWS + 2),
        "created": str(ROWS),
        "updated": "0",
        "unchanged": "0",
        "invalid": "1",
        "duplicates": "1",
        "suppressed": "1",
    }
    assert page.get_attribute("progress", "value") == "100"
    assert "rows/s" in page.inner_text("[data-import-status]")

    with page.expect_download() as download:
        page.click("text=Download rejected rows (CSV)")
    with open(download.value.path(), encoding="utf-8-sig", newline="") as handle:
        rejected = list(csv.reader(handle))
    assert [row[0] for row in rejected[1:]] == [str(ROWS + 2), str(ROWS + 3)]

    audience = Audience.objects.get(name="Old tool customers")
    assert audience.contacts.count() == ROWS
    assert Contact.objects.get(email="customer1@example.com").attributes == {"plan": "pro"}
    assert Suppression.objects.filter(channel=Channel.EMAIL_MARKETING).count() == 1
