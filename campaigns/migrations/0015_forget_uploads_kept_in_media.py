"""Uploads and reports now live in private storage (MAILROOM_PRIVATE_DIR), never under
MEDIA_ROOT. Those left in MEDIA_ROOT by earlier versions are deleted rather than moved:
an upload was kept only until it was imported (or for a dry run) and must be uploaded
again to be re-read by a worker, and the old reports copied raw rows with personal data."""

from pathlib import Path

from django.conf import settings
from django.db import migrations


def forget(apps, schema_editor):
    ImportJob = apps.get_model("campaigns", "ImportJob")
    media = Path(settings.MEDIA_ROOT)
    for job in ImportJob.objects.exclude(file="", error_report=""):
        for name in (job.file.name, job.error_report.name):
            if name:
                (media / name).unlink(missing_ok=True)
        if job.file.name and job.status not in ("queued", "running"):
            job.status = "failed"
            job.error = "Uploaded before this version kept uploads privately: upload the file again."
        job.file = job.error_report = ""
        job.save(update_fields=["file", "error_report", "status", "error"])


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0014_private_uploads_read_by_workers")]

    operations = [migrations.RunPython(forget, migrations.RunPython.noop)]
