"""Uploads are hostile until checked: only a text table or a real XLSX within
MAILROOM_IMPORT_MAX_BYTES gets in (HTML, SVG, other zips, binaries are refused with a clear
message and nothing is kept); a zip bomb is refused from its directory in bounded time and
memory; the request never parses the file (a worker reads the first rows once); files live
in private storage, reach Admins only through a view, and are deleted when no longer useful."""

import io
import os
import re
import time
import tracemalloc
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from campaigns.audiences.importing import import_file
from campaigns.audiences.tables import ImportFileError
from campaigns.models import ImportJob, private_storage
from campaigns.tasks import delete_expired_import_files, inspect_import, run_import
from tests.security.staff import staff_client

pytestmark = pytest.mark.django_db
FORM = {"kind": "contacts", "audience": "new", "new_audience": "Shop"}
CSV = b"email,first_name\nada@example.com,Ada\nbroken,Bob\n"


def upload(client, name, content):
    return client.post(reverse("imports:upload"), {"file": SimpleUploadedFile(name, content), **FORM})


def kept_files():
    root = Path(django_settings.PRIVATE_DIR)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def workbook_bytes(rows):
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rewritten(xlsx, replace):
    """The workbook with each member's bytes passed through replace(name, data)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            target.writestr(member.filename, replace(member.filename, source.read(member.filename)))
    return out.getvalue()


XLSX_PARTS = {
    "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    b"</Types>",
    "_rels/.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    b"</Relationships>",
    "xl/workbook.xml": b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    b'<sheet name="Customers" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    b"</Relationships>",
    "xl/worksheets/sheet1.xml": b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<dimension ref="A1:A2"/><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
    b'<row r="2"><c r="A2" t="s"><v>1</v></c></row></sheetData></worksheet>',
}


def zip_bomb():
    """A real workbook (openpyxl opens it) whose shared strings unpack to over 100 MB from
    about 250 KB: the file of the report, which took the upload request 212 s and 750 MB."""
    block, blocks = 10_000, 220  # 2.2 million short strings: slow and big for a parser
    count = block * blocks
    filler = (b"<si><t>" + b"x" * 32 + b"</t></si>") * block
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in XLSX_PARTS.items():
            archive.writestr(name, data)
        with archive.open("xl/sharedStrings.xml", "w") as handle:
            handle.write(
                b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                + f'count="{count + 2}" uniqueCount="{count + 2}">'.encode()
                + b"<si><t>email</t></si><si><t>ada@example.com</t></si>"
            )
            for _ in range(blocks):
                handle.write(filler)
            handle.write(b"</sst>")
    return out.getvalue()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("list.html", b"<html><body><script>alert(1)</script></body></html>", "“.html” files cannot be imported"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "“.svg” files"),
        ("list.csv", b'\xef\xbb\xbf  <?xml version="1.0"?><svg><script>alert(1)</script></svg>', "web page or XML"),
        ("list.csv", b"<!DOCTYPE html><html></html>", "web page or XML"),
        ("list.xlsx", b"PK\x03\x04 not really a zip", "cannot be read"),
        ("list.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" * 50, "not text"),
        ("list", CSV, "cannot be imported"),
    ],
)
def test_anything_but_a_table_is_refused_with_a_clear_message(name, content, message):
    before = kept_files()
    response = upload(staff_client("Admin"), name, content)
    assert response.status_code == 200 and message in " ".join(response.context["form"].errors["file"])
    assert not ImportJob.objects.exists() and kept_files() == before


def test_a_zip_that_is_not_a_workbook_is_refused():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("list.csv", CSV)
    response = upload(staff_client("Admin"), "list.xlsx", archive.getvalue())
    assert "not an Excel workbook" in response.context["form"].errors["file"][0]
    assert not ImportJob.objects.exists()


def test_an_upload_over_the_limit_is_refused(settings):
    settings.MAILROOM_IMPORT_MAX_BYTES = 1000
    response = upload(staff_client("Admin"), "list.csv", CSV + b"x@example.com,X\n" * 100)
    assert "The file is 0.0 MB; the limit is 0.0 MB." in response.context["form"].errors["file"][0]
    xlsx = workbook_bytes([["email"], *[[f"p{n}@example.com"] for n in range(200)]])
    assert len(xlsx) < 20_000
    settings.MAILROOM_IMPORT_MAX_BYTES = 9000  # the packed file fits; unpacked it does not
    response = upload(staff_client("Admin", "admin2"), "list.xlsx", xlsx)
    assert "The workbook unpacks to" in response.context["form"].errors["file"][0]
    assert not ImportJob.objects.exists()


def test_a_body_over_the_limit_is_not_stored_at_all(settings):
    settings.MAILROOM_IMPORT_MAX_BYTES = 1000
    body = CSV + b"x@example.com,X\n" * 20_000  # 320 kB: past the limit and the form's allowance
    response = upload(staff_client("Admin"), "list.csv", body)
    form = response.context["form"]
    assert "file" not in form.files  # refused while the body streamed in, never written to disk
    assert form.errors["file"] == [f"The file is {len(body) / 1024 / 1024:,.1f} MB; the limit is 0.0 MB."]
    assert not ImportJob.objects.exists() and not kept_files()


def test_a_zip_bomb_is_refused_in_bounded_time_and_memory(tmp_path):
    bomb = zip_bomb()
    unpacked = sum(member.file_size for member in zipfile.ZipFile(io.BytesIO(bomb)).infolist())
    assert len(bomb) < 400_000 and unpacked > 100 * 1024 * 1024  # like the file of the report
    admin = staff_client("Admin")
    tracemalloc.start()
    started = time.monotonic()
    response = upload(admin, "customers.xlsx", bomb)
    seconds = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "refused as a likely zip bomb" in response.context["form"].errors["file"][0]
    assert seconds < 5 and peak < 30 * 1024 * 1024, (seconds, peak)  # was 212 s and 750 MB
    # The worker's reader (and import_contacts) refuse it the same way, before openpyxl opens it.
    path = tmp_path / "customers.xlsx"
    path.write_bytes(bomb)
    started = time.monotonic()
    with pytest.raises(ImportFileError, match="zip bomb"):
        import_file(path, audience_name="Shop")
    assert time.monotonic() - started < 5


def test_a_sheet_with_too_many_rows_is_refused_before_its_rows_are_read(settings):
    settings.MAILROOM_IMPORT_XLSX_MAX_ROWS = 6
    admin = staff_client("Admin")
    rows = [["email"], *[[f"p{n}@example.com"] for n in range(10)]]
    upload(admin, "big.xlsx", workbook_bytes(rows))
    job = ImportJob.objects.get()
    inspect_import(job.pk)
    job.refresh_from_db()
    assert (job.status, job.error, job.file.name) == ("failed", "The sheet has 10 rows; the limit is 6.", "")
    page = admin.get(reverse("imports:mapping", args=[job.pk])).content.decode()
    assert "The sheet has 10 rows; the limit is 6." in page
    # A sheet that does not declare its size is stopped once it passes the limit.
    undeclared = rewritten(
        workbook_bytes(rows),
        lambda name, data: re.sub(rb"<dimension [^>]*/>", b"", data) if name.startswith("xl/worksheets/") else data,
    )
    upload(admin, "undeclared.xlsx", undeclared)
    job = ImportJob.objects.latest("pk")
    inspect_import(job.pk)
    job.refresh_from_db()
    assert (job.status, job.total_rows) == ("mapping", 0)  # its first rows are within the limit
    admin.post(reverse("imports:mapping", args=[job.pk]), {"column_0": "email", "dry_run": "1"})
    run_import(job.pk)
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", "The sheet has more than 6 rows, the limit.")


def test_the_request_never_parses_the_file_and_the_preview_is_read_once():
    admin = staff_client("Admin")
    response = upload(admin, "list.csv", CSV)
    job = ImportJob.objects.get()
    assert response.url == reverse("imports:mapping", args=[job.pk])
    assert (job.status, job.headers, job.preview) == ("reading", [], [])  # queued for a worker
    waiting = admin.get(response.url).content.decode()
    assert "a worker is reading the" in waiting and "ada@example.com" not in waiting
    inspect_import(job.pk)  # the task a worker runs
    job.refresh_from_db()
    assert (job.status, job.headers, job.preview) == (
        "mapping",
        ["email", "first_name"],
        [["ada@example.com", "Ada"], ["broken", "Bob"]],
    )
    Path(job.file.path).write_bytes(b"\x00garbage")  # the mapping page does not read the file again
    assert "ada@example.com" in admin.get(response.url).content.decode()


def test_uploads_are_kept_privately_and_reach_admins_only_through_a_view():
    admin, marketer = staff_client("Admin"), staff_client("Marketer")
    upload(admin, "list.csv", CSV)
    job = ImportJob.objects.get()
    path = Path(job.file.path).resolve()
    assert path.is_relative_to(Path(django_settings.PRIVATE_DIR).resolve())
    assert not path.is_relative_to(Path(django_settings.MEDIA_ROOT).resolve())
    with pytest.raises(ValueError, match="no URL"):
        job.file.url  # noqa: B018 (the property raises)
    assert admin.get(f"/media/{job.file.name}").status_code == 404
    download = admin.get(reverse("imports:file", args=[job.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == CSV
    assert marketer.get(reverse("imports:file", args=[job.pk])).url == "/admin/"  # refused


def test_reports_hold_line_numbers_and_reasons_only():
    admin = staff_client("Admin")
    upload(admin, "list.csv", CSV)
    job = ImportJob.objects.get()
    inspect_import(job.pk)
    admin.post(
        reverse("imports:mapping", args=[job.pk]), {"column_0": "email", "column_1": "first_name", "dry_run": "1"}
    )
    run_import(job.pk)
    job.refresh_from_db()
    report = b"".join(admin.get(reverse("imports:report", args=[job.pk])).streaming_content).decode("utf-8-sig")
    assert report.splitlines()[0] == "line,reason" and report.splitlines()[1].startswith("3,")
    assert "broken" not in report and "Bob" not in report
    assert Path(job.error_report.path).resolve().is_relative_to(Path(django_settings.PRIVATE_DIR).resolve())


def test_a_beat_job_deletes_idle_uploads_after_a_day_and_reports_after_thirty_days():
    assert "campaigns.tasks.delete_expired_import_files" in {
        entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()
    }
    admin = staff_client("Admin")
    for name in ("abandoned.csv", "dry-run.csv", "fresh.csv", "running.csv"):
        upload(admin, name, CSV)
        inspect_import(ImportJob.objects.latest("pk").pk)
    jobs = {job.original_name: job for job in ImportJob.objects.all()}
    now = timezone.now()
    ImportJob.objects.filter(pk=jobs["abandoned.csv"].pk).update(created_at=now - timedelta(hours=25))
    ImportJob.objects.filter(pk=jobs["dry-run.csv"].pk).update(
        created_at=now - timedelta(hours=30), finished_at=now - timedelta(hours=25), status="done", dry_run=True
    )
    ImportJob.objects.filter(pk=jobs["running.csv"].pk).update(created_at=now - timedelta(hours=25), status="running")
    old_report, new_report = "imports/reports/old-rejected.csv", "imports/reports/new-rejected.csv"
    storage = private_storage()
    for name in (old_report, new_report):
        storage.save(name, io.BytesIO(b"line,reason\n3,bad\n"))
    month_ago = (now - timedelta(days=31)).timestamp()
    os.utime(storage.path(old_report), (month_ago, month_ago))
    ImportJob.objects.filter(pk=jobs["fresh.csv"].pk).update(error_report=old_report)
    files = {name: Path(job.file.path) for name, job in jobs.items()}

    delete_expired_import_files()

    assert not files["abandoned.csv"].exists() and not files["dry-run.csv"].exists()
    assert files["fresh.csv"].exists() and files["running.csv"].exists()
    assert not storage.exists(old_report) and storage.exists(new_report)
    after = {job.original_name: job for job in ImportJob.objects.all()}
    assert (after["abandoned.csv"].file.name, after["abandoned.csv"].preview) == ("", [])
    assert after["fresh.csv"].error_report.name == ""
    assert admin.get(reverse("imports:mapping", args=[jobs["abandoned.csv"].pk])).status_code == 404
