"""Erasing a person leaves their address nowhere else: not in Wagtail's log entries (the
admin's history of a contact is labelled with its address), not in a kept upload's
preview or file, not in an import report (which holds line numbers and reasons only)."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from wagtail.log_actions import log
from wagtail.models import ModelLogEntry, PageLogEntry

from campaigns.audiences import import_jobs
from campaigns.models import Audience, Contact, ImportJob
from tests.factories import make_page
from tests.security.staff import CONTACT_FORM, staff_client, staff_user

pytestmark = pytest.mark.django_db
ADDRESS = "Ada.Lovelace@example.com"


def mentions(address):
    """Every log entry whose label or data still holds the address, in any letter case."""
    found = []
    for model in (ModelLogEntry, PageLogEntry):
        for entry in model.objects.all():
            if address.lower() in f"{entry.label} {entry.data}".lower():
                found.append(entry)
    return found


def uploaded(client, name, content):
    client.post(
        reverse("imports:upload"),
        {
            "file": SimpleUploadedFile(name, content),
            "kind": "contacts",
            "audience": "new",
            "new_audience": "Shop",
        },
    )
    job = ImportJob.objects.latest("pk")
    import_jobs.inspect(job.pk)
    job.refresh_from_db()
    return job


def test_erasure_scrubs_wagtails_log_entries(sender_settings):
    admin = staff_client("Admin")
    assert admin.post("/admin/contact/new/", {"email": ADDRESS, **CONTACT_FORM}).status_code == 302
    contact = Contact.objects.get()
    assert (
        admin.post(
            f"/admin/contact/edit/{contact.pk}/", {"email": ADDRESS, **CONTACT_FORM, "company": "AE"}
        ).status_code
        == 302
    )
    page = make_page()
    someone = staff_user("Marketer")
    log(page, "wagtail.edit", user=someone, data={"comment": f"Subject line agreed with {ADDRESS.upper()}"})
    audience = Audience.objects.create(name="Shop")
    log(audience, "wagtail.edit", user=someone, data={"changes": [{"note": f"added {ADDRESS.lower()}"}]})
    assert len(mentions(ADDRESS)) == 4  # create, edit (labelled with the address), the two notes
    history = admin.get(f"/admin/contact/history/{contact.pk}/").content.decode()
    assert ADDRESS in history

    response = admin.post(reverse("privacy:index"), {"email": ADDRESS.lower(), "action": "erase", "confirm": "on"})
    assert response.status_code == 302 and not Contact.objects.exists()

    assert mentions(ADDRESS) == []
    contact_entries = ModelLogEntry.objects.filter(object_id=str(contact.pk), content_type__model="contact")
    assert {(entry.action, entry.label, str(entry.data)) for entry in contact_entries} == {
        ("wagtail.create", "(erased)", "{}"),
        ("wagtail.edit", "(erased)", "{}"),
    }
    page_entry = PageLogEntry.objects.get(page=page, action="wagtail.edit")
    assert page_entry.data == {"comment": "Subject line agreed with (erased)"}  # the rest of the record stays
    assert ModelLogEntry.objects.get(object_id=str(audience.pk), content_type__model="audience").data == {
        "changes": [{"note": "added (erased)"}]
    }
    assert ADDRESS.lower() not in admin.get("/admin/reports/site-history/").content.decode().lower()


def test_erasure_deletes_a_kept_upload_that_shows_the_person_and_reports_never_hold_them(sender_settings):
    admin = staff_client("Admin")
    theirs = uploaded(admin, "theirs.csv", f"email,first_name\n{ADDRESS},Ada\n{ADDRESS.upper()},Dup\nbad,X\n".encode())
    other = uploaded(admin, "other.csv", b"email\ngrace@example.com\n")
    admin.post(
        reverse("imports:mapping", args=[theirs.pk]), {"column_0": "email", "column_1": "first_name", "dry_run": "1"}
    )
    import_jobs.run(theirs.pk)
    theirs.refresh_from_db()
    report = Path(theirs.error_report.path)
    assert theirs.status == "done" and "ada" not in report.read_text().lower()  # line and reason only
    upload_path = Path(theirs.file.path)

    admin.post(reverse("privacy:index"), {"email": ADDRESS, "action": "erase", "confirm": "on"})

    theirs.refresh_from_db()
    assert (theirs.file.name, theirs.preview) == ("", []) and not upload_path.exists()
    assert "ada" not in report.read_text().lower()
    other.refresh_from_db()
    assert other.file and Path(other.file.path).exists() and other.preview == [["grace@example.com"]]
