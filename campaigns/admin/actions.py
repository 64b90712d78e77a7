"""Campaign lifecycle actions as the admin offers them: which actions a status allows, and what
each does. Each action calls campaigns.sending.lifecycle and queues Celery work; none does
per-recipient work in the request."""

from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.timezone import localtime

from campaigns.models import Campaign
from campaigns.sending import lifecycle
from campaigns.tasks import queue_chains, start_campaign

Status = Campaign.Status


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    icon: str
    statuses: tuple
    question: str  # asked on the confirmation page
    explanation: str
    destructive: bool = False

    def allowed(self, campaign):
        return campaign.status in self.statuses


SEND_NOW = Action(
    "send",
    "Send now",
    "mail",
    (Status.DRAFT, Status.SCHEDULED),
    "Send this campaign now?",
    "Workers freeze the email, skip suppressed addresses and send in batches; you can follow progress on the report.",
)
SCHEDULE = Action(
    "schedule",
    "Schedule",
    "calendar",
    (Status.DRAFT, Status.SCHEDULED),
    "When should this campaign be sent?",
    "Workers start it within seconds of the time you choose.",
)
PAUSE = Action(
    "pause",
    "Pause",
    "pause",
    (Status.SENDING,),
    "Pause sending?",
    "Batches already handed to workers finish; nothing more is sent until you resume.",
)
RESUME = Action(
    "resume",
    "Resume",
    "play",
    (Status.PAUSED,),
    "Resume sending?",
    "Workers continue with the deliveries not yet sent, re-checking suppression first.",
)
CANCEL = Action(
    "cancel",
    "Cancel campaign",
    "cross",
    (Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.PAUSED),
    "Cancel this campaign for good?",
    "Nothing more is sent and it cannot be resumed. Deliveries already sent stay sent.",
    destructive=True,
)
RETRY_FAILED = Action(
    "retry_failed",
    "Retry failed deliveries",
    "rotate",
    (Status.SENDING, Status.PAUSED, Status.SENT),
    "Retry the failed deliveries?",
    "Failed deliveries go back in the queue; suppression is checked again before each is sent.",
)
ACTIONS = (SEND_NOW, SCHEDULE, PAUSE, RESUME, CANCEL, RETRY_FAILED)


def available(campaign):
    return [action for action in ACTIONS if action.allowed(campaign)]


def perform(action, campaign, user, when=None):
    """Carry out `action`; returns the message for the user. Raises lifecycle.CampaignStateError."""
    name = campaign.name
    if action is SEND_NOW:
        lifecycle.schedule(campaign)
        start_campaign.delay(campaign.pk)
        return f"“{name}” is queued; workers start sending within seconds."
    if action is SCHEDULE:
        lifecycle.schedule(campaign, when)
        return f"“{name}” is scheduled for {date_format(localtime(when), 'DATETIME_FORMAT')} ({when.tzinfo})."
    if action is PAUSE:
        _require(lifecycle.pause(campaign.pk, reason=f"Paused by {user.get_username()} in the admin"), action, campaign)
        return f"“{name}” is paused."
    if action is RESUME:
        _require(lifecycle.resume(campaign.pk), action, campaign)
        queue_chains(campaign.pk)
        return f"“{name}” is sending again."
    if action is CANCEL:
        _require(lifecycle.cancel(campaign.pk), action, campaign)
        return f"“{name}” is cancelled."
    if action is RETRY_FAILED:
        retried = lifecycle.retry_failed(campaign.pk)
        _require(retried, action, campaign, "There are no failed deliveries to retry.")
        campaign.refresh_from_db()
        if campaign.status == Status.SENDING:
            queue_chains(campaign.pk)
        return f"{retried} failed deliveries of “{name}” will be retried."
    raise ValueError(action)


def _require(done, action, campaign, message=None):
    if not done:
        campaign.refresh_from_db()
        raise lifecycle.CampaignStateError(
            message
            or f"{action.label}: not possible while “{campaign.name}” is {campaign.get_status_display().lower()}."
        )
