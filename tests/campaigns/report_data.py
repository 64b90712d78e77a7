"""A started campaign with known outcomes, shared by the report, stats and admin tests."""

from datetime import timedelta

from django.utils import timezone

from campaigns.models import Campaign, Delivery, DeliveryEvent
from suppression import policy
from suppression.models import Channel, Source
from tests.factories import make_audience, make_campaign, make_page, start

PEOPLE = [(f"person{number}@example.com", f"Person{number}") for number in range(10)]


def mark(campaign, emails, **fields):
    return Delivery.objects.filter(campaign=campaign, contact__email__in=emails).update(**fields)


def event(campaign, email, kind, minutes_ago=1):
    delivery = Delivery.objects.get(campaign=campaign, contact__email=email)
    return DeliveryEvent.objects.create(
        campaign=campaign, delivery=delivery, kind=kind, occurred_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def seeded_campaign(name="Autumn offers"):
    """10 people: 1 suppressed at start (complaint), 5 sent over two minutes, 2 failed,
    2 still pending; the ESP reported 1 bounce, 1 complaint, 2 unsubscribes, 2 opens, 1 click;
    2 people used Mailroom's own unsubscribe link (one of them also reported by the ESP)."""
    policy.record_opt_out("person9@example.com", Channel.COMPLAINT, Source.COMPLAINT)
    campaign = start(make_campaign(make_page(), make_audience(f"{name} audience", PEOPLE), name=name))
    now = timezone.now().replace(second=30, microsecond=0)
    sent = [f"person{number}@example.com" for number in range(5)]
    mark(campaign, sent[:3], status=Delivery.Status.SENT, sent_at=now - timedelta(minutes=2))
    mark(campaign, sent[3:], status=Delivery.Status.SENT, sent_at=now)
    mark(
        campaign,
        ["person5@example.com", "person6@example.com"],
        status=Delivery.Status.FAILED,
        reason="550 mailbox unavailable",
    )
    event(campaign, "person0@example.com", DeliveryEvent.Kind.BOUNCED)
    event(campaign, "person1@example.com", DeliveryEvent.Kind.COMPLAINED)
    event(campaign, "person2@example.com", DeliveryEvent.Kind.UNSUBSCRIBED)
    event(campaign, "person3@example.com", DeliveryEvent.Kind.UNSUBSCRIBED)
    event(campaign, "person3@example.com", DeliveryEvent.Kind.OPENED)
    event(campaign, "person4@example.com", DeliveryEvent.Kind.OPENED)
    event(campaign, "person4@example.com", DeliveryEvent.Kind.CLICKED)
    policy.record_opt_out("person2@example.com", Channel.EMAIL_MARKETING, Source.ONE_CLICK, campaign_id=campaign.pk)
    policy.record_opt_out("person4@example.com", Channel.EMAIL_MARKETING, Source.LINK, campaign_id=campaign.pk)
    # The counters the send engine keeps beside its outcomes (the snapshot set the rest).
    Campaign.objects.filter(pk=campaign.pk).update(sent_count=5, failed_count=2)
    campaign.refresh_from_db()
    return campaign
