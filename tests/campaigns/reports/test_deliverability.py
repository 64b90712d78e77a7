"""The deliverability guards: a real worker sends a campaign through anymail's real Postmark
backend to the stand-in, which then posts Postmark's own complaint and bounce webhooks to the
webhook URL (with its secret) mid-campaign; the campaign pauses at the limit, not one event
before, and stays paused until someone resumes it. Also: the rates on the report."""

import json
import time

import pytest
from django.contrib.auth import get_user_model

from campaigns import tasks
from campaigns.models import Campaign, Delivery, DeliveryEvent, SendChain
from campaigns.reports import deliverability, stats
from campaigns.sending import lifecycle
from suppression import policy
from suppression.models import Channel, Source
from tests.campaigns.report_data import seeded_campaign
from tests.factories import make_audience, make_campaign, make_page, send_until_idle, start, started_campaign

SECRET = "hook:secret"
WEBHOOK = "/webhooks/anymail/postmark/tracking/"
LIMIT = 0.25  # a high limit and a small sample, so a test audience of 40 can pass it
GUARD_SETTINGS = {
    "MAILROOM_PAUSE_GUARD_MIN_SAMPLE": 10,
    "MAILROOM_PAUSE_COMPLAINT_RATE": LIMIT,
    "MAILROOM_PAUSE_BOUNCE_RATE": LIMIT,
}
PEOPLE = [(f"reader{number:02d}@example.com", f"Reader{number}") for number in range(40)]


def wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def status(campaign):
    campaign.refresh_from_db()
    return campaign.status


@pytest.fixture
def guarded(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    for name, value in GUARD_SETTINGS.items():
        setattr(settings, name, value)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # Wagtail's site survives for the next test
@pytest.mark.parametrize(("record_type", "reason"), [("SpamComplaint", "spam complaints"), ("Bounce", "hard bounces")])
def test_a_sending_campaign_pauses_at_the_limit_not_one_event_before(
    record_type, reason, guarded, settings, live_server, start_worker, postmark_server, sender_settings
):
    settings.MAILROOM_SEND_CHAINS = 1  # this process queues the chains: one, as the worker is told
    postmark_server.reset()
    options = {"api_url": postmark_server.api_url, "server_token": "stand-in-token"}
    start_worker(
        queues="promotional",
        concurrency=1,
        MAILROOM_PROMOTIONAL_BACKEND="anymail.backends.postmark.EmailBackend",
        MAILROOM_PROMOTIONAL_OPTIONS=json.dumps(options),
        MAILROOM_SEND_CHAINS="1",
        MAILROOM_BATCH_SIZE="2",
        MAILROOM_CHUNK_SIZE="2",
        MAILROOM_PROMOTIONAL_RATE="10",  # 40 recipients take about 4 s
        **{name: str(value) for name, value in GUARD_SETTINGS.items()},
    )
    campaign = make_campaign(make_page(), make_audience("Readers", PEOPLE))
    start(campaign)
    tasks.queue_chains(campaign.pk)

    # Mid-campaign: the ESP goes down after a dozen, so the sent count holds still while
    # its webhooks arrive (the chain backs off, and no beat queues it again).
    wait_for(lambda: postmark_server.count() >= 12, "a dozen messages to be sent")
    postmark_server.outage({"status": 503, "seconds": 120})
    wait_for(lambda: SendChain.objects.get(campaign=campaign).backoffs > 0, "the chain to back off")
    campaign.refresh_from_db()
    sent = campaign.sent_count
    assert 12 <= sent < len(PEOPLE) and status(campaign) == Campaign.Status.SENDING
    pausing_at = int(LIMIT * sent) + 1  # the first count whose share of the sent passes the limit
    received = postmark_server.recipients()

    url = live_server.url + WEBHOOK
    for address in received[: pausing_at - 1]:
        assert postmark_server.report(record_type, address, url, SECRET) == 200
    assert status(campaign) == Campaign.Status.SENDING  # one below the limit: still sending
    assert postmark_server.report(record_type, received[pausing_at - 1], url, SECRET) == 200
    assert status(campaign) == Campaign.Status.PAUSED
    assert campaign.pause_reason.startswith(f"Paused automatically: {reason} at ")
    kind = DeliveryEvent.Kind.COMPLAINED if record_type == "SpamComplaint" else DeliveryEvent.Kind.BOUNCED
    assert DeliveryEvent.objects.filter(campaign=campaign, kind=kind).count() == pausing_at

    # The ESP is back and the chain is queued again: nothing more goes out while paused.
    postmark_server.reset()
    tasks.queue_chains(campaign.pk)
    time.sleep(2)
    assert postmark_server.recipients() == [] and status(campaign) == Campaign.Status.PAUSED, received
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).count() == len(PEOPLE) - sent

    # Resuming is a deliberate click, and clears the reason; the rest is sent.
    tasks.resume_campaign.delay(campaign.pk)
    wait_for(lambda: status(campaign) == Campaign.Status.SENT, "the resumed campaign to finish")
    assert campaign.pause_reason == "" and postmark_server.count() == len(PEOPLE) - sent


def test_the_guard_waits_for_the_minimum_sample_and_passes_only_above_the_limit(settings):
    settings.MAILROOM_PAUSE_GUARD_MIN_SAMPLE = 1000  # the limits are the defaults: 0.1% and 2%
    breach, Rates = deliverability.breach, deliverability.Rates
    assert breach(Rates(sent=999, complained=500, hard_bounced=0)) == ""
    assert breach(Rates(sent=999, complained=0, hard_bounced=500)) == ""
    assert breach(Rates(sent=1000, complained=1, hard_bounced=0)) == ""  # 0.1% is the limit, not above it
    assert "spam complaints at 0.20% of 1000 delivered" in breach(Rates(sent=1000, complained=2, hard_bounced=0))
    assert breach(Rates(sent=1000, complained=0, hard_bounced=20)) == ""
    assert "hard bounces at 2.10% of 1000 sent" in breach(Rates(sent=1000, complained=0, hard_bounced=21))
    # Hard bounces are not delivered: 1,000 sent with 21 bounces is 979 delivered, below the sample.
    assert "hard bounces" in breach(Rates(sent=1000, complained=900, hard_bounced=21))


def test_rates_stand_against_the_providers_limits():
    ok = deliverability.Rates(sent=10_000, complained=9, hard_bounced=100)
    assert (ok.complaint_standing, ok.bounce_standing, ok.bounce_percent) == ("ok", "ok", "1.00%")
    assert deliverability.Rates(sent=1000, complained=1, hard_bounced=0).complaint_standing == "above recommended"
    worse = deliverability.Rates(sent=1000, complained=3, hard_bounced=20)
    assert (worse.complaint_standing, worse.bounce_standing) == ("above required", "above limit")


@pytest.mark.django_db
def test_the_report_shows_complaint_and_bounce_rates_against_the_limits(client, sender_settings):
    campaign = seeded_campaign()  # 5 sent: the ESP reported one complaint and one bounce
    policy.record_opt_out(  # what the ledger records for that bounce: a hard one
        "person0@example.com", Channel.UNDELIVERABLE, Source.BOUNCE, actor="Postmark", campaign_id=campaign.pk
    )
    results = stats.results(campaign)
    assert (results.rates.sent, results.rates.complained, results.rates.hard_bounced) == (5, 1, 1)
    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(admin)
    page = client.get(f"/admin/campaign/inspect/{campaign.pk}/").content.decode()
    assert '<strong data-rate="complaints">25.00%</strong>' in page  # 1 of 4 delivered
    assert '<strong data-rate="bounces">20.00%</strong>' in page  # 1 of 5 sent
    assert "below 0.10% recommended, below 0.30% required" in page
    assert "Keep below 2.00%" in page
    assert 'data-standing="complaints">Above what they require.' in page


@pytest.mark.django_db
def test_mailbox_errors_at_hand_off_count_as_hard_bounces_and_pause_too(
    guarded, settings, postmark_mailers, sender_settings
):
    settings.MAILROOM_CHUNK_SIZE = 2
    ok = [(f"ok{number:02d}@example.com", "Ok") for number in range(13)]
    inactive = [(f"inactive{number}@example.com", "In") for number in range(4)]  # the stand-in answers 406
    campaign = started_campaign(ok[:10] + inactive + ok[10:])
    send_until_idle(campaign)
    campaign.refresh_from_db()
    # 10 sent, then 2 inactive (2 of 10: at the limit), then 2 more (4 of 10: above it).
    assert (campaign.status, campaign.sent_count, campaign.failed_count) == (Campaign.Status.PAUSED, 10, 4)
    assert campaign.pause_reason.startswith("Paused automatically: hard bounces at 40.00% of 10 sent")
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).count() == 3


@pytest.mark.django_db
def test_the_listing_says_why_a_campaign_paused(client, sender_settings):
    campaign = seeded_campaign()
    lifecycle.pause(campaign.pk, reason="Paused automatically: spam complaints at 0.50% of 1000 delivered")
    client.force_login(get_user_model().objects.create_superuser("admin", "admin@example.com", "pw"))
    listing = client.get("/admin/campaign/").content.decode()
    assert "Paused because" in listing
    assert "Paused automatically: spam complaints at 0.50% of 1000 delivered" in listing
