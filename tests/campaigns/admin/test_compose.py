"""Composing a campaign on one page: the form's sections in order, the chooser of live email
pages and its thumbnail, the live count, the review after saving, scheduling to the minute
in the user's time zone, and editing a scheduled campaign taking it back to review."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from wagtail.models import Page
from wagtail.users.models import UserProfile

from campaigns.models import Campaign, Segment, SegmentRule
from campaigns.sending import lifecycle
from cms.models import EmailPage
from suppression import policy
from suppression.models import Channel, Source
from tests.campaigns.admin.test_campaigns import make_user
from tests.campaigns.report_data import PEOPLE
from tests.factories import make_audience, make_campaign, make_page, start

pytestmark = pytest.mark.django_db
SECTIONS = ("Name", "Email", "Who gets it", "Tracking (UTM)", "Review")


@pytest.fixture
def marketer(client):
    user = make_user("mia", "Marketers")
    client.force_login(user)
    return user


def text(response):
    return response.content.decode()


def draft_page(title="Draft only"):
    page = EmailPage(title=title, subject="Hi", body=[("heading", "Not yet")], live=False)
    Page.get_first_root_node().get_children().first().add_child(instance=page)
    return page


def test_the_form_reads_top_to_bottom_and_ends_with_the_review(client, marketer, sender_settings):
    make_audience("Customers", PEOPLE[:3])
    html = text(client.get(reverse("campaign:add")))
    headings = re.findall(r"data-panel-heading-text>([^<]+)<", html)
    assert [h for h in headings if h in SECTIONS] == list(SECTIONS)
    assert html.index("Choose an email") < html.index("data-campaign-reach") < html.index("Save the campaign to review")
    assert "Customers (3 contacts)" in html  # audiences with their sizes, as checkboxes
    assert 'type="checkbox" name="audiences"' in html
    assert "No segments yet" in html  # an empty list of segments says what to do
    assert "data-campaign-reach" in html and "Save and review" in html
    assert "Save the campaign to review it" in html


def test_create_lands_on_the_review_and_the_review_checks_and_offers_every_way_to_send(
    client, marketer, sender_settings
):
    policy.record_opt_out("person0@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    audience = make_audience("Customers", PEOPLE[:4])
    page = make_page()
    response = client.post(reverse("campaign:add"), {"name": "Spring", "page": page.pk, "audiences": [audience.pk]})
    campaign = Campaign.objects.get()
    assert response.url == reverse("campaign:edit", args=[campaign.pk]) + "#review"
    html = text(client.get(response.url))
    assert "goes to <strong>3</strong>\n       of 4 contacts" in html and "1 suppressed" in html
    assert "data-checklist-ok" in html and "Send now to 3" in html
    assert f'action="{reverse("campaign:send", args=[campaign.pk])}"' in html
    assert f'action="{reverse("campaign:schedule", args=[campaign.pk])}"' in html
    assert reverse("campaigns_test_send", args=[page.pk]) in html  # the test send reuses the page's own
    assert 'type="datetime-local" name="when" step="60"' in html
    assert 'form="campaign-schedule"' in html and "UTC" in html


def test_live_count_of_a_choice_of_audiences_and_segments(client, marketer):
    customers = make_audience("Customers", PEOPLE[:6])
    staff = make_audience("Staff", PEOPLE[4:8])
    policy.record_opt_out("person1@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    policy.record_opt_out("person7@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    segment = Segment.objects.create(name="Person 2")
    SegmentRule.objects.create(segment=segment, field="company", operator="is", value="Acme")

    def count(**query):
        return client.get(reverse("campaign:reach"), query).json()

    assert count(audiences=[customers.pk]) == {"targeted": 6, "reachable": 5, "suppressed": 1}
    assert count(audiences=[customers.pk, staff.pk]) == {"targeted": 8, "reachable": 6, "suppressed": 2}
    assert count(audiences=[customers.pk], excluded_audiences=[staff.pk]) == {
        "targeted": 4,
        "reachable": 3,
        "suppressed": 1,
    }
    assert count(segments=[segment.pk]) == {"targeted": 0, "reachable": 0, "suppressed": 0}
    assert count(audiences=["x", "1; drop"]) == {"targeted": 0, "reachable": 0, "suppressed": 0}  # hostile ids ignored


def test_the_email_chooser_offers_only_published_emails_and_shows_a_thumbnail(client, marketer, sender_settings):
    live = make_page(title="Published offers")
    draft_page("Draft only")
    chooser = text(client.get(reverse("email_chooser:choose")))
    assert "Published offers" in chooser and "Draft only" not in chooser
    thumbnail = client.get(reverse("campaign:email_thumbnail", args=[live.pk]))
    assert thumbnail.status_code == 200 and thumbnail["X-Frame-Options"] == "SAMEORIGIN"
    assert "Hello there!" in text(thumbnail) and "1 Example Street" in text(thumbnail)
    assert client.get(reverse("campaign:email_thumbnail", args=[draft_page("Another").pk])).status_code == 404
    campaign = make_campaign(live, make_audience("A", PEOPLE[:1]))
    form = text(client.get(reverse("campaign:edit", args=[campaign.pk])))
    assert reverse("campaign:email_thumbnail", args=[live.pk]) in form  # the chosen email's thumbnail


def test_editing_a_scheduled_campaign_takes_it_back_to_review(client, marketer, sender_settings):
    audience = make_audience("Customers", PEOPLE[:2])
    campaign = make_campaign(make_page(), audience, name="Autumn")
    lifecycle.schedule(campaign, timezone.now() + timedelta(days=1))
    url = reverse("campaign:edit", args=[campaign.pk])
    same = {"name": "Autumn", "page": campaign.page_id, "audiences": [audience.pk]}
    client.post(url, same)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED  # nothing changed: still scheduled
    response = client.post(url, same | {"name": "Autumn, revised"}, follow=True)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.name) == (Campaign.Status.DRAFT, "Autumn, revised")
    assert "is back in review" in text(response) and "Schedule" in text(response)


def test_a_campaign_that_started_cannot_be_edited(client, marketer, sender_settings):
    campaign = start(make_campaign(make_page(), make_audience("Customers", PEOPLE[:2])))
    response = client.get(reverse("campaign:edit", args=[campaign.pk]))
    assert response.status_code == 302 and response.url == reverse("campaign:inspect", args=[campaign.pk])
    client.post(reverse("campaign:edit", args=[campaign.pk]), {"name": "Renamed", "page": campaign.page_id})
    campaign.refresh_from_db()
    assert campaign.name == "Campaign"


def test_schedule_to_the_minute_in_the_users_time_zone(client, marketer, sender_settings):
    UserProfile.get_for_user(marketer).__class__.objects.filter(user=marketer).update(current_time_zone="Europe/Berlin")
    campaign = make_campaign(make_page(), make_audience("Customers", PEOPLE[:2]))
    review = text(client.get(reverse("campaign:edit", args=[campaign.pk])))
    assert 'data-time-zone="Europe/Berlin"' in review
    shown = re.search(r'name="when" step="60" form="campaign-schedule" required\s+value="([^"]+)"', review).group(1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00", shown)  # a suggestion to the minute, in Berlin time
    client.post(
        reverse("campaign:schedule", args=[campaign.pk]), {"when": "2030-01-15T09:07", "time_zone": "Europe/Berlin"}
    )
    campaign.refresh_from_db()
    assert campaign.scheduled_at == datetime(2030, 1, 15, 8, 7, tzinfo=ZoneInfo("UTC"))
    review = text(client.get(reverse("campaign:edit", args=[campaign.pk])))
    assert "2030-01-15 08:07</strong> UTC" in review and 'value="2030-01-15T09:07"' in review


def test_subject_variants_are_optional_and_saved_as_a_b_c(client, marketer, sender_settings):
    audience = make_audience("Customers", PEOPLE[:3])
    page = make_page()
    html = text(client.get(reverse("campaign:add")))
    assert "Subject test (A/B)" in html and 'name="subject_d"' in html and 'name="test_share"' in html
    base = {"name": "Spring", "page": page.pk, "audiences": [audience.pk]}
    response = client.post(reverse("campaign:add"), base | {"subject_a": "Only one"})
    assert "An A/B test needs at least two subjects" in text(response)
    assert not Campaign.objects.exists()
    fields = {"subject_a": "Spring deals", "subject_b": "", "subject_c": "{first_name}, spring", "test_share": "25"}
    client.post(reverse("campaign:add"), base | fields | {"test_wait": "2:00:00", "test_metric": "clicks"})
    campaign = Campaign.objects.get()
    assert list(campaign.variants.values_list("label", "subject")) == [
        ("A", "Spring deals"),
        ("B", "{first_name}, spring"),
    ]
    assert (campaign.test_share, campaign.test_wait, campaign.test_metric) == (25, timedelta(hours=2), "clicks")
    edit = text(client.get(reverse("campaign:edit", args=[campaign.pk])))
    assert 'value="{first_name}, spring"' in edit
    assert "Subject test: 25% get one of" in edit and "best click rate" in edit
    client.post(reverse("campaign:edit", args=[campaign.pk]), base)  # subjects emptied: no test
    assert not campaign.variants.exists()
