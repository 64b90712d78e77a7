"""Import jobs: the admin's upload → mapping → (dry) run lifecycle around campaigns.audiences.importing.

The upload request only checks the file (tables.check_upload) and stores it privately;
Celery tasks read it: `inspect` the header and the first rows for the mapping preview,
`run` the whole file. Files are not kept longer than they are useful: the list goes once
it is imported, an upload nobody imported after KEEP_UPLOADS, a report after KEEP_REPORTS.
"""

import logging
from datetime import timedelta

from django.db import connection
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.models import ImportJob, private_storage

from .importing import FIELDS, REPORTS, ImportFileError, import_file, report_name
from .tables import header_key, open_table

logger = logging.getLogger(__name__)
PREVIEW_ROWS = 5
KEEP_UPLOADS = timedelta(hours=24)
KEEP_REPORTS = timedelta(days=30)
FIELD_CHOICES = (
    [("", "— skip this column —")]
    + [(field, field.replace("_", " ").capitalize()) for field in FIELDS]
    + [("attribute", "Custom attribute (named after the column)")]
)
Status = ImportJob.Status


def inspect(job_id):
    """Read the header and the first rows for the mapping preview (in a worker)."""
    job = ImportJob.objects.get(pk=job_id)
    if job.status != Status.READING or not job.file:
        return
    try:
        with open_table(job.file.path) as table:
            preview = []
            for _line, cells in table.rows:
                preview.append(cells)
                if len(preview) == PREVIEW_ROWS:
                    break
            headers, total = table.headers, table.total
    except Exception as error:  # the admin must see why, whatever it was
        if not isinstance(error, ImportFileError):
            logger.exception("Reading import job %s failed", job.pk)
        job.file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(status=Status.FAILED, file="", error=str(error)[:2000])
        return
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.MAPPING, headers=headers, preview=preview, total_rows=total
    )


def mapping_from_choices(headers, choices):
    """The admin's per-column choices → importing's {index: field} mapping."""
    mapping = {}
    for index, choice in choices.items():
        if choice == "attribute":
            mapping[str(index)] = f"attribute:{header_key(headers[index]) or f'column_{index + 1}'}"
        elif choice:
            mapping[str(index)] = choice
    if "email" not in mapping.values():
        raise ImportFileError("Map one column to Email: without it nothing can be imported.")
    return mapping


def mark_queued(job, *, dry_run):
    """Mark a (dry) run queued; False when one is already queued or running for this job,
    or the file is not read yet. The caller (campaigns.tasks.queue_import) then queues the task."""
    updated = ImportJob.objects.filter(pk=job.pk, status__in=(Status.MAPPING, Status.DONE, Status.FAILED)).update(
        dry_run=dry_run,
        status=Status.QUEUED,
        rows_done=0,
        summary={},
        error="",
        started_at=None,
        finished_at=None,
    )
    return bool(updated)


def run(job_id):
    """Run a queued job to the end, recording progress as it goes."""
    job = ImportJob.objects.get(pk=job_id)
    ImportJob.objects.filter(pk=job.pk).update(status=Status.RUNNING, started_at=timezone.now())

    def progress(done, total):
        ImportJob.objects.filter(pk=job.pk).update(rows_done=done, total_rows=total)

    report = report_name(job.original_name)
    if job.error_report:  # an earlier dry run's report is replaced by this run's
        job.error_report.delete(save=False)
    try:
        summary = import_file(
            job.file.path,
            kind=job.kind,
            mapping={int(index): field for index, field in job.mapping.items()},
            audience_name=job.audience_name,
            update_existing=job.update_existing,
            dry_run=job.dry_run,
            channel=job.channel,
            report_path=private_storage().path(report),
            progress=progress,
        )
    except Exception as error:  # the admin must see why, whatever it was
        logger.exception("Import job %s failed", job.pk)
        # The error may be the database connection itself (the server restarted): the
        # failure is written on a new one, or the job would show "running" for ever.
        if connection.connection is not None and not connection.is_usable():
            connection.close()
        ImportJob.objects.filter(pk=job.pk).update(
            status=Status.FAILED, error=str(error)[:2000], error_report="", finished_at=timezone.now()
        )
        return
    kept = {}
    if not job.dry_run:  # keep no copy of the customer list once it is imported (data minimisation)
        job.file.delete(save=False)
        kept = {"file": "", "preview": []}
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.DONE,
        summary=summary.as_dict(),
        rows_done=summary.rows,
        total_rows=summary.rows,
        error_report=report if summary.error_report else "",
        finished_at=timezone.now(),
        **kept,
    )


def delete_expired_files(now=None):
    """Beat job: delete uploads nobody imported (or only dry-ran) after KEEP_UPLOADS and
    rejected-row reports (the admin's and import_contacts') after KEEP_REPORTS. Returns
    how many files went."""
    now = now or timezone.now()
    deleted = 0
    idle = ImportJob.objects.exclude(file="").exclude(status__in=(Status.QUEUED, Status.RUNNING, Status.READING))
    idle = idle.annotate(last_use=Coalesce("finished_at", "created_at")).filter(last_use__lt=now - KEEP_UPLOADS)
    for job in idle:
        job.file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(file="", preview=[])
        deleted += 1
    storage = private_storage()
    if storage.exists(REPORTS):
        for name in storage.listdir(REPORTS)[1]:
            path = f"{REPORTS}/{name}"
            if storage.get_modified_time(path) < now - KEEP_REPORTS:
                storage.delete(path)
                ImportJob.objects.filter(error_report=path).update(error_report="")
                deleted += 1
    return deleted


def forget_uploads_of(address):
    """Erasure: an upload whose preview shows the address goes at once with its preview
    (other kept uploads go within KEEP_UPLOADS; reports hold no addresses)."""
    jobs = ImportJob.objects.filter(~Q(file=""), preview__icontains=address)
    for job in jobs:
        job.file.delete(save=False)
    return jobs.update(file="", preview=[], error="The file was deleted: a person in it asked to be erased.")


def progress_of(job):
    """What the admin's progress bar shows: rows done / total, rate, ETA, and the outcome."""
    now = timezone.now()
    elapsed = ((job.finished_at or now) - job.started_at).total_seconds() if job.started_at else 0
    rate = job.rows_done / elapsed if elapsed > 0 else 0
    total = max(job.total_rows, job.rows_done)
    return {
        "status": job.status,
        "status_label": job.get_status_display(),
        "dry_run": job.dry_run,
        "done": job.rows_done,
        "total": total,
        "percent": 100 if job.status == Status.DONE else int(100 * job.rows_done / total) if total else 0,
        "rate": round(rate),
        "eta_seconds": round((total - job.rows_done) / rate) if rate and job.status == Status.RUNNING else None,
        "summary": job.summary,
        "error": job.error,
        "has_report": bool(job.error_report),
    }
