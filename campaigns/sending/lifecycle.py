"""A campaign's lifecycle: schedule, start (freeze and snapshot), pause, resume, cancel, retry.

Tasks, admin actions and commands call these; each is one guarded UPDATE (or one
transaction), so two workers, beat and a click never move a campaign twice.
"""

import logging

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from campaigns import checklist
from campaigns.models import Campaign, Delivery

from . import ab
from .snapshot import NotPublished, freeze, render, snapshot

Status = Campaign.Status
logger = logging.getLogger(__name__)


class CampaignStateError(Exception):
    """A lifecycle change that the campaign's current status does not allow."""


def schedule(campaign, when=None):
    """Mark a draft (or re-time a scheduled) campaign to start at `when` (default: now).

    Refused while the pre-send checklist (campaigns.checklist) reports problems.
    """
    problems = checklist.check(campaign).problems
    if problems:
        raise CampaignStateError("Not ready to send: " + " ".join(problems))
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=[Status.DRAFT, Status.SCHEDULED]).update(
        status=Status.SCHEDULED, scheduled_at=when or timezone.now(), pause_reason=""
    )
    if not updated:
        raise CampaignStateError(f"Campaign {campaign.pk} is {campaign.status}; only drafts can be scheduled.")
    campaign.refresh_from_db()
    return campaign


def pause(campaign_id, reason=""):
    """Stop a sending campaign after the batches in flight; resumable."""
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Status.SENDING).update(
            status=Status.PAUSED, pause_reason=reason[:255]
        )
    )


def resume(campaign_id):
    """Back to sending; the caller queues batch chains again (tasks.resume_campaign)."""
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Status.PAUSED).update(status=Status.SENDING, pause_reason="")
    )


def cancel(campaign_id):
    """Stop for good: nothing more is sent; deliveries not yet sent stay pending, unsent."""
    return bool(
        Campaign.objects.filter(
            pk=campaign_id, status__in=[Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.PAUSED]
        ).update(status=Status.CANCELLED, finished_at=timezone.now())
    )


def due_campaign_ids(now=None):
    return list(
        Campaign.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now or timezone.now()).values_list(
            "pk", flat=True
        )
    )


def begin(campaign_id):
    """Freeze and snapshot a due campaign (and split an A/B subject test), then mark it
    sending. False if not ours to start.

    One transaction: a crash leaves the campaign scheduled, never half-started, and
    the row lock stops two workers (or beat and a click) starting it twice. The email is
    rendered before it, so no lock is held while premailer works (on SQLite, the
    embedded default, a write transaction holds up every other writer).
    """
    due = Campaign.objects.filter(pk=campaign_id, status=Status.SCHEDULED, scheduled_at__lte=timezone.now())
    campaign = due.select_related("page").first()
    if campaign is None:
        return False
    try:
        frozen = render(campaign)
    except NotPublished as error:  # unpublished since it was scheduled: back to the marketer
        due.update(status=Status.DRAFT, pause_reason=f"Not started: {error}"[:255])
        return False
    with transaction.atomic():
        campaign = due.select_for_update().first()
        if campaign is None:
            return False
        freeze(campaign, frozen)
        tested = ab.variants(campaign)
        snapshot(campaign, Delivery.Status.HELD if tested else Delivery.Status.PENDING)
        if tested:
            ab.start_test(campaign, tested)
        campaign.status = Status.SENDING
        campaign.started_at = timezone.now()
        campaign.save(update_fields=["status", "started_at"])
    logger.info("Campaign %s started sending.", campaign_id)
    return True


def retry_failed(campaign_id):
    """Failed deliveries go back to pending; a sent campaign goes back to sending.

    Returns how many deliveries will be retried. A paused campaign keeps them for its
    resume; the caller queues batch chains when the campaign is sending.
    """
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id, status__in=[Status.SENDING, Status.PAUSED, Status.SENT])
            .first()
        )
        if campaign is None:
            return 0
        retried = Delivery.objects.filter(campaign_id=campaign_id, status=Delivery.Status.FAILED).update(
            status=Delivery.Status.PENDING, reason="", claimed_until=None
        )
        if not retried:
            return 0
        # The failure-rate guard reads failed_count: retried deliveries are no longer failures.
        reopened = {"status": Status.SENDING, "finished_at": None} if campaign.status == Status.SENT else {}
        Campaign.objects.filter(pk=campaign_id).update(
            failed_count=Greatest(F("failed_count") - retried, 0), **reopened
        )
    return retried
