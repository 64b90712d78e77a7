"""The campaign admin as a Marketer uses it: listing, report, status endpoint, lifecycle
actions (with a real worker for send and resume), delivery log and empty states."""

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from campaigns.management.commands.seed_demo import GROUP_PERMISSIONS
from campaigns.models import Campaign, Delivery
from campaigns.sending import pipeline
from tests.campaigns.report_data import PEOPLE, seeded_campaign
from tests.factories import make_audience, make_campaign, make_page, start

pytestmark = pytest.mark.django_db


def make_user(username, group_name=None):
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "password")
    if group_name:
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.set(Permission.objects.filter(codename__in=GROUP_PERMISSIONS[group_name]))
        user.groups.add(group)
    return user


@pytest.fixture
def marketer(client):
    user = make_user("mia", "Marketers")
    client.force_login(user)
    return user


@pytest.fixture
def admin(client):
    user = make_user("ada", "Admins")
    client.force_login(user)
    return user


@pytest.fixture
def campaign(sender_settings):
    return seeded_campaign()


def url(name, campaign):
    return reverse(f"campaign:{name}", args=[campaign.pk])


def text(response):
    return response.content.decode()


def test_report_shows_counts_for_a_marketer(client, marketer, campaign):
    response = client.get(url("inspect", campaign))
    assert response.status_code == 200
    counts = response.context["results"]
    assert (counts.progress.sent, counts.progress.failed, counts.progress.suppressed, counts.audience) == (5, 2, 1, 10)
    page = text(response)
    assert 'data-count="sent">5<' in page and 'data-count="failed">2<' in page
    assert "Spam complaint: 1" in page
    assert "8 of 10 handled (80%)" in page and 'aria-valuenow="80"' in page
    assert "Retry failed deliveries" in page and url("retry_failed", campaign) in page
    assert "Opened" in page and "Clicked" in page  # the ESP reported opens, so they are shown
    assert "<svg" in page and "3 sent" in page  # the chart, with a bar's tooltip
    assert url("pause", campaign) in page and url("cancel", campaign) in page
    assert url("resume", campaign) not in page


def test_report_says_a_sending_campaign_waits_for_tomorrows_warmup_allowance(client, marketer, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(pause_reason=pipeline.WAITING_FOR_WARMUP)
    page = text(client.get(url("inspect", campaign)))
    assert "Waiting for tomorrow&#x27;s warm-up allowance." in page
    assert "Paused:" not in page


def test_status_endpoint_returns_progress_json(client, marketer, campaign):
    response = client.get(url("status", campaign))
    assert response.status_code == 200
    assert response.json() == {
        "status": "sending",
        "status_label": "Sending",
        "pause_reason": "",
        "total": 10,
        "pending": 2,
        "sent": 5,
        "failed": 2,
        "suppressed": 1,
        "done": 8,
        "percent": 80.0,
    }


def test_listing_offers_the_report_and_the_actions_each_status_allows(client, marketer, campaign):
    draft = make_campaign(make_page(title="Draft page"), make_audience("Later", PEOPLE[:2]), name="Draft one")
    response = client.get(reverse("campaign:index"))
    assert response.status_code == 200
    page = text(response)
    assert "Autumn offers" in page and "Draft one" in page
    assert url("inspect", campaign) in page and url("pause", campaign) in page
    assert url("send", draft) in page and url("schedule", draft) in page
    assert url("pause", draft) not in page and url("send", campaign) not in page


def test_empty_states(client, marketer, sender_settings):
    nobody = make_campaign(make_page(), make_audience("Nobody yet", []), name="Empty audience")
    page = text(client.get(url("inspect", nobody)))
    assert "have no contacts yet" in page and "Nobody yet" in page
    no_audience = Campaign.objects.create(name="No audience", page=make_page(title="Other"))
    assert "has no audience yet" in text(client.get(url("inspect", no_audience)))
    draft = make_campaign(make_page(title="Third"), make_audience("Four people", PEOPLE[:4]), name="Draft")
    page = text(client.get(url("inspect", draft)))
    assert "4 contacts in its audiences now" in page and "Not started" in page
    log = text(client.get(url("deliveries", draft)))
    assert "no deliveries yet" in log
    client.post(url("cancel", draft))
    assert "cancelled before it started; nobody was mailed" in text(client.get(url("inspect", draft)))

    started = start(make_campaign(make_page(title="Fourth"), make_audience("Two", PEOPLE[:2]), name="Clean"))
    page = text(client.get(url("inspect", started)))
    assert "Retry failed deliveries" not in page  # no failures, nothing to retry
    assert "Opened" not in page and "Clicked" not in page  # tracking off: no opens reported
    assert "Nothing has been sent yet." in page


def test_delivery_log_search_and_filters(client, admin, campaign):
    response = client.get(url("deliveries", campaign))
    assert response.status_code == 200
    assert len(response.context["object_list"]) == 10
    by_address = client.get(url("deliveries", campaign), {"q": "PERSON3@example.com"})
    assert [d.contact.email for d in by_address.context["object_list"]] == ["person3@example.com"]
    partial = client.get(url("deliveries", campaign), {"q": "person1"})
    assert {d.contact.email for d in partial.context["object_list"]} == {"person1@example.com"}
    failed = client.get(url("deliveries", campaign), {"status": "failed"})
    assert {d.contact.email for d in failed.context["object_list"]} == {"person5@example.com", "person6@example.com"}
    assert "550 mailbox unavailable" in text(failed)
    bounced = client.get(url("deliveries", campaign), {"event": "bounced"})
    assert [d.contact.email for d in bounced.context["object_list"]] == ["person0@example.com"]
    complaint = client.get(url("deliveries", campaign), {"reason": "complaint"})
    assert [d.contact.email for d in complaint.context["object_list"]] == ["person9@example.com"]
    results_only = client.get(url("deliveries_results", campaign), {"status": "sent"})
    assert results_only.status_code == 200 and len(results_only.context["object_list"]) == 5


def test_pause_then_cancel_from_the_report(client, marketer, campaign):
    confirm = client.get(url("pause", campaign))
    assert confirm.status_code == 200 and "Pause sending?" in text(confirm)
    response = client.post(url("pause", campaign))
    assert response.status_code == 302 and response.url == url("inspect", campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED and "mia" in campaign.pause_reason
    assert pipeline.send_next_batch(campaign.pk) == 0  # workers stop taking batches
    assert "Paused: Paused by mia in the admin" in text(client.get(url("inspect", campaign)))

    assert "Cancel this campaign for good?" in text(client.get(url("cancel", campaign)))
    client.post(url("cancel", campaign))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED
    assert Delivery.objects.filter(campaign=campaign, status="pending").count() == 2  # never sent


def test_an_action_the_status_does_not_allow_changes_nothing(client, marketer, campaign):
    response = client.post(url("resume", campaign), follow=True)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert any("not possible while" in str(m) for m in get_messages(response.wsgi_request))
    assert client.get(url("send", campaign)).status_code == 302  # no confirmation page either


def test_send_now_only_queues_work(client, marketer, sender_settings):
    draft = make_campaign(make_page(), make_audience("Everyone", PEOPLE))
    response = client.post(url("send", draft))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.SCHEDULED and draft.scheduled_at is not None
    assert not Delivery.objects.filter(campaign=draft).exists()  # no per-recipient work in the request


def test_schedule_in_a_chosen_time_zone(client, marketer, sender_settings):
    draft = make_campaign(make_page(), make_audience("Everyone", PEOPLE))
    form = client.get(url("schedule", draft))
    assert form.status_code == 200 and 'name="time_zone"' in text(form)
    response = client.post(url("schedule", draft), {"when": "2030-01-15 09:00", "time_zone": "Europe/Berlin"})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.SCHEDULED
    assert draft.scheduled_at == datetime(2030, 1, 15, 8, 0, tzinfo=ZoneInfo("UTC"))
    past = client.post(url("schedule", draft), {"when": "2020-01-15 09:00", "time_zone": "UTC"})
    assert past.status_code == 200 and "Choose a time in the future" in text(past)


def test_retry_failed_from_the_admin(client, marketer, campaign):
    assert "Retry the failed deliveries?" in text(client.get(url("retry_failed", campaign)))
    client.post(url("retry_failed", campaign))
    assert not Delivery.objects.filter(campaign=campaign, status="failed").exists()
    assert Delivery.objects.filter(campaign=campaign, status="pending").count() == 4


def test_staff_without_campaign_permissions_see_nothing(client, campaign):
    outsider = make_user("otto")
    outsider.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(outsider)
    for name in ("inspect", "status", "deliveries", "pause"):
        response = client.get(url(name, campaign))
        assert response.status_code in (302, 403), name
    client.post(url("pause", campaign))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING


def wait_for_status(campaign, status, worker, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign.refresh_from_db()
        if campaign.status == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"campaign stuck in {campaign.status}; worker log:\n{worker.output()[-3000:]}")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_send_now_and_resume_reach_a_real_worker(client, start_worker, smtp_inbox, sender_settings):
    worker = start_worker()
    client.force_login(make_user("mia", "Marketers"))
    first = make_campaign(make_page(), make_audience("Everyone", PEOPLE[:3]), name="Now")
    client.post(url("send", first))
    wait_for_status(first, Campaign.Status.SENT, worker)
    assert sorted(rcpts[0] for _, rcpts, _ in smtp_inbox.wait_for(3)) == [email for email, _ in PEOPLE[:3]]

    smtp_inbox.clear()
    second = start(make_campaign(make_page(title="Second"), make_audience("Later", PEOPLE[3:6]), name="Later"))
    client.post(url("pause", second))
    client.post(url("resume", second))  # resume queues batch chains again
    wait_for_status(second, Campaign.Status.SENT, worker)
    assert sorted(rcpts[0] for _, rcpts, _ in smtp_inbox.wait_for(3)) == [email for email, _ in PEOPLE[3:6]]
