"""Sending over real SMTP: retries, permanent failures, auto-pause, pause mid-send."""

import email
import email.policy

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Delivery
from campaigns.sending import lifecycle, pipeline
from suppression.models import Channel, Suppression
from tests.factories import make_audience, make_campaign, make_page, send_until_idle, start, started_campaign

PEOPLE = [("ada@example.com", "Ada"), ("grace@example.com", "Grace"), ("linus@example.com", "Linus")]


@pytest.fixture
def campaign(db, sender_settings):
    return started_campaign(PEOPLE)


def expire_leases(campaign):
    Delivery.objects.filter(campaign=campaign, status=Delivery.Status.CLAIMED).update(claimed_until=timezone.now())


def delivery(campaign, address):
    return Delivery.objects.get(campaign=campaign, contact__email=address)


@pytest.mark.django_db
def test_every_recipient_gets_a_strict_rfc5322_message_over_smtp(campaign, smtp_mailers):
    send_until_idle(campaign)
    assert sorted(smtp_mailers.recipients()) == sorted(address for address, _ in PEOPLE)
    for _, rcpts, raw in smtp_mailers.messages:
        message = email.message_from_bytes(raw, policy=email.policy.strict)
        assert message["To"] == rcpts[0]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["X-Mailroom-Delivery"] == str(delivery(campaign, rcpts[0]).pk)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.sent_count, campaign.audience_count) == (Campaign.Status.SENT, 3, 3)


@pytest.mark.django_db
def test_transient_smtp_error_is_retried_after_backoff(campaign, smtp_mailers):
    smtp_mailers.rcpt_replies["grace@example.com"] = ["451 4.3.0 Try again later"]
    send_until_idle(campaign)
    grace = delivery(campaign, "grace@example.com")
    assert grace.status == Delivery.Status.CLAIMED and grace.claimed_until > timezone.now()
    assert sorted(smtp_mailers.recipients()) == ["ada@example.com", "linus@example.com"]
    expire_leases(campaign)  # the backoff has passed
    send_until_idle(campaign)
    grace.refresh_from_db()
    assert (grace.status, grace.attempts) == (Delivery.Status.SENT, 2)
    assert sorted(smtp_mailers.recipients()).count("grace@example.com") == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


@pytest.mark.django_db
def test_gives_up_after_max_attempts_with_the_reason(campaign, smtp_mailers, settings):
    settings.MAILROOM_MAX_ATTEMPTS = 2
    smtp_mailers.rcpt_replies["grace@example.com"] = ["451 4.3.0 Try again later"] * 2
    send_until_idle(campaign)
    expire_leases(campaign)
    send_until_idle(campaign)
    grace = delivery(campaign, "grace@example.com")
    assert grace.status == Delivery.Status.FAILED
    assert grace.reason.startswith("gave up after 2 attempts") and "Try again later" in grace.reason


@pytest.mark.django_db
def test_mailbox_error_fails_and_suppresses_as_undeliverable(campaign, smtp_mailers):
    smtp_mailers.rcpt_replies["grace@example.com"] = ["550 5.1.1 No such user"]
    smtp_mailers.rcpt_replies["linus@example.com"] = ["554 5.7.1 Message refused by policy"]
    send_until_idle(campaign)
    grace, linus = delivery(campaign, "grace@example.com"), delivery(campaign, "linus@example.com")
    assert grace.status == linus.status == Delivery.Status.FAILED
    assert "No such user" in grace.reason and "refused by policy" in linus.reason
    assert list(Suppression.objects.values_list("address", "channel")) == [("grace@example.com", Channel.UNDELIVERABLE)]
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.failed_count) == (1, 2)


@pytest.mark.django_db
def test_campaign_pauses_itself_when_too_many_fail(campaign, smtp_mailers, settings):
    settings.MAILROOM_CHUNK_SIZE = 1
    settings.MAILROOM_PAUSE_MIN_SAMPLE = 2
    settings.MAILROOM_PAUSE_FAILURE_RATE = 0.4
    for address, _ in PEOPLE:
        smtp_mailers.rcpt_replies[address] = ["554 5.7.1 Blocked"]
    send_until_idle(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert "too many failures" in campaign.pause_reason and "Blocked" in campaign.pause_reason
    assert campaign.failed_count == 2
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_pause_mid_batch_stops_after_the_chunk_and_resume_finishes(sender_settings, smtp_mailers, settings):
    settings.MAILROOM_CHUNK_SIZE = 1
    campaign = make_campaign(make_page(), make_audience("Customers", PEOPLE))
    start(campaign)
    smtp_mailers.on_message = lambda: lifecycle.pause(campaign.pk, reason="paused by a marketer")
    send_until_idle(campaign)
    assert len(smtp_mailers.messages) == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).count() == 2
    smtp_mailers.on_message = None
    assert lifecycle.resume(campaign.pk)
    send_until_idle(campaign)
    assert sorted(smtp_mailers.recipients()) == sorted(address for address, _ in PEOPLE)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


@pytest.mark.django_db
def test_cancel_stops_sending_for_good(campaign, smtp_mailers):
    assert lifecycle.cancel(campaign.pk)
    assert pipeline.send_next_batch(campaign.pk) == 0
    assert smtp_mailers.messages == []
    assert not lifecycle.resume(campaign.pk)
