"""A Marketer watches a campaign send in headless Chromium: the progress bar advances as
deliveries are sent, then they pause it and resume it, and a real worker finishes it."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.management.commands.seed_demo import GROUP_PERMISSIONS
from campaigns.models import Campaign, Delivery
from campaigns.sending import claims, outcomes
from suppression import policy
from suppression.models import Channel, Source
from tests.factories import make_audience, make_campaign, make_page, start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PEOPLE = [(f"reader{number:02d}@example.com", f"Reader{number}") for number in range(20)]


@pytest.fixture
def browser_page(browser):
    return browser.new_page(viewport={"width": 1280, "height": 1000})


def marketer():
    group, _ = Group.objects.get_or_create(name="Marketers")
    group.permissions.set(Permission.objects.filter(codename__in=GROUP_PERMISSIONS["Marketers"]))
    user = get_user_model().objects.create_user("mia", "mia@example.com", "s3cret-pass")
    user.groups.add(group)
    return user


def mark_pending(campaign, count, status="sent", minutes_ago=0, reason=""):
    """Do by hand what a worker does: claim `count` pending deliveries and record them as sent
    (or failed), which also moves the campaign's counters that the progress bar reads."""
    claimed = claims.claim(campaign.pk, count)
    recorder = outcomes.Recorder(campaign.pk)
    for delivery in claimed:
        recorder.add(delivery, status, reason)
    recorder.flush()
    if minutes_ago:
        sent_at = timezone.now() - timedelta(minutes=minutes_ago)
        Delivery.objects.filter(pk__in=[d.pk for d in claimed], status="sent").update(sent_at=sent_at)


def test_marketer_watches_progress_pauses_and_resumes(
    live_server, browser_page, start_worker, smtp_inbox, sender_settings, tmp_path
):
    start_worker()
    marketer()
    policy.record_opt_out("reader19@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    campaign = make_campaign(make_page(), make_audience("Readers", PEOPLE), name="Spring courses")
    start(campaign)  # sending, but no batch queued: the test sends by hand first

    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", "s3cret-pass")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/admin/campaign/inspect/{campaign.pk}/")
    bar = page.locator("[data-progress-bar]")
    expect(bar).to_have_attribute("aria-valuenow", "5")  # the suppressed address is handled
    expect(page.locator("[data-progress-text]")).to_have_text("1 of 20 handled (5%)")

    mark_pending(campaign, 5, minutes_ago=2)
    expect(bar).to_have_attribute("aria-valuenow", "30", timeout=10_000)
    mark_pending(campaign, 5)
    mark_pending(campaign, 1, status="failed", reason="550 5.1.1 mailbox unavailable")
    expect(bar).to_have_attribute("aria-valuenow", "60", timeout=10_000)
    expect(page.locator("[data-progress-text]")).to_have_text("12 of 20 handled (60%)")
    expect(page.locator('[data-count="sent"]')).to_have_text("10")
    page.reload()  # the chart and the retry link are drawn by the server
    assert page.locator("svg.campaign-chart rect").count() >= 3  # two minutes with sends, none between
    expect(page.get_by_role("link", name="Retry failed deliveries")).to_be_visible()
    page.screenshot(path=str(tmp_path / "campaign-report.png"), full_page=True)

    page.get_by_role("button", name="Pause sending").click()
    expect(page.get_by_role("button", name="Resume sending")).to_be_visible()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    expect(page.get_by_text("Paused: Paused by mia in the admin")).to_be_visible()

    page.get_by_role("button", name="Resume sending").click()
    # The worker sends the other 8; the page notices the campaign finished and reloads.
    expect(page.locator("[data-progress-text]")).to_have_text("20 of 20 handled (100%)", timeout=30_000)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert len(smtp_inbox.wait_for(8)) == 8
    assert page.get_by_role("button", name="Pause sending").count() == 0
