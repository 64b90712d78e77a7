"""Batch chains and leases in process: one task per chain goes on, beat finds the chains
whose lease passed (whoever else is busy), outages back off, and the keeper renews the
leases of a live worker's rows and chain."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Delivery, SendChain
from campaigns.sending import chains, claims, lifecycle
from tests.factories import started_campaign

PEOPLE = [("ada@example.com", "Ada"), ("grace@example.com", "Grace"), ("linus@example.com", "Linus")]


@pytest.fixture
def campaign(db, sender_settings, settings):
    settings.MAILROOM_SEND_CHAINS = 2
    return started_campaign(PEOPLE)


def later(settings, seconds=1):
    return timezone.now() + timedelta(seconds=settings.MAILROOM_CLAIM_LEASE_SECONDS + seconds)


@pytest.mark.django_db
def test_a_chain_queued_twice_is_worked_by_one_task(campaign):
    assert chains.open_chains(campaign.pk) == [(0, 0), (1, 0)]
    assert chains.take(campaign.pk, 0, 0) is True
    assert chains.take(campaign.pk, 0, 0) is False  # its twin, queued by beat, stops
    assert chains.take(campaign.pk, 0, 1) is True  # the chain's next task goes on
    assert chains.take(campaign.pk, 1, 5) is False  # a task Redis hands out again, runs later


@pytest.mark.django_db
def test_beat_queues_a_chain_once_its_lease_passed_whoever_else_is_busy(campaign, settings):
    chains.open_chains(campaign.pk)
    assert chains.take(campaign.pk, 0, 0)  # chain 0 works; chain 1's worker died before it started
    chains.pass_on(campaign.pk, 0)
    assert chains.due() == []
    due = chains.due(now=later(settings))
    assert sorted(due) == [(campaign.pk, 0, 1), (campaign.pk, 1, 0)]
    assert all(chains.take(*chain) for chain in due)
    assert chains.due() == []  # each was given a lease to start in


@pytest.mark.django_db
def test_a_sending_campaign_without_chains_gets_them_from_beat(campaign):
    SendChain.objects.filter(campaign=campaign).delete()  # its start was cut short before queueing
    assert sorted(chains.due()) == [(campaign.pk, 0, 0), (campaign.pk, 1, 0)]


@pytest.mark.django_db
def test_chains_of_a_paused_campaign_are_left_alone(campaign, settings):
    chains.open_chains(campaign.pk)
    lifecycle.pause(campaign.pk)
    assert chains.due(now=later(settings)) == []


@pytest.mark.django_db
def test_an_outage_backs_off_doubling_up_to_a_lease_or_as_the_backend_asks(campaign, settings):
    settings.MAILROOM_CLAIM_LEASE_SECONDS = 5
    chains.open_chains(campaign.pk)
    waits = [chains.back_off(campaign.pk, 0) for _ in range(5)]
    assert waits == [1, 2, 4, 5, 5]
    assert chains.back_off(campaign.pk, 0, retry_after=42) == 42
    lease = SendChain.objects.get(campaign=campaign, slot=0).lease_until
    assert timedelta(seconds=40) < lease - timezone.now() <= timedelta(seconds=42)
    chains.pass_on(campaign.pk, 0)  # a batch went through
    assert chains.back_off(campaign.pk, 0) == 1


@pytest.mark.django_db
def test_an_outage_is_timed_from_its_first_back_off_until_a_batch_goes_through(campaign, settings):
    settings.MAILROOM_GIVE_UP_AFTER_SECONDS = 60
    chains.open_chains(campaign.pk)
    chains.back_off(campaign.pk, 0)
    began = SendChain.objects.get(campaign=campaign, slot=0).unavailable_since
    chains.back_off(campaign.pk, 0)
    assert SendChain.objects.get(campaign=campaign, slot=0).unavailable_since == began
    assert not chains.outage_outlasted(campaign.pk, 0)
    SendChain.objects.filter(campaign=campaign, slot=0).update(unavailable_since=began - timedelta(seconds=61))
    assert chains.outage_outlasted(campaign.pk, 0)
    assert not chains.outage_outlasted(campaign.pk, 1)  # the other chain met no outage
    chains.pass_on(campaign.pk, 0)
    assert not chains.outage_outlasted(campaign.pk, 0)
    chains.back_off(campaign.pk, 0)
    SendChain.objects.filter(campaign=campaign, slot=0).update(unavailable_since=began - timedelta(seconds=61))
    chains.open_chains(campaign.pk)  # resuming starts the clock again
    assert not chains.outage_outlasted(campaign.pk, 0)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_keeper_renews_a_live_workers_rows_and_chain_but_not_what_it_let_go(
    postgres, campaign, settings, monkeypatch
):
    settings.MAILROOM_CLAIM_LEASE_SECONDS = 1
    chains.open_chains(campaign.pk)
    assert chains.take(campaign.pk, 0, 0)
    claimed = claims.claim(campaign.pk, 3)
    held = claimed[:2]  # the third was written, or handed back
    with chains.Keeper(campaign.pk, slot=0) as keeper:
        keeper.hold(held)
        time.sleep(2.5)  # more than two leases: only renewals keep them
        assert claims.reclaim_stale(campaign.pk) == 1  # the row it no longer holds
        assert all(d.claimed_until > timezone.now() for d in Delivery.objects.filter(pk__in=[d.pk for d in held]))
        assert SendChain.objects.get(campaign=campaign, slot=0).lease_until > timezone.now()
        monkeypatch.setattr(chains, "HUNG_AFTER", 0.5)  # the hand-off stops moving: renewals stop
        time.sleep(2.5)
        assert claims.reclaim_stale(campaign.pk) == 2
