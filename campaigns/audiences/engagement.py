"""Contacts who have had enough: the frequency cap on promotional mail across campaigns, and
contacts who stopped opening. Set-based: one query for a batch or an audience, never one per contact."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from campaigns.models import Delivery, DeliveryEvent

from .segments import deliverable, engaged_since

CAP_WINDOW = timedelta(days=7)
UNENGAGED_AFTER = timedelta(days=180)


def capped(contacts):
    """Contact ids among `contacts` (ids or a queryset of ids) already sent
    MAILROOM_FREQUENCY_CAP campaign emails in the last 7 days: a subquery, or None when there
    is no cap. Campaign emails are all promotional."""
    cap = settings.MAILROOM_FREQUENCY_CAP
    if not cap:
        return None
    return (
        Delivery.objects.filter(
            contact_id__in=contacts, status=Delivery.Status.SENT, sent_at__gte=timezone.now() - CAP_WINDOW
        )
        .order_by()
        .values("contact_id")
        .annotate(sent=Count("*"))
        .filter(sent__gte=cap)
        .values("contact_id")
    )


def capped_ids(contact_ids):
    """The set of `contact_ids` (a batch in hand) that the frequency cap holds back now."""
    ids = capped(list(contact_ids))
    return set() if ids is None else set(ids.values_list("contact_id", flat=True))


def capped_count(contacts):
    """How many of the targeted `contacts` the frequency cap would hold back now (None: no cap)."""
    ids = capped(contacts.order_by().values("pk"))
    return None if ids is None else deliverable(contacts).filter(pk__in=ids).count()


def tracking_data_exists():
    """True once any open or click was ever reported: without it nobody looks unengaged."""
    return DeliveryEvent.objects.filter(kind__in=[DeliveryEvent.Kind.OPENED, DeliveryEvent.Kind.CLICKED]).exists()


def unengaged_count(contacts):
    """Reachable `contacts` who were sent a campaign email but opened or clicked none in 180 days."""
    mailed = Delivery.objects.filter(status=Delivery.Status.SENT).values("contact_id")
    return deliverable(contacts).filter(pk__in=mailed).exclude(engaged_since(timezone.now() - UNENGAGED_AFTER)).count()
