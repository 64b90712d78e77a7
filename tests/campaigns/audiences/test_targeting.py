"""Targeting: audiences and segments minus exclusions, segment rules, live counts, snapshot."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.audiences import segments
from campaigns.audiences.targeting import recipients
from campaigns.models import Contact, Delivery, DeliveryEvent, Segment, SegmentRule
from suppression import policy
from suppression.models import Channel, Source
from tests.factories import make_audience, make_campaign, make_page, start

pytestmark = pytest.mark.django_db
F, Op = SegmentRule.Field, SegmentRule.Operator


def segment(name, *rules, match=Segment.Match.ALL):
    saved = Segment.objects.create(name=name, match=match)
    for field, operator, value, *attribute in rules:
        SegmentRule.objects.create(
            segment=saved, field=field, operator=operator, value=value, attribute=attribute[0] if attribute else ""
        )
    return saved


def emails(contacts):
    return sorted(contacts.values_list("email", flat=True))


@pytest.fixture
def people(db):
    customers = make_audience("Customers", [("ada@example.com", "Ada"), ("grace@example.com", "Grace")])
    trial = make_audience("Trial", [("grace@example.com", "Grace"), ("linus@example.com", "Linus")])
    Contact.objects.filter(email="ada@example.com").update(
        country="GB", tags=["vip", "course"], attributes={"last_purchase": "2025-03-01", "plan": "pro"}
    )
    Contact.objects.filter(email="grace@example.com").update(country="US", tags=["course"])
    Contact.objects.filter(email="linus@example.com").update(country="gb", attributes={"plan": "free"})
    Contact.objects.create(email="old@example.com", country="DE")
    Contact.objects.filter(email="old@example.com").update(created_at=timezone.now() - timedelta(days=400))
    return customers, trial


@pytest.mark.parametrize(
    "rules, match, expected",
    [
        ([(F.COUNTRY, Op.IS, "gb")], "all", ["ada@example.com", "linus@example.com"]),
        ([(F.COUNTRY, Op.IS_NOT, "GB")], "all", ["grace@example.com", "old@example.com"]),
        ([(F.TAG, Op.IS, "course")], "all", ["ada@example.com", "grace@example.com"]),
        ([(F.TAG, Op.IS, "course"), (F.COUNTRY, Op.IS, "US")], "all", ["grace@example.com"]),
        ([(F.TAG, Op.IS, "vip"), (F.COUNTRY, Op.IS, "DE")], "any", ["ada@example.com", "old@example.com"]),
        ([(F.AUDIENCE, Op.IS, "Trial")], "all", ["grace@example.com", "linus@example.com"]),
        ([(F.AUDIENCE, Op.IS_NOT, "Trial")], "all", ["ada@example.com", "old@example.com"]),
        ([(F.ATTRIBUTE, Op.IS, "pro", "plan")], "all", ["ada@example.com"]),
        ([(F.ATTRIBUTE, Op.GREATER, "2025-01-01", "last_purchase")], "all", ["ada@example.com"]),
        ([(F.ATTRIBUTE, Op.IS_SET, "", "plan")], "all", ["ada@example.com", "linus@example.com"]),
        ([(F.CREATED, Op.NOT_WITHIN_DAYS, "365")], "all", ["old@example.com"]),
        (
            [(F.LAST_MAILED, Op.NOT_WITHIN_DAYS, "180")],
            "all",
            ["ada@example.com", "grace@example.com", "linus@example.com", "old@example.com"],
        ),
        ([], "all", []),
    ],
)
def test_segment_rules(people, rules, match, expected):
    assert emails(segments.contacts_in(segment("S", *rules, match=match))) == expected


def test_recently_mailed_contacts_leave_a_not_mailed_segment(people, sender_settings):
    campaign = make_campaign(make_page(), people[0])
    start(campaign)
    Delivery.objects.filter(contact__email="ada@example.com").update(status="sent", sent_at=timezone.now())
    quiet = segment("Quiet", (F.LAST_MAILED, Op.NOT_WITHIN_DAYS, "180"))
    assert "ada@example.com" not in emails(segments.contacts_in(quiet))


def test_opened_nothing_in_six_months(people, sender_settings):
    campaign = make_campaign(make_page(), people[0])
    start(campaign)
    delivery = Delivery.objects.get(campaign=campaign, contact__email="ada@example.com")
    DeliveryEvent.objects.create(
        campaign=campaign,
        delivery=delivery,
        kind=DeliveryEvent.Kind.OPENED,
        occurred_at=timezone.now() - timedelta(days=30),
    )
    dormant = segments.contacts_in(segment("Dormant", (F.LAST_OPENED, Op.NOT_WITHIN_DAYS, "180")))
    engaged = segments.contacts_in(segment("Engaged", (F.LAST_OPENED, Op.WITHIN_DAYS, "180")))
    assert "ada@example.com" not in emails(dormant) and emails(engaged) == ["ada@example.com"]
    assert emails(dormant)  # everyone else opened nothing


def test_a_rule_that_does_not_fit_its_field_is_refused():
    with pytest.raises(segments.RuleError):
        segments.rule_condition(SegmentRule(field=F.TAG, operator=Op.GREATER, value="x"))
    with pytest.raises(segments.RuleError):
        segments.rule_condition(SegmentRule(field=F.CREATED, operator=Op.WITHIN_DAYS, value="soon"))


def test_live_count_is_after_suppression(people):
    course = segment("Course", (F.TAG, Op.IS, "course"))
    assert segments.live_count(course) == 2
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    policy.record_opt_out("grace@example.com", Channel.POSTAL_MARKETING, Source.PHONE)  # email still fine
    assert segments.live_count(course) == 1


def test_recipients_are_audiences_and_segments_minus_exclusions(people):
    customers, trial = people
    campaign = make_campaign(make_page(), customers)
    campaign.segments.add(segment("Germany", (F.COUNTRY, Op.IS, "DE")))
    assert emails(recipients(campaign)) == ["ada@example.com", "grace@example.com", "old@example.com"]
    campaign.excluded_audiences.add(trial)
    assert emails(recipients(campaign)) == ["ada@example.com", "old@example.com"]
    campaign.excluded_segments.add(segment("VIP", (F.TAG, Op.IS, "vip")))
    assert emails(recipients(campaign)) == ["old@example.com"]


def test_overlapping_audiences_and_segments_give_one_delivery_each(people, sender_settings):
    customers, trial = people
    campaign = make_campaign(make_page(), customers, trial)
    campaign.segments.add(segment("Course", (F.TAG, Op.IS, "course")))
    campaign.excluded_segments.add(segment("Linus", (F.COUNTRY, Op.IS, "gb"), (F.TAG, Op.IS_NOT, "vip")))
    policy.record_opt_out("grace@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    start(campaign)
    assert dict(Delivery.objects.filter(campaign=campaign).values_list("contact__email", "status")) == {
        "ada@example.com": Delivery.Status.PENDING,
        "grace@example.com": Delivery.Status.SUPPRESSED,
    }
