"""Celery tasks: thin wrappers over campaigns.sending and campaigns.audiences.import_jobs, on the promotional queue."""

import logging

from celery import shared_task
from django.conf import settings

from campaigns.sending import ab, chains, lifecycle, pipeline
from campaigns.sending.delivery_errors import BackendUnavailable

from .audiences import import_jobs

logger = logging.getLogger(__name__)


@shared_task
def start_due_campaigns():
    """Beat job: start every scheduled campaign whose time has come (no long ETAs), and queue
    again every batch chain whose lease has passed (its worker died, Redis lost its next
    task, or it waited out a backend outage), however busy the other chains are; and send
    the winner of every A/B subject test whose wait is over to the rest."""
    for campaign_id in lifecycle.due_campaign_ids():
        start_campaign.delay(campaign_id)
    settle_subject_tests()
    for campaign_id, slot, run in chains.due():
        send_batch.delay(campaign_id, slot, run)


def queue_chains(campaign_id):
    for slot, run in chains.open_chains(campaign_id):
        send_batch.delay(campaign_id, slot, run)


@shared_task
def start_campaign(campaign_id):
    if lifecycle.begin(campaign_id):
        queue_chains(campaign_id)


@shared_task
def resume_campaign(campaign_id):
    if lifecycle.resume(campaign_id):
        queue_chains(campaign_id)


# No retries here: a batch that raises leaves its chain's lease to run out, and beat
# queues the chain again then (its rows' leases run out with it).
@shared_task
def send_batch(campaign_id, slot, run):
    """Send one batch of a chain, then queue the chain's next: never a task per recipient."""
    if not chains.take(campaign_id, slot, run):
        return  # the chain was queued twice (beat, Redis handing a task out again): another took it
    try:
        handled = pipeline.send_next_batch(campaign_id, slot=slot)
    except BackendUnavailable as outage:
        wait = chains.back_off(campaign_id, slot, outage.retry_after)
        logger.warning(
            "Campaign %s chain %s: backend unavailable (%s); again in %s s.", campaign_id, slot, outage, wait
        )
        return
    except pipeline.Waiting as waiting:
        chains.wait(campaign_id, slot, waiting.seconds)
        if waiting.seconds < settings.MAILROOM_CLAIM_LEASE_SECONDS:  # soon: the chain's next task, delayed
            send_batch.apply_async((campaign_id, slot, run + 1), countdown=waiting.seconds)
        else:  # tomorrow's warm-up allowance: beat queues the chain again then (no long ETAs)
            logger.info("Campaign %s chain %s: %s", campaign_id, slot, waiting)
        return
    if handled:
        chains.pass_on(campaign_id, slot)
        send_batch.delay(campaign_id, slot, run + 1)


@shared_task
def settle_subject_tests():
    """Decide the A/B subject tests whose wait is over and send the rest of each decided one
    its winner: part of beat's scan, and queued by "Pick this winner" to go at once."""
    for campaign_id in ab.settle():
        if pipeline.still_sending(campaign_id):
            queue_chains(campaign_id)


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
