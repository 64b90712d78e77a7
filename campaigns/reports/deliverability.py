"""A campaign's complaint and hard-bounce rates against the mailbox providers' limits, and
the guard that pauses a sending campaign once its rates pass Mailroom's own limits.

Complaints are counted from the ESP's events on the campaign's deliveries; hard bounces
from the ledger (suppression.policy), which records every address the campaign found
undeliverable, whether the ESP's webhook or the hand-off said so. The guard runs after
every bounce and complaint webhook and after a chunk with failures, so a campaign stops
within one event of passing a limit.
"""

import logging
from dataclasses import dataclass

from anymail.signals import EventType
from django.conf import settings

from campaigns.models import Campaign, DeliveryEvent
from campaigns.sending.lifecycle import pause
from suppression import policy
from suppression.models import Channel

logger = logging.getLogger(__name__)

# Gmail's and Yahoo's bulk-sender rules: spam complaints below 0.3% are required and below
# 0.1% recommended; a bounce rate over 2% is what the ESPs themselves act on.
COMPLAINT_REQUIRED = 0.003
COMPLAINT_RECOMMENDED = 0.001
BOUNCE_LIMIT = 0.02
GUARDED_EVENTS = {EventType.BOUNCED, EventType.COMPLAINED, EventType.REJECTED}


@dataclass
class Rates:
    """A campaign's spam complaints per delivered message (sent minus hard-bounced) and hard
    bounces per sent message. Mailbox errors at hand-off count as hard bounces, though a
    failed delivery is not among the sent: a stricter rate, never a laxer one."""

    sent: int
    complained: int
    hard_bounced: int

    @property
    def delivered(self):
        return max(self.sent - self.hard_bounced, 0)

    @property
    def complaint_rate(self):
        return self.complained / self.delivered if self.delivered else 0.0

    @property
    def bounce_rate(self):
        return self.hard_bounced / self.sent if self.sent else 0.0

    @property
    def complaint_standing(self):
        """One of "ok", "above recommended" (0.1%) or "above required" (0.3%)."""
        if self.complaint_rate >= COMPLAINT_REQUIRED:
            return "above required"
        if self.complaint_rate >= COMPLAINT_RECOMMENDED:
            return "above recommended"
        return "ok"

    @property
    def bounce_standing(self):
        return "above limit" if self.bounce_rate >= BOUNCE_LIMIT else "ok"

    @property
    def complaint_percent(self):
        return percent(self.complaint_rate)

    @property
    def bounce_percent(self):
        return percent(self.bounce_rate)


def percent(share):
    return f"{share:.2%}"


def limits():
    """The providers' limits and the guard's, as the report shows them."""
    return {
        "complaint_recommended": percent(COMPLAINT_RECOMMENDED),
        "complaint_required": percent(COMPLAINT_REQUIRED),
        "bounce_limit": percent(BOUNCE_LIMIT),
        "pause_complaint_rate": percent(settings.MAILROOM_PAUSE_COMPLAINT_RATE),
        "pause_bounce_rate": percent(settings.MAILROOM_PAUSE_BOUNCE_RATE),
        "pause_min_sample": settings.MAILROOM_PAUSE_GUARD_MIN_SAMPLE,
    }


def rates(campaign_id, sent, complained=None):
    """Rates of the campaign that `sent` messages; its complaints are counted unless given
    (the report has counted them already)."""
    if complained is None:
        complained = DeliveryEvent.objects.filter(campaign_id=campaign_id, kind=DeliveryEvent.Kind.COMPLAINED).count()
    return Rates(sent, complained, policy.closed_by_campaign(campaign_id, Channel.UNDELIVERABLE).count())


def breach(current):
    """Why the guard pauses a campaign at `current` Rates, or "" when it does not."""
    minimum = settings.MAILROOM_PAUSE_GUARD_MIN_SAMPLE
    if current.delivered >= minimum and current.complaint_rate > settings.MAILROOM_PAUSE_COMPLAINT_RATE:
        return (
            f"Paused automatically: spam complaints at {current.complaint_percent} of {current.delivered} delivered "
            f"(limit {percent(settings.MAILROOM_PAUSE_COMPLAINT_RATE)}). Resume only once you know why."
        )
    if current.sent >= minimum and current.bounce_rate > settings.MAILROOM_PAUSE_BOUNCE_RATE:
        return (
            f"Paused automatically: hard bounces at {current.bounce_percent} of {current.sent} sent "
            f"(limit {percent(settings.MAILROOM_PAUSE_BOUNCE_RATE)}). Resume only once you know why."
        )
    return ""


def guard(campaign_id):
    """Pause the campaign if it is sending and its rates pass a limit; True if it paused now."""
    campaign = Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).only("sent_count").first()
    if campaign is None:
        return False
    reason = breach(rates(campaign_id, campaign.sent_count))
    if reason and pause(campaign_id, reason=reason):
        logger.warning("Campaign %s: %s", campaign_id, reason)
        return True
    return False


def guard_after_event(sender, event, esp_name, **kwargs):
    """Receiver for anymail's tracking signal, connected after the ledger's (campaigns.apps):
    a bounce, rejection or complaint about a campaign's message runs its guard."""
    if event.event_type not in GUARDED_EVENTS:
        return
    try:
        campaign_id = int((event.metadata or {}).get("campaign"))
    except (TypeError, ValueError):
        return
    guard(campaign_id)
