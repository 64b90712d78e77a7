"""Batch chains and the leases that keep a campaign moving whatever dies.

A sending campaign is worked by MAILROOM_SEND_CHAINS chains of batch tasks, one task per
batch (campaigns.models.SendChain). While a task works, a thread of its worker (Keeper)
renews every third of a lease both the chain's lease and the leases of the deliveries
the batch still holds; so they run out only about a lease after the worker died (or its
hand-off hung). Beat then queues the chain again (due), whoever else is busy, and the
chain's next batch reclaims the rows. Tasks carry the chain's run: the first to start
with the current run takes the chain (take), so a chain queued twice works once.
"""

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.models import Campaign, SendChain

from . import claims

logger = logging.getLogger(__name__)
# A hand-off that has not moved for this long is hung, not slow: its leases are left to
# run out, so another worker sends its rows.
HUNG_AFTER = 600


def lease_end(seconds=None):
    lease = settings.MAILROOM_CLAIM_LEASE_SECONDS if seconds is None else seconds
    return timezone.now() + timedelta(seconds=lease)


def _slots():
    return range(settings.MAILROOM_SEND_CHAINS)


def open_chains(campaign_id):
    """(slot, run) of each chain of the campaign, created when missing, each given a lease
    to start in: starting and resuming queue one task per chain with these."""
    with transaction.atomic():
        SendChain.objects.bulk_create(
            [SendChain(campaign_id=campaign_id, slot=slot, lease_until=lease_end()) for slot in _slots()],
            ignore_conflicts=True,
        )
        chains = SendChain.objects.filter(campaign_id=campaign_id, slot__in=_slots())
        chains.update(lease_until=lease_end(), backoffs=0, unavailable_since=None)
        return list(chains.order_by("slot").values_list("slot", "run"))


def take(campaign_id, slot, run):
    """True when the task queued with `run` may work the chain: no other task took it since."""
    return bool(
        SendChain.objects.filter(campaign_id=campaign_id, slot=slot, run=run).update(
            run=F("run") + 1, lease_until=lease_end()
        )
    )


def pass_on(campaign_id, slot):
    """A batch went through: the chain's next task gets a lease to start in."""
    SendChain.objects.filter(campaign_id=campaign_id, slot=slot).update(
        lease_until=lease_end(), backoffs=0, unavailable_since=None
    )


def wait(campaign_id, slot, seconds):
    """Nothing to send for `seconds` (rows put off by pacing, the warm-up allowance used up):
    the chain's lease runs a lease past them, so beat queues it again should its next task
    be lost (or, for a wait longer than a lease, was never queued). An outage under way
    keeps its start time: waiting is not the backend answering."""
    SendChain.objects.filter(campaign_id=campaign_id, slot=slot).update(
        lease_until=lease_end(seconds + settings.MAILROOM_CLAIM_LEASE_SECONDS)
    )


def back_off(campaign_id, slot, retry_after=None):
    """The backend is unavailable: beat queues the chain again after `retry_after` seconds
    if the backend said, else after a wait that doubles with each back-off in a row, up to
    a lease. The first back-off in a row notes when the outage began. Returns the wait."""
    backoffs = SendChain.objects.filter(campaign_id=campaign_id, slot=slot).values_list("backoffs", flat=True).first()
    seconds = (
        retry_after if retry_after is not None else min(2 ** (backoffs or 0), settings.MAILROOM_CLAIM_LEASE_SECONDS)
    )
    SendChain.objects.filter(campaign_id=campaign_id, slot=slot).update(
        lease_until=lease_end(seconds),
        backoffs=F("backoffs") + 1,
        unavailable_since=Coalesce(F("unavailable_since"), Value(timezone.now())),
    )
    return seconds


def outage_outlasted(campaign_id, slot):
    """True when the chain has been backing off from an outage for longer than
    MAILROOM_GIVE_UP_AFTER_SECONDS: time to fail its batch rather than wait on."""
    limit = timezone.now() - timedelta(seconds=settings.MAILROOM_GIVE_UP_AFTER_SECONDS)
    return SendChain.objects.filter(campaign_id=campaign_id, slot=slot, unavailable_since__lt=limit).exists()


def due(now=None):
    """For beat: (campaign_id, slot, run) of every chain of a sending campaign whose lease
    has passed, each given a lease to start in. A sending campaign's missing chains (its
    start was cut short before they were queued) are created due."""
    now = now or timezone.now()
    sending = list(Campaign.objects.filter(status=Campaign.Status.SENDING).values_list("pk", flat=True))
    if not sending:
        return []
    SendChain.objects.bulk_create(
        [
            SendChain(campaign_id=campaign_id, slot=slot, lease_until=now)
            for campaign_id in sending
            for slot in _slots()
        ],
        ignore_conflicts=True,
    )
    with transaction.atomic():
        chains = list(
            SendChain.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(campaign__status=Campaign.Status.SENDING, slot__in=_slots(), lease_until__lte=now)
            .values_list("pk", "campaign_id", "slot", "run")
        )
        SendChain.objects.filter(pk__in=[pk for pk, *_ in chains]).update(lease_until=lease_end())
    return [tuple(chain) for _, *chain in chains]


class Keeper:
    """Renews, from a thread, the leases of the rows a batch still holds and of its chain,
    every third of a lease, while the worker lives and its hand-off moves: a slow ESP call
    or SMTP server never costs a live worker its rows, however long one chunk takes."""

    def __init__(self, campaign_id, slot=None):
        self.campaign_id = campaign_id
        self.slot = slot
        self.held = []
        self.moved_at = time.monotonic()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = None

    def hold(self, deliveries):
        """The rows still in hand from now on. Waits for a renewal under way, so none can
        overwrite an outcome written after this."""
        with self.lock:
            self.held = list(deliveries)
            self.moved_at = time.monotonic()

    def __enter__(self):
        # The thread has its own connection: rows this one has not committed (a caller's
        # transaction, as in tests) are not its to renew.
        if not connection.in_atomic_block:
            self.thread = threading.Thread(target=self._run, name=f"lease-keeper-{self.campaign_id}", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopped.set()
        if self.thread:
            self.thread.join()

    def _run(self):
        interval = max(0.2, settings.MAILROOM_CLAIM_LEASE_SECONDS / 3)
        try:
            while not self.stopped.wait(interval):
                if time.monotonic() - self.moved_at < HUNG_AFTER:
                    self._renew()
        finally:
            connections.close_all()  # this thread's own

    def _renew(self):
        try:
            with self.lock:
                claims.renew(self.held)
                if self.slot is not None:
                    SendChain.objects.filter(campaign_id=self.campaign_id, slot=self.slot).update(
                        lease_until=lease_end()
                    )
        except DatabaseError as error:
            logger.warning("Campaign %s: could not renew leases (%s); trying again.", self.campaign_id, error)
            connection.close()
