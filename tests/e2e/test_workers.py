"""Real worker processes: two workers at once never send one delivery twice. (Kills and
outages are in tests/faults.)"""

import collections
import time

import pytest
from django.core.management import call_command

from campaigns.models import Campaign
from tests.factories import make_big_audience, make_campaign, make_page

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def campaign_status(campaign):
    campaign.refresh_from_db()
    return campaign.status


def test_two_workers_never_send_the_same_delivery(start_worker, smtp_inbox, sender_settings):
    total = 3_000
    campaign = make_campaign(make_page(), make_big_audience("Everyone", total))
    start_worker("promotional", MAILROOM_SEND_CHAINS="4")
    start_worker("promotional", MAILROOM_SEND_CHAINS="4")
    call_command("send_campaign", str(campaign.pk))
    wait_for(lambda: campaign_status(campaign) == Campaign.Status.SENT, 300, "the campaign to finish")
    counts = collections.Counter(smtp_inbox.recipients())
    assert len(counts) == total
    assert max(counts.values()) == 1
