"""Celery tasks: thin wrappers over campaigns.sending, on the promotional queue."""

from celery import shared_task
from django.conf import settings

from . import sending


@shared_task
def start_due_campaigns():
    """Beat job: start every scheduled campaign whose time has come (no long ETAs), and
    restart the batch chains of campaigns whose workers died."""
    for campaign_id in sending.due_campaign_ids():
        start_campaign.delay(campaign_id)
    for campaign_id in sending.stalled_campaign_ids():
        queue_chains(campaign_id)


def queue_chains(campaign_id):
    for _ in range(settings.MAILROOM_SEND_CHAINS):
        send_batch.delay(campaign_id)


@shared_task
def start_campaign(campaign_id):
    if sending.begin(campaign_id):
        queue_chains(campaign_id)


@shared_task
def resume_campaign(campaign_id):
    if sending.resume(campaign_id):
        queue_chains(campaign_id)


@shared_task
def send_batch(campaign_id):
    """Send one batch, then queue the next: a chain per worker slot, never a task per recipient."""
    if sending.send_next_batch(campaign_id):
        send_batch.delay(campaign_id)
