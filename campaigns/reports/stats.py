"""A campaign's figures for the admin report, each from one aggregate query (no Python loops
over deliveries): a 1,000,000-delivery campaign reports as fast as a small one."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Case, CharField, Count, F, Max, Min, Value, When
from django.db.models.functions import TruncHour, TruncMinute

from campaigns.audiences.targeting import recipients
from campaigns.models import Campaign, Delivery, DeliveryEvent
from suppression import policy
from suppression.models import Channel

from . import deliverability

# A campaign that sent over more than this long is charted per hour, not per minute.
MINUTE_CHART_SPAN = timedelta(hours=3)


@dataclass
class Progress:
    """Where the deliveries stand: what the progress bar and its status endpoint show."""

    status: str
    status_label: str
    pause_reason: str
    total: int = 0
    pending: int = 0
    claimed: int = 0
    held: int = 0  # waiting for an A/B subject test's winner
    sent: int = 0
    failed: int = 0
    suppressed: int = 0

    @property
    def done(self):
        return self.sent + self.failed + self.suppressed

    @property
    def waiting(self):
        return self.pending + self.claimed + self.held

    @property
    def percent(self):
        return round(100 * self.done / self.total, 1) if self.total else 0.0

    def as_json(self):
        return {
            "status": self.status,
            "status_label": self.status_label,
            "pause_reason": self.pause_reason,
            "total": self.total,
            "pending": self.waiting,
            "sent": self.sent,
            "failed": self.failed,
            "suppressed": self.suppressed,
            "done": self.done,
            "percent": self.percent,
        }


@dataclass
class Results:
    """The report's counts beyond progress: suppressions by reason and what the ESP reported."""

    progress: Progress
    audience: int
    snapshotted: bool
    suppressed_by_reason: list = field(default_factory=list)  # [(label, count)], largest first
    bounced: int = 0
    complained: int = 0
    unsubscribed: int = 0
    opened: int = 0
    clicked: int = 0
    rates: deliverability.Rates | None = None  # complaint and hard-bounce rates

    @property
    def tracking(self):
        """Opens and clicks are shown only when the ESP reports them (tracking is off by default)."""
        return bool(self.opened or self.clicked)


def _status_rows(campaign_id):
    """(status, suppression channel or '', count): failures group by status only, since
    their reasons are free-text errors; suppressions group by the channel that blocked."""
    channel = Case(
        When(status=Delivery.Status.SUPPRESSED, then=F("reason")), default=Value(""), output_field=CharField()
    )
    return (
        Delivery.objects.filter(campaign_id=campaign_id)
        .order_by()
        .values_list("status", channel)
        .annotate(count=Count("*"))
    )


def progress(campaign, rows=None):
    """Where the deliveries stand, from `rows` counted by _status_rows, or else from the
    campaign's counters: the status endpoint is polled every 2 s while a campaign sends,
    and counting a million deliveries took a second each time. sending.Recorder keeps the
    counters in step with the deliveries, in the same transaction as each outcome."""
    result = Progress(
        status=campaign.status, status_label=campaign.get_status_display(), pause_reason=campaign.pause_reason
    )
    if rows is None:
        result.total, result.sent = campaign.audience_count, campaign.sent_count
        result.failed, result.suppressed = campaign.failed_count, campaign.suppressed_count
        result.pending = max(0, result.total - result.done)
        return result
    for status, _, count in rows:
        setattr(result, status, getattr(result, status) + count)
        result.total += count
    return result


def results(campaign):
    rows = list(_status_rows(campaign.pk))
    current = progress(campaign, rows)
    snapshotted = current.total > 0
    labels = dict(Delivery.SUPPRESSED_BY)
    by_reason = {}
    for status, channel, count in rows:
        if status == Delivery.Status.SUPPRESSED:
            label = labels.get(channel, channel or "Unknown")
            by_reason[label] = by_reason.get(label, 0) + count
    events = dict(
        DeliveryEvent.objects.filter(campaign_id=campaign.pk).order_by().values_list("kind").annotate(count=Count("*"))
    )
    return Results(
        progress=current,
        audience=current.total if snapshotted else _targeted(campaign),
        snapshotted=snapshotted,
        suppressed_by_reason=sorted(by_reason.items(), key=lambda item: -item[1]),
        bounced=events.get(DeliveryEvent.Kind.BOUNCED, 0),
        complained=events.get(DeliveryEvent.Kind.COMPLAINED, 0),
        unsubscribed=unsubscribed(campaign.pk),
        opened=events.get(DeliveryEvent.Kind.OPENED, 0),
        clicked=events.get(DeliveryEvent.Kind.CLICKED, 0),
        rates=deliverability.rates(campaign.pk, current.sent, complained=events.get(DeliveryEvent.Kind.COMPLAINED, 0)),
    )


@dataclass
class KeyRates:
    """A sent campaign at a glance (the dashboard): how many were sent, and what share of them
    bounced, complained, unsubscribed, opened and clicked (opens and clicks only with tracking)."""

    campaign: Campaign
    sent: int
    bounced: float
    complained: float
    unsubscribed: float
    opened: float | None
    clicked: float | None


def key_rates(campaigns):
    """KeyRates for each of a few `campaigns`: one aggregate query for their ESP events, and
    the opt-outs per campaign; sent counts come from the counters the workers keep."""
    campaigns = list(campaigns)
    events = {}
    for campaign_id, kind, count in (
        DeliveryEvent.objects.filter(campaign__in=campaigns)
        .order_by()
        .values_list("campaign_id", "kind")
        .annotate(count=Count("*"))
    ):
        events[campaign_id, kind] = count
    rates = []
    for campaign in campaigns:
        sent = campaign.sent_count
        counts = {kind: events.get((campaign.pk, kind), 0) for kind in DeliveryEvent.Kind.values}
        tracking = bool(counts[DeliveryEvent.Kind.OPENED] or counts[DeliveryEvent.Kind.CLICKED])
        rates.append(
            KeyRates(
                campaign=campaign,
                sent=sent,
                bounced=_share(counts[DeliveryEvent.Kind.BOUNCED], sent),
                complained=_share(counts[DeliveryEvent.Kind.COMPLAINED], sent),
                unsubscribed=_share(unsubscribed(campaign.pk), sent),
                opened=_share(counts[DeliveryEvent.Kind.OPENED], sent) if tracking else None,
                clicked=_share(counts[DeliveryEvent.Kind.CLICKED], sent) if tracking else None,
            )
        )
    return rates


def _share(count, sent):
    return round(100 * count / sent, 1) if sent else 0.0


def _targeted(campaign):
    """Before the snapshot: how many contacts the campaign's audiences hold now."""
    if campaign.status in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        return recipients(campaign).count()
    return 0


def unsubscribed(campaign_id):
    """People who opted out from this campaign: by Mailroom's link or as the ESP reported,
    each person once (UNION removes the overlap)."""
    via_esp = (
        Delivery.objects.filter(events__campaign_id=campaign_id, events__kind=DeliveryEvent.Kind.UNSUBSCRIBED)
        .order_by()
        .values("email_hash")
    )
    return policy.closed_by_campaign(campaign_id, Channel.EMAIL_MARKETING).union(via_esp).count()


def sent_over_time(campaign_id):
    """[(bucket start, sent)] per minute, or per hour for a long campaign; empty buckets included."""
    sent = Delivery.objects.filter(campaign_id=campaign_id, status=Delivery.Status.SENT).order_by()
    span = sent.aggregate(first=Min("sent_at"), last=Max("sent_at"))
    if span["first"] is None:
        return [], None
    if span["last"] - span["first"] <= MINUTE_CHART_SPAN:
        trunc, step, unit = TruncMinute, timedelta(minutes=1), "minute"
    else:
        trunc, step, unit = TruncHour, timedelta(hours=1), "hour"
    counts = dict(sent.annotate(bucket=trunc("sent_at")).values_list("bucket").annotate(count=Count("*")))
    buckets = []
    at = min(counts)
    while at <= max(counts):
        buckets.append((at, counts.get(at, 0)))
        at += step
    return buckets, unit
