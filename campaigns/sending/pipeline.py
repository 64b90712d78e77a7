"""The send pipeline: claim a batch → re-check suppression → personalise → hand off to the
gateway in chunks, writing outcomes after each.

Tasks call send_next_batch. Nothing here renders a page per recipient (DESIGN invariant 5)
or assumes a single worker (invariant 6); starting a campaign is in lifecycle and snapshot.
"""

from itertools import groupby

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from campaigns.audiences.engagement import capped_ids
from campaigns.models import Campaign, Delivery
from campaigns.reports.deliverability import guard
from suppression import policy
from suppression.models import Stream

from . import ab, chains
from .builders import builder_for
from .chains import Keeper
from .claims import claim, defer, next_due_in, reclaim_stale, release
from .delivery_errors import BackendUnavailable
from .lifecycle import pause
from .mailer import promotional_gateway
from .outcomes import Recorder
from .throttles import pacing, ratelimit

Status = Campaign.Status
WAITING_FOR_WARMUP = "Waiting for tomorrow's warm-up allowance."


class Waiting(Exception):
    """Nothing to send for `seconds` (deliveries put off, or the warm-up allowance used up):
    the chain carries on then."""

    def __init__(self, seconds, reason=""):
        super().__init__(reason or f"nothing to send for {seconds:.1f} s")
        self.seconds = seconds


def failure_rate_too_high(sent, failed):
    done = sent + failed
    return done >= settings.MAILROOM_PAUSE_MIN_SAMPLE and failed / done > settings.MAILROOM_PAUSE_FAILURE_RATE


def still_sending(campaign_id):
    return Campaign.objects.filter(pk=campaign_id, status=Status.SENDING).exists()


def chunk_size(builder):
    """Recipients handed to the backend between two outcome writes, on every path: the
    builder's own (an ESP's limit per call) but never more than MAILROOM_CHUNK_SIZE, the
    most a killed worker may send twice, nor more than one second of the rate limit."""
    rate = int(settings.MAILROOM_RATE_LIMITS.get(Stream.PROMOTIONAL, 0))
    return max(1, min(builder.chunk_size, settings.MAILROOM_CHUNK_SIZE, rate or builder.chunk_size))


def deliver(campaign, deliveries, keeper):
    """Re-check suppression and the frequency cap for the batch in hand (invariant 3), put
    off what the mailbox providers' rates (pacing) and the warm-up allowance do not take
    now, then send the rest in chunks, writing outcomes after each so a killed worker can
    repeat at most one chunk. Raises BackendUnavailable (the rows still held by `keeper`
    unsent) when the backend is down, Waiting when the day's warm-up allowance ran out."""
    blocked = policy.blocked_by_hash([d.contact.email_hash for d in deliveries], Stream.PROMOTIONAL)
    capped = capped_ids(d.contact_id for d in deliveries)
    recorder = Recorder(campaign.pk)
    to_send = []
    for delivery in deliveries:
        channel = blocked.get(delivery.contact.email_hash)
        if channel:
            recorder.add(delivery, Delivery.Status.SUPPRESSED, channel)
        elif delivery.contact_id in capped:
            recorder.add(delivery, Delivery.Status.SUPPRESSED, Delivery.FREQUENCY_CAP)
        else:
            to_send.append(delivery)
    status, _, failed_before = recorder.flush()
    to_send, later = pacing.pace(to_send)
    defer(later)
    to_send, out_of_allowance = within_warmup(campaign, to_send)
    to_send.sort(key=lambda delivery: delivery.variant_id or 0)
    keeper.hold(to_send)
    try:
        unsent = send_chunks(campaign, to_send, keeper, recorder, status, failed_before) if to_send else 0
    except BackendUnavailable:
        ratelimit.unused_warmup(Stream.PROMOTIONAL, len(keeper.held))
        raise
    ratelimit.unused_warmup(Stream.PROMOTIONAL, unsent)
    if out_of_allowance:
        raise Waiting(ratelimit.until_tomorrow(), WAITING_FOR_WARMUP)


def within_warmup(campaign, deliveries):
    """(the deliveries today's warm-up allowance takes, whether it ran out): the rest go
    back pending, and the campaign says it waits for tomorrow."""
    allowed = ratelimit.warmup_allowance(Stream.PROMOTIONAL, len(deliveries))
    release(deliveries[allowed:])
    waiting = allowed < len(deliveries)
    if waiting or campaign.pause_reason == WAITING_FOR_WARMUP:
        Campaign.objects.filter(pk=campaign.pk, status=Status.SENDING).update(
            pause_reason=WAITING_FOR_WARMUP if waiting else ""
        )
    return deliveries[:allowed], waiting


def send_chunks(campaign, to_send, keeper, recorder, status, failed_before):
    """Hand `to_send` to the gateway chunk by chunk, writing each chunk's outcomes; returns
    how many went back unsent (the campaign paused or cancelled meanwhile)."""
    with promotional_gateway() as gateway:
        done = 0
        for builder, chunk in chunks_by_variant(campaign, to_send, gateway.backend):
            rest = to_send[done + len(chunk) :]
            if status != Status.SENDING:  # paused or cancelled since the batch began
                keeper.hold(())
                release(to_send[done:])
                return len(to_send) - done
            done += len(chunk)
            ratelimit.acquire(Stream.PROMOTIONAL, len(chunk))
            outcomes = builder.send(gateway, chunk)
            keeper.hold(rest)
            for delivery, outcome in zip(chunk, outcomes, strict=True):
                recorder.outcome(delivery, outcome)
            pacing.note_deferrals(chunk, outcomes)
            last_error = recorder.last_error
            status, sent, failed = recorder.flush()
            if recorder.unavailable:
                keeper.hold(recorder.unavailable + rest)
                raise BackendUnavailable(last_error, recorder.retry_after)
            if status == Status.SENDING and failure_rate_too_high(sent, failed):
                pause(campaign.pk, reason=f"Paused automatically: too many failures. Last error: {last_error}")
                status = Status.PAUSED
            elif status == Status.SENDING and failed > failed_before and guard(campaign.pk):
                status = Status.PAUSED  # a mailbox rejection at hand-off is a hard bounce too
            failed_before = failed
    return 0


def chunks_by_variant(campaign, deliveries, backend):
    """(builder, chunk) in turn: one builder per subject variant (campaigns.sending.ab; one
    for a campaign without a test), from the email frozen with that variant's subject.
    `deliveries` come sorted by variant."""
    for variant_id, group in groupby(deliveries, key=lambda delivery: delivery.variant_id):
        group = list(group)
        variant = campaign.variants.get(pk=variant_id) if variant_id else None
        builder = builder_for(campaign.for_variant(variant), backend)
        size = chunk_size(builder)
        for start in range(0, len(group), size):
            yield builder, group[start : start + size]


def send_next_batch(campaign_id, size=None, slot=None):
    """Claim and send one batch; returns how many deliveries it handled (0: nothing left).

    `slot` names the chain the batch belongs to: its batch is a range of the campaign's
    rows (claims.take_range), the chain's while its lease, renewed as it works, runs.
    When the backend is unavailable the rows go back unsent and BackendUnavailable is raised;
    once the chain has met the outage for longer than MAILROOM_GIVE_UP_AFTER_SECONDS, the
    rows fail with its error instead and the campaign pauses (give_up).
    """
    if not still_sending(campaign_id):
        return 0
    reclaim_stale(campaign_id)
    batch = claim(campaign_id, size or settings.MAILROOM_BATCH_SIZE, slot)
    if not batch:
        if not finish_if_done(campaign_id) and pacing.enabled():
            seconds = next_due_in(campaign_id)  # deliveries put off for their provider's rate
            if seconds is not None:
                raise Waiting(min(max(seconds, 0.1), settings.MAILROOM_CLAIM_LEASE_SECONDS / 2))
        return 0
    with Keeper(campaign_id, slot) as keeper:
        try:
            deliver(Campaign.objects.get(pk=campaign_id), batch, keeper)
        except BackendUnavailable as outage:
            if slot is None or not chains.outage_outlasted(campaign_id, slot):
                release(keeper.held)
                raise
            give_up(campaign_id, keeper.held, str(outage))
            keeper.hold(())
    return len(batch)


def give_up(campaign_id, deliveries, error):
    """The backend stayed unavailable too long: the batch's unsent rows fail with the last
    error (nothing is lost silently: retrying failed deliveries sends them) and the campaign
    pauses, saying why; resuming tries again."""
    limit = f"{settings.MAILROOM_GIVE_UP_AFTER_SECONDS:g}"
    recorder = Recorder(campaign_id)
    for delivery in deliveries:
        recorder.add(delivery, Delivery.Status.FAILED, f"email service unavailable for over {limit} s: {error}")
    recorder.flush()
    pause(
        campaign_id,
        reason=f"Paused automatically: the email service was unavailable for over {limit} s. Last error: {error}",
    )


def finish_if_done(campaign_id):
    """Sent once no delivery is pending or claimed and no A/B test holds the rest."""
    open_rows = Q(status=Delivery.Status.PENDING) | Q(status=Delivery.Status.CLAIMED)
    if Delivery.objects.filter(open_rows, campaign_id=campaign_id).exists() or ab.holding(campaign_id):
        return False
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Status.SENDING).update(
            status=Status.SENT, finished_at=timezone.now()
        )
    )
