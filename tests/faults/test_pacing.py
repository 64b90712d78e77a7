"""Pacing per mailbox provider, measured at the SMTP server with two worker processes: the
Google group held to its rate while the others go at full speed, and a provider's SMTP
deferrals slowing that provider only; and a campaign stopping at the day's warm-up
allowance (the day boundary itself: tests/campaigns/sending/throttles/test_pacing.py)."""

import collections
import json
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from campaigns.models import Campaign, Delivery, SendChain
from campaigns.sending.pipeline import WAITING_FOR_WARMUP
from tests.factories import make_big_audience, make_campaign, make_page
from tests.services import Inbox, SmtpServer, smtp_mailer_env

from .conftest import status, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


class TimedInbox(Inbox):
    """An Inbox that notes when each recipient arrived."""

    def __init__(self):
        super().__init__(keep_content=False)
        self.arrivals = []  # (monotonic seconds, recipient)

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        self.arrivals.append((time.monotonic(), envelope.rcpt_tos[0]))
        return answer


@pytest.fixture
def timed_sink(stack, redis_url):
    client = redis.Redis.from_url(redis_url)
    for pattern in ("mailroom:rate:domain:*", "mailroom:booked:domain:*", "mailroom:halved:domain:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    server = SmtpServer(TimedInbox()).start()
    stack.env |= smtp_mailer_env(server.port)
    yield server.inbox
    server.stop()


def mixed_campaign(counts):
    """A campaign, scheduled now, to counts[domain] people at each domain."""
    audiences = [make_big_audience(domain, count, domain) for domain, count in counts.items()]
    campaign = make_campaign(make_page(title="Mixed"), *audiences)
    from campaigns.sending import lifecycle

    lifecycle.schedule(campaign)
    return campaign


def rate_of(arrivals, domain, skip_first=1.0):
    """(messages/s from the domain's first arrival after `skip_first` s to its last, the most
    in any one second after that, the span in seconds)."""
    times = sorted(at for at, address in arrivals if address.endswith(f"@{domain}"))
    start = times[0] + skip_first
    steady = [at for at in times if at >= start]
    busiest = max(sum(1 for other in steady if at <= other < at + 1) for at in steady)
    span = times[-1] - times[0]
    return (len(steady) - 1) / (steady[-1] - steady[0]), busiest, span


def test_google_is_held_to_its_rate_while_the_others_go_at_full_speed(stack, timed_sink):
    rate, gmail, others = 10, 150, 1000
    stack.env |= {"MAILROOM_DOMAIN_RATES": json.dumps({"google": rate})}
    campaign = mixed_campaign({"gmail.com": gmail, "example.org": others})
    stack.workers(2)
    stack.beat()
    wait_for(lambda: status(campaign) == Campaign.Status.SENT, 120, "the campaign to be sent")
    arrivals = list(timed_sink.arrivals)
    google_rate, google_busiest, google_span = rate_of(arrivals, "gmail.com")
    other_rate, _, other_span = rate_of(arrivals, "example.org", skip_first=0)
    counts = collections.Counter(address for _, address in arrivals)
    print(
        f"\nGoogle limited to {rate}/s: {google_rate:.1f}/s over {google_span:.1f} s (busiest second "
        f"{google_busiest}); others {other_rate:.0f}/s, done in {other_span:.1f} s"
    )
    assert len(counts) == gmail + others and max(counts.values()) == 1
    assert google_rate <= rate * 1.15
    assert google_busiest <= 2 * rate  # a full bucket (one second's worth) plus a second of refill
    assert google_span >= (gmail - rate) / rate * 0.9  # all but the first second's burst at the rate
    assert other_rate >= rate * 5  # not held to Google's pace
    assert other_span < google_span  # done first, though five times as many


def test_a_providers_deferrals_slow_that_provider_only(stack, timed_sink):
    rate, each = 20, 200
    stack.env |= {"MAILROOM_DOMAIN_RATES": json.dumps({"google": rate, "yahoo": rate})}
    for n in range(5):  # Gmail defers the first few: "try again later"
        timed_sink.rcpt_replies[f"person{n:05d}@gmail.com"] = ["451 4.7.28 Our system has detected an unusual rate"]
    campaign = mixed_campaign({"gmail.com": each, "yahoo.com": each})
    stack.workers(2)
    stack.beat()
    wait_for(lambda: status(campaign) == Campaign.Status.SENT, 120, "the campaign to be sent")
    arrivals = list(timed_sink.arrivals)
    google_rate, _, google_span = rate_of(arrivals, "gmail.com", skip_first=2)
    yahoo_rate, _, yahoo_span = rate_of(arrivals, "yahoo.com", skip_first=2)
    print(
        f"\nGmail deferred 5 recipients: Google {google_rate:.1f}/s over {google_span:.1f} s, "
        f"Yahoo {yahoo_rate:.1f}/s over {yahoo_span:.1f} s (both limited to {rate}/s)"
    )
    assert google_rate <= rate / 2 * 1.2  # halved (once more for each further second of deferrals)
    assert yahoo_rate >= rate * 0.8  # untouched
    counts = collections.Counter(address for _, address in arrivals)
    assert len(counts) == 2 * each and max(counts.values()) == 1  # the deferred five too, once
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.failed_count) == (2 * each, 0)


def test_a_campaign_stops_at_the_days_warmup_allowance_and_waits_for_tomorrow(stack, timed_sink, redis_url):
    today = timezone.localdate()
    client = redis.Redis.from_url(redis_url)
    client.delete(f"mailroom:quota:warmup:promotional:{today.isoformat()}")
    allowance, total = 300, 500
    stack.env |= {"MAILROOM_WARMUP_SCHEDULE": f"{allowance},1000", "MAILROOM_WARMUP_START": today.isoformat()}
    campaign = mixed_campaign({"example.org": total})
    stack.workers(2)
    stack.beat()
    wait_for(lambda: len(timed_sink.arrivals) >= allowance, 60, "the day's allowance to be sent")
    wait_for(
        lambda: Campaign.objects.filter(pk=campaign.pk, pause_reason=WAITING_FOR_WARMUP).exists(), 30, "it to wait"
    )
    time.sleep(3)  # beat runs every second: nothing more goes today
    assert len(timed_sink.arrivals) == allowance
    assert status(campaign) == Campaign.Status.SENDING
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).count() == total - allowance
    # Each chain met the limit and waits for tomorrow: beat leaves it until then.
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    assert not SendChain.objects.filter(campaign=campaign, lease_until__lt=midnight).exists()
    client.delete(f"mailroom:quota:warmup:promotional:{today.isoformat()}")
