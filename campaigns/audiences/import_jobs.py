"""Import jobs: the admin's upload → mapping → (dry) run lifecycle around campaigns.audiences.importing.

The Celery task and the admin views call these; the work itself is importing.import_file.
"""

import logging
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from campaigns.models import ImportJob

from .importing import FIELDS, ImportFileError, default_report_path, import_file
from .tables import auto_mapping, header_key, open_table

logger = logging.getLogger(__name__)
PREVIEW_ROWS = 5
FIELD_CHOICES = (
    [("", "— skip this column —")]
    + [(field, field.replace("_", " ").capitalize()) for field in FIELDS]
    + [("attribute", "Custom attribute (named after the column)")]
)


def read_header(job):
    """(headers, first rows, automatic mapping); raises ImportFileError for an unusable file."""
    if not job.file:
        raise ImportFileError("This file was imported and is no longer kept; upload it again to re-import.")
    with open_table(job.file.path) as table:
        preview = []
        for _line, cells in table.rows:
            preview.append(cells)
            if len(preview) == PREVIEW_ROWS:
                break
        return table.headers, preview, auto_mapping(table.headers), table.total


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
    """Mark a (dry) run queued; False when one is already queued or running for this job.
    The caller (campaigns.tasks.queue_import) then queues the Celery task."""
    if job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING):
        return False
    ImportJob.objects.filter(pk=job.pk).update(
        dry_run=dry_run,
        status=ImportJob.Status.QUEUED,
        rows_done=0,
        summary={},
        error="",
        started_at=None,
        finished_at=None,
    )
    return True


def run(job_id):
    """Run a queued job to the end, recording progress as it goes."""
    job = ImportJob.objects.get(pk=job_id)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=timezone.now())

    def progress(done, total):
        ImportJob.objects.filter(pk=job.pk).update(rows_done=done, total_rows=total)

    try:
        summary = import_file(
            job.file.path,
            kind=job.kind,
            mapping={int(index): field for index, field in job.mapping.items()},
            audience_name=job.audience_name,
            update_existing=job.update_existing,
            dry_run=job.dry_run,
            channel=job.channel,
            report_path=default_report_path(job.original_name),
            progress=progress,
        )
    except Exception as error:  # the admin must see why, whatever it was
        logger.exception("Import job %s failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        return
    report = summary.error_report
    if not job.dry_run:  # keep no copy of the customer list once it is imported (data minimisation)
        job.file.delete(save=False)
    ImportJob.objects.filter(pk=job.pk).update(
        file=job.file.name or "",
        status=ImportJob.Status.DONE,
        summary=summary.as_dict(),
        rows_done=summary.rows,
        total_rows=summary.rows,
        error_report=str(Path(report).relative_to(settings.MEDIA_ROOT)) if report else "",
        finished_at=timezone.now(),
    )


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
        "percent": 100 if job.status == ImportJob.Status.DONE else int(100 * job.rows_done / total) if total else 0,
        "rate": round(rate),
        "eta_seconds": round((total - job.rows_done) / rate)
        if rate and job.status == ImportJob.Status.RUNNING
        else None,
        "summary": job.summary,
        "error": job.error,
        "has_report": bool(job.error_report),
    }
