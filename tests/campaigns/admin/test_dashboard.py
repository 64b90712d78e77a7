"""The dashboard: Mailroom's counts instead of Wagtail's, the campaigns panel in every state
(first steps, sending with progress, scheduled next, last sent with rates) and no Gravatar."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.sending import lifecycle
from suppression import policy
from suppression.models import Channel, Source
from tests.campaigns.admin.test_campaigns import make_user
from tests.campaigns.report_data import PEOPLE, seeded_campaign
from tests.factories import make_audience, make_campaign, make_page

pytestmark = pytest.mark.django_db


def dashboard(client, user):
    client.force_login(user)
    return client.get(reverse("wagtailadmin_home")).content.decode()


def squeeze(html):
    return " ".join(html.split())


def test_a_new_installation_says_what_to_do_first(client):
    html = squeeze(dashboard(client, make_user("ann", "Admins")))
    assert "First steps" in html
    steps = [
        "Import your customer list",
        "Compose an email and publish it",
        "Create a campaign",
        "Send it, or schedule it",
    ]
    assert [html.index(step) for step in steps] == sorted(html.index(step) for step in steps)
    assert f'href="{reverse("imports:upload")}"' in html
    assert reverse("wagtailadmin_pages:add", args=("cms", "emailpage", 2)) in html
    assert "Nothing is sending right now." in html and "No campaign has been sent yet." in html
    assert "0 Contacts" in html and "Pages" not in html.split("w-summary")[1][:2000]  # our counts, not Wagtail's
    assert "gravatar" not in html and "default-user-avatar" in html  # no third party, no broken image
    assert f'href="{reverse("campaign:add")}"' in html and "New campaign" in html


def test_marketers_are_told_who_imports(client):
    html = squeeze(dashboard(client, make_user("mia", "Marketers")))
    assert "an Admin imports it" in html and reverse("imports:upload") not in html


def test_campaigns_in_every_state(client, sender_settings):
    policy.record_opt_out("person8@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    seeded_campaign("Autumn offers")  # 10 people: 5 sent, 2 failed, 2 suppressed at the start
    scheduled = make_campaign(make_page(title="Later"), make_audience("Later people", PEOPLE[:2]), name="Spring")
    lifecycle.schedule(scheduled, timezone.now() + timedelta(hours=3))
    sent = seeded_campaign("Summer offers")
    Campaign.objects.filter(pk=sent.pk).update(status=Campaign.Status.SENT, finished_at=timezone.now())
    html = squeeze(dashboard(client, make_user("mia", "Marketers")))
    assert "First steps" not in html  # a campaign was sent
    # person9 complained, person8 opted out, person2 and person4 used the unsubscribe link.
    assert "10 Contacts" in html and "6 Deliverable" in html and "4 Suppressed" in html
    sending_section = html.split('id="mr-sending"')[1].split('id="mr-scheduled"')[0]
    assert (
        "Autumn offers" in sending_section and 'aria-valuenow="90"' in sending_section and "9 of 10" in sending_section
    )
    scheduled_section = html.split('id="mr-scheduled"')[1].split('id="mr-recent"')[0]
    assert "Spring" in scheduled_section and "from now" in scheduled_section
    recent = html.split("data-recent-campaigns")[1]
    # Summer: 5 sent; the ESP reported 1 bounce, 1 complaint, 2 unsubscribes, 2 opens, 1 click.
    row = recent.split("Summer offers")[1].split("</tr>")[0]
    assert "<td>5</td> <td>40.0%</td> <td>20.0%</td> <td>20.0%</td> <td>40.0%</td> <td>20.0%</td>" in row
