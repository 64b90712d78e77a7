"""The send pipeline in process: snapshot, send-time re-check, uniqueness, freezing."""

import email
import email.policy

import pytest
from django.db import IntegrityError, transaction

from campaigns import sending
from campaigns.models import Campaign, Delivery
from suppression import policy
from suppression.models import Channel, Source
from tests.factories import make_audience, make_campaign, make_page

pytestmark = pytest.mark.django_db

PEOPLE = [("ada@example.com", "Ada"), ("grace@example.com", "Grace"), ("linus@example.com", "Linus")]


@pytest.fixture
def campaign(sender_settings):
    return make_campaign(make_page(), make_audience("Customers", PEOPLE))


def start(campaign):
    sending.schedule(campaign)
    assert sending.begin(campaign.pk)
    campaign.refresh_from_db()


def statuses(campaign):
    return dict(Delivery.objects.filter(campaign=campaign).values_list("contact__email", "status"))


def test_snapshot_marks_blocked_addresses_suppressed_with_reason(campaign, outbox_dir):
    policy.record_opt_out("GRACE@example.com", Channel.COMPLAINT, Source.COMPLAINT)
    start(campaign)
    delivery = Delivery.objects.get(campaign=campaign, contact__email="grace@example.com")
    assert (delivery.status, delivery.reason) == (Delivery.Status.SUPPRESSED, Channel.COMPLAINT)
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).count() == 2


def test_opt_out_during_sending_stops_the_next_message(campaign, outbox_dir):
    start(campaign)
    assert sending.send_next_batch(campaign.pk, size=1) == 1  # one person is sent
    # Whoever is still pending last (the snapshot's order follows the query plan, not the names).
    last = Delivery.objects.filter(campaign=campaign, status="pending").order_by("pk").last().contact.email
    policy.record_opt_out(last, Channel.EMAIL_MARKETING, Source.ONE_CLICK)
    while sending.send_next_batch(campaign.pk, size=1):
        pass
    assert statuses(campaign) == {email: "sent" for email, _ in PEOPLE} | {last: "suppressed"}
    assert len(list(outbox_dir.glob("*.eml"))) == 2
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_one_delivery_per_campaign_and_contact(campaign, outbox_dir):
    start(campaign)
    sending.snapshot(campaign)  # a second snapshot adds nothing
    assert Delivery.objects.filter(campaign=campaign).count() == 3
    existing = Delivery.objects.filter(campaign=campaign).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(campaign=campaign, contact=existing.contact, email_hash=existing.email_hash)


def test_a_campaign_starts_once(campaign):
    sending.schedule(campaign)
    assert sending.begin(campaign.pk) is True
    assert sending.begin(campaign.pk) is False


def test_page_edits_after_start_do_not_change_the_campaign(campaign, outbox_dir):
    start(campaign)
    page = campaign.page.specific
    page.subject = "Changed subject"
    page.body = [("heading", "Changed heading")]
    page.save()
    while sending.send_next_batch(campaign.pk):
        pass
    raw = next(outbox_dir.glob("*.eml")).read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.strict)
    assert message["Subject"].endswith("new offers")
    assert "Changed heading" not in raw.decode()


def test_stale_claims_are_reclaimed(campaign, outbox_dir, settings):
    start(campaign)
    settings.MAILROOM_CLAIM_LEASE_SECONDS = -1  # the claim is born expired: its worker "died"
    claimed = sending.claim(campaign.pk, 2)
    assert len(claimed) == 2
    assert sending.reclaim_stale(campaign.pk) == 2
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).count() == 3
