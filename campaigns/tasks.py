"""Celery tasks: thin wrappers over campaigns.sending and campaigns.audiences.import_jobs, on the promotional queue."""

from celery import shared_task
from django.conf import settings

from campaigns.sending import lifecycle, pipeline

from .audiences import import_jobs


@shared_task
def start_due_campaigns():
    """Beat job: start every scheduled campaign whose time has come (no long ETAs), and
    restart the batch chains of campaigns whose workers died."""
    for campaign_id in lifecycle.due_campaign_ids():
        start_campaign.delay(campaign_id)
    for campaign_id in lifecycle.stalled_campaign_ids():
        queue_chains(campaign_id)


def queue_chains(campaign_id):
    for _ in range(settings.MAILROOM_SEND_CHAINS):
        send_batch.delay(campaign_id)


@shared_task
def start_campaign(campaign_id):
    if lifecycle.begin(campaign_id):
        queue_chains(campaign_id)


@shared_task
def resume_campaign(campaign_id):
    if lifecycle.resume(campaign_id):
        queue_chains(campaign_id)


# A batch that raises keeps its rows claimed until their lease runs out; retrying the task
# keeps the chain alive for the rest of the campaign meanwhile.
@shared_task(autoretry_for=(Exception,), retry_backoff=2, retry_backoff_max=60, max_retries=8)
def send_batch(campaign_id):
    """Send one batch, then queue the next: a chain per worker slot, never a task per recipient."""
    if pipeline.send_next_batch(campaign_id):
        send_batch.delay(campaign_id)


@shared_task
def inspect_import(job_id):
    """Read an upload's header and first rows for the mapping preview (never in the request)."""
    import_jobs.inspect(job_id)


@shared_task
def delete_expired_import_files():
    """Beat job: uploads nobody imported go after 24 h, rejected-row reports after 30 days."""
    import_jobs.delete_expired_files()


def queue_import(job, *, dry_run):
    """Queue an admin's (dry) run of an import job, unless one is already queued or running."""
    if import_jobs.mark_queued(job, dry_run=dry_run):
        run_import.delay(job.pk)


@shared_task
def run_import(job_id):
    """An admin's import job (campaigns.audiences.import_jobs does the work)."""
    import_jobs.run(job_id)
