"""A/B subject tests: at the start a share of the audience gets the subject variants at
random and the rest is held; after the wait the variant with the best open or click rate
(from the ESP's events), or the one a marketer picked, goes to the rest.

Every person keeps one Delivery row (invariant 6), so nobody gets two variants. Beat calls
settle(); the admin's "Pick this winner" calls choose(). The pipeline sends each variant
through Campaign.for_variant, so builders never learn about variants.
"""

import logging
import math
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from campaigns.models import Campaign, Delivery, DeliveryEvent, SubjectVariant, WinnerMetric

logger = logging.getLogger(__name__)
LABELS = "ABCD"
OPEN = (Campaign.Status.SENDING, Campaign.Status.PAUSED)


def variants(campaign):
    """The campaign's subject variants, A first, when it runs a test (two or more); else []."""
    found = list(SubjectVariant.objects.filter(campaign=campaign).order_by("label"))
    return found if len(found) >= 2 else []


def start_test(campaign, tested):
    """After a snapshot that held every sendable row: hand a random `test_share` of them to
    the variants in turn (one set-based UPDATE) and set when the test ends."""
    table = Delivery._meta.db_table
    held = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.HELD).count()
    size = min(held, max(len(tested), math.ceil(held * campaign.test_share / 100)))
    cases = " ".join("WHEN %s THEN %s" for _ in tested)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET status = %s, variant_id = CASE pick.n %% %s {cases} END
            FROM (
                SELECT id, row_number() OVER (ORDER BY random()) - 1 AS n
                FROM {table} WHERE campaign_id = %s AND status = %s
            ) AS pick
            WHERE {table}.id = pick.id AND pick.n < %s
            """,
            [
                Delivery.Status.PENDING,
                len(tested),
                *[value for index, variant in enumerate(tested) for value in (index, variant.pk)],
                campaign.pk,
                Delivery.Status.HELD,
                size,
            ],
        )
    campaign.test_ends_at = timezone.now() + campaign.test_wait
    campaign.save(update_fields=["test_ends_at"])
    return size


@dataclass
class VariantFigures:
    variant: SubjectVariant
    sent: int
    opened: int
    clicked: int
    won: bool = False

    @property
    def open_rate(self):
        return round(100 * self.opened / self.sent, 1) if self.sent else 0.0

    @property
    def click_rate(self):
        return round(100 * self.clicked / self.sent, 1) if self.sent else 0.0


def figures(campaign):
    """Each variant's deliveries sent, opened and clicked (one aggregate query), A first.
    After the winner is released its figures include the rest of the audience."""
    tested = list(SubjectVariant.objects.filter(campaign=campaign).order_by("label"))
    counts = {
        row["variant_id"]: row
        for row in Delivery.objects.filter(campaign=campaign, variant__isnull=False)
        .order_by()
        .values("variant_id")
        .annotate(
            sent=Count("pk", distinct=True, filter=Q(status=Delivery.Status.SENT)),
            opened=Count("events", filter=Q(events__kind=DeliveryEvent.Kind.OPENED)),
            clicked=Count("events", filter=Q(events__kind=DeliveryEvent.Kind.CLICKED)),
        )
    }
    return [
        VariantFigures(
            variant=variant,
            sent=counts.get(variant.pk, {}).get("sent", 0),
            opened=counts.get(variant.pk, {}).get("opened", 0),
            clicked=counts.get(variant.pk, {}).get("clicked", 0),
            won=variant.pk == campaign.winner_id,
        )
        for variant in tested
    ]


def best(campaign):
    """The variant with the highest open (or click) rate among those sent; ties go to the first."""
    rows = figures(campaign)
    rate = "click_rate" if campaign.test_metric == WinnerMetric.CLICKS else "open_rate"
    return max(rows, key=lambda row: (getattr(row, rate), -rows.index(row))).variant


def choose(campaign_id, variant_id):
    """Make `variant_id` the winner of an undecided test of a sending or paused campaign.
    False if the test is decided already (by beat or another click) or not this campaign's."""
    if not SubjectVariant.objects.filter(pk=variant_id, campaign_id=campaign_id).exists():
        return False
    return bool(
        Campaign.objects.filter(
            pk=campaign_id, status__in=OPEN, test_ends_at__isnull=False, winner__isnull=True
        ).update(winner_id=variant_id)
    )


def undecided(campaign):
    return campaign.test_ends_at is not None and campaign.winner_id is None and campaign.status in OPEN


def holding(campaign_id):
    """True while the campaign's test holds the rest of its audience (no winner sent yet):
    asked of the campaign, since held rows have no index of their own."""
    return Campaign.objects.filter(pk=campaign_id, test_ends_at__isnull=False, test_released_at__isnull=True).exists()


def release(campaign_id):
    """The held rest gets the winner's subject: held rows back to pending, once. Returns how
    many, or None when the campaign has no winner yet or was released already."""
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id, winner__isnull=False, test_released_at__isnull=True)
            .first()
        )
        if campaign is None:
            return None
        released = Delivery.objects.filter(campaign_id=campaign_id, status=Delivery.Status.HELD).update(
            status=Delivery.Status.PENDING, variant_id=campaign.winner_id
        )
        campaign.test_released_at = timezone.now()
        campaign.save(update_fields=["test_released_at"])
    logger.info("Campaign %s: subject %s won; %s more to send.", campaign_id, campaign.winner.label, released)
    return released


def settle(now=None):
    """For beat: decide every test whose wait is over (unless it is picked by hand), then
    release the rest of every decided test. Returns the ids of the campaigns released."""
    now = now or timezone.now()
    running = Campaign.objects.filter(status__in=OPEN, test_ends_at__isnull=False, test_released_at__isnull=True)
    for campaign in running.filter(winner__isnull=True, test_ends_at__lte=now).exclude(test_metric=WinnerMetric.MANUAL):
        choose(campaign.pk, best(campaign).pk)
    decided = running.filter(winner__isnull=False).values_list("pk", flat=True)
    return [campaign_id for campaign_id in decided if release(campaign_id) is not None]
