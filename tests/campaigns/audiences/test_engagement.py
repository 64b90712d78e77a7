"""The frequency cap across campaigns (held back at send time for the batch in hand, in one
query, recorded as suppressed with its reason) and who counts as unengaged."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import checklist
from campaigns.audiences import engagement
from campaigns.models import Campaign, Contact, Delivery, DeliveryEvent
from campaigns.reports import stats
from tests.factories import make_audience, make_campaign, make_page, send_until_idle, start

pytestmark = pytest.mark.django_db

ADA, GRACE, LIN, MAX = (
    ("ada@example.com", "Ada"),
    ("grace@example.com", "Grace"),
    ("lin@example.com", "Lin"),
    ("max@example.com", "Max"),
)


def sent_campaign(name, people):
    campaign = make_campaign(make_page(title=name), make_audience(name, people), name=name)
    start(campaign)
    send_until_idle(campaign)
    return campaign


def outcomes(campaign):
    return dict(Delivery.objects.filter(campaign=campaign).values_list("contact__email", "reason"))


def test_the_frequency_cap_holds_back_a_second_campaign_to_the_same_people(sender_settings, settings, outbox_dir):
    settings.MAILROOM_FREQUENCY_CAP = 1
    first = sent_campaign("Spring", [ADA, GRACE, LIN])
    second = make_campaign(make_page(title="Summer"), make_audience("Summer", [ADA, GRACE, MAX]), name="Summer")

    warnings = checklist.check(second).warnings
    assert any(w.startswith("2 contact(s) already had 1 promotional email(s) in the last 7 days") for w in warnings)

    start(second)
    send_until_idle(second)
    assert outcomes(first) == {"ada@example.com": "", "grace@example.com": "", "lin@example.com": ""}
    assert outcomes(second) == {
        "ada@example.com": Delivery.FREQUENCY_CAP,
        "grace@example.com": Delivery.FREQUENCY_CAP,
        "max@example.com": "",
    }
    assert set(
        Delivery.objects.filter(campaign=second, reason=Delivery.FREQUENCY_CAP).values_list("status", flat=True)
    ) == {Delivery.Status.SUPPRESSED}
    second.refresh_from_db()
    assert (second.status, second.sent_count, second.suppressed_count) == (Campaign.Status.SENT, 1, 2)
    assert stats.results(second).suppressed_by_reason == [("Frequency cap", 2)]


def test_only_the_last_7_days_count_and_no_cap_is_the_default(sender_settings, settings, outbox_dir):
    first = sent_campaign("Spring", [ADA, GRACE])
    ids = list(Contact.objects.values_list("pk", flat=True))
    assert settings.MAILROOM_FREQUENCY_CAP == 0 and engagement.capped_ids(ids) == set()
    settings.MAILROOM_FREQUENCY_CAP = 1
    Delivery.objects.filter(campaign=first, contact__email=ADA[0]).update(sent_at=timezone.now() - timedelta(days=8))
    with CaptureQueriesContext(connection) as queries:
        capped = engagement.capped_ids(ids)
    assert capped == {Contact.objects.get(email=GRACE[0]).pk}
    assert len(queries) == 1  # the whole batch in one query
    settings.MAILROOM_FREQUENCY_CAP = 2
    assert engagement.capped_ids(ids) == set()


def test_unengaged_are_contacts_mailed_who_opened_and_clicked_nothing_in_180_days(sender_settings, outbox_dir):
    campaign = sent_campaign("Spring", [ADA, GRACE, LIN])
    everyone = Contact.objects.all()
    assert not engagement.tracking_data_exists()
    delivery = Delivery.objects.get(campaign=campaign, contact__email=ADA[0])
    DeliveryEvent.objects.create(
        campaign=campaign, delivery=delivery, kind=DeliveryEvent.Kind.CLICKED, occurred_at=timezone.now()
    )
    grace = Delivery.objects.get(campaign=campaign, contact__email=GRACE[0])
    DeliveryEvent.objects.create(
        campaign=campaign,
        delivery=grace,
        kind=DeliveryEvent.Kind.OPENED,
        occurred_at=timezone.now() - timedelta(days=181),
    )
    Contact.objects.create(email=MAX[0])  # never mailed: not (yet) unengaged
    assert engagement.tracking_data_exists()
    assert engagement.unengaged_count(everyone) == 2  # Grace opened too long ago, Lin never did
