"""The send pipeline in process: snapshot, send-time re-check, uniqueness, freezing."""

import email
import email.policy

import pytest
from django.db import IntegrityError, connection, transaction

from campaigns.models import Campaign, Contact, Delivery
from campaigns.sending import claims, lifecycle, outcomes, pipeline, snapshot
from suppression import policy
from suppression.models import Channel, Source
from tests.factories import make_audience, make_campaign, make_page, start

pytestmark = pytest.mark.django_db

PEOPLE = [("ada@example.com", "Ada"), ("grace@example.com", "Grace"), ("linus@example.com", "Linus")]


@pytest.fixture
def campaign(sender_settings):
    return make_campaign(make_page(), make_audience("Customers", PEOPLE))


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
    assert pipeline.send_next_batch(campaign.pk, size=1) == 1
    # The snapshot's row order is the planner's (DISTINCT may hash): opt out someone still pending.
    later = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).order_by("-pk")[0].contact.email
    policy.record_opt_out(later, Channel.EMAIL_MARKETING, Source.ONE_CLICK)
    while pipeline.send_next_batch(campaign.pk, size=1):
        pass
    assert statuses(campaign) == {email: "sent" for email, _ in PEOPLE} | {later: "suppressed"}
    assert len(list(outbox_dir.glob("*.eml"))) == 2
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_one_delivery_per_campaign_and_contact(campaign, outbox_dir):
    start(campaign)
    snapshot.snapshot(campaign)  # a second snapshot adds nothing
    assert Delivery.objects.filter(campaign=campaign).count() == 3
    existing = Delivery.objects.filter(campaign=campaign).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(campaign=campaign, contact=existing.contact, email_hash=existing.email_hash)


def test_snapshot_counts_the_audience_and_the_suppressed(campaign, outbox_dir):
    policy.record_opt_out("ada@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)  # one person, counted once
    start(campaign)
    assert (campaign.audience_count, campaign.suppressed_count) == (3, 1)
    # The most serious channel names it, as at send time (policy.BLOCKING's order).
    assert Delivery.objects.get(campaign=campaign, contact__email="ada@example.com").reason == Channel.UNDELIVERABLE


def test_a_delivery_whose_contact_vanished_after_the_snapshot_is_dropped(campaign, outbox_dir):
    # Delivery has no database foreign key (it cost the snapshot 11 s at 1M rows), so an
    # erasure racing the snapshot can leave a row behind; the claim must not choke on it.
    start(campaign)
    gone = Delivery.objects.get(campaign=campaign, contact__email="grace@example.com")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM campaigns_membership WHERE contact_id = %s", [gone.contact_id])
        cursor.execute("DELETE FROM campaigns_contact WHERE id = %s", [gone.contact_id])
    while pipeline.send_next_batch(campaign.pk, size=10):
        pass
    campaign.refresh_from_db()
    assert statuses(campaign) == {"ada@example.com": "sent", "linus@example.com": "sent"}
    assert (campaign.status, campaign.audience_count) == (Campaign.Status.SENT, 2)
    assert len(list(outbox_dir.glob("*.eml"))) == 2


def test_counters_agree_with_the_deliveries_even_when_a_chunk_is_written_twice(campaign, outbox_dir):
    policy.record_opt_out("linus@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    start(campaign)
    claimed = claims.claim(campaign.pk, 10)
    recorder = outcomes.Recorder(campaign.pk)
    for delivery in claimed:
        recorder.add(delivery, Delivery.Status.SENT, message_id=f"id-{delivery.pk}")
    recorder.flush()
    # A worker taken for dead (its lease ran out) writes the same outcomes late.
    late = outcomes.Recorder(campaign.pk)
    for delivery in claimed:
        late.add(delivery, Delivery.Status.FAILED, "timeout")
    late.flush()
    campaign.refresh_from_db()
    assert (campaign.audience_count, campaign.sent_count, campaign.failed_count, campaign.suppressed_count) == (
        3,
        2,
        0,
        1,
    )
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"sent", "suppressed"}


def test_a_campaign_starts_once(campaign):
    lifecycle.schedule(campaign)
    assert lifecycle.begin(campaign.pk) is True
    assert lifecycle.begin(campaign.pk) is False


def test_page_edits_after_start_do_not_change_the_campaign(campaign, outbox_dir):
    start(campaign)
    page = campaign.page.specific
    page.subject = "Changed subject"
    page.body = [("heading", "Changed heading")]
    page.save()
    while pipeline.send_next_batch(campaign.pk):
        pass
    raw = next(outbox_dir.glob("*.eml")).read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.strict)
    assert message["Subject"].endswith("new offers")
    assert "Changed heading" not in raw.decode()


def test_a_delivery_whose_contact_went_after_the_snapshot_leaves_the_campaign(campaign):
    start(campaign)
    gone = Delivery.objects.filter(campaign=campaign).order_by("pk").first()
    with connection.cursor() as cursor:  # as a deletion between the snapshot and the claim leaves it
        cursor.execute(f"DELETE FROM {Contact._meta.db_table} WHERE id = %s", [gone.contact_id])
    claimed = claims.claim(campaign.pk, 10)
    assert gone.pk not in {delivery.pk for delivery in claimed} and len(claimed) == 2
    assert all(delivery.contact.email for delivery in claimed)
    assert not Delivery.objects.filter(pk=gone.pk).exists()
    campaign.refresh_from_db()
    assert campaign.audience_count == 2


def test_stale_claims_are_reclaimed(campaign, outbox_dir, settings):
    start(campaign)
    settings.MAILROOM_CLAIM_LEASE_SECONDS = -1  # the claim is born expired: its worker "died"
    claimed = claims.claim(campaign.pk, 2)
    assert len(claimed) == 2
    assert claims.reclaim_stale(campaign.pk) == 2
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).count() == 3


def test_beat_finds_only_campaigns_that_are_due(campaign):
    from datetime import timedelta

    from django.utils import timezone

    lifecycle.schedule(campaign, timezone.now() + timedelta(hours=1))
    assert lifecycle.due_campaign_ids() == []
    assert lifecycle.begin(campaign.pk) is False  # not yet
    assert lifecycle.due_campaign_ids(now=timezone.now() + timedelta(hours=2)) == [campaign.pk]


def test_frozen_email_carries_utm_tags_and_the_web_version_link(campaign):
    campaign.utm_source, campaign.utm_medium = "newsletter", "email"
    campaign.save()
    start(campaign)
    assert "https://example.com/offers?utm_source=newsletter&amp;utm_medium=email" in campaign.frozen_html
    assert "/u/" not in campaign.frozen_html  # the unsubscribe link stays a merge field, untagged
    assert (
        "{unsubscribe_url}" in campaign.frozen_html
        and "utm_source" not in campaign.frozen_html.split("{unsubscribe_url}")[0][-200:]
    )
    assert "View in browser" in campaign.frozen_html or "view it in your browser" in campaign.frozen_html.lower()
