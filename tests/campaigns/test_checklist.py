"""A campaign sends its page's published version: the checklist refuses a page that was never
published (or was unpublished), warns when the draft differs from what will be sent, and
points out contacts who stopped opening (the frequency cap's warning: audiences/test_engagement.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from wagtail.models import Page

from campaigns import checklist
from campaigns.models import Campaign, Delivery, DeliveryEvent
from campaigns.sending import lifecycle
from cms.models import EmailPage
from tests.factories import make_audience, make_campaign, make_page, send_until_idle, start

pytestmark = pytest.mark.django_db
PEOPLE = [("ada@example.com", "Ada")]


def new_page(heading):
    """A page as the admin creates it: saved as a draft revision, not live."""
    page = EmailPage(title="Winter", subject="Offers", body=[("heading", heading)], live=False)
    Page.get_first_root_node().get_children().first().add_child(instance=page)
    page.save_revision()
    return page


def edit_draft(page, heading):
    draft = page.get_latest_revision_as_object()
    draft.body = [("heading", heading)]
    draft.save_revision()


def test_a_page_never_published_is_refused(sender_settings):
    campaign = make_campaign(new_page("Draft heading"), make_audience("People", PEOPLE))
    problems = checklist.check(campaign).problems
    assert any("was never published" in problem for problem in problems)
    with pytest.raises(lifecycle.CampaignStateError, match="never published"):
        lifecycle.schedule(campaign)


def test_an_unpublished_page_is_refused(sender_settings):
    page = new_page("Heading")
    page.get_latest_revision().publish()
    page.refresh_from_db()
    page.unpublish()
    campaign = make_campaign(page, make_audience("People", PEOPLE))
    assert any("is unpublished" in problem for problem in checklist.check(campaign).problems)


def test_the_published_version_is_sent_and_a_differing_draft_is_pointed_out(sender_settings):
    page = new_page("Published heading")
    page.get_latest_revision().publish()
    edit_draft(page, "Draft heading, not published")
    campaign = make_campaign(page, make_audience("People", PEOPLE))
    result = checklist.check(campaign)
    assert result.ok
    assert result.warnings and "draft that differs" in result.warnings[0]
    start(campaign)
    campaign.refresh_from_db()
    assert "Published heading" in campaign.frozen_html and "Draft heading" not in campaign.frozen_html
    assert "Published heading" in campaign.frozen_text


def test_a_page_unpublished_after_scheduling_goes_back_to_draft_with_the_reason(sender_settings):
    page = new_page("Heading")
    page.get_latest_revision().publish()
    page.refresh_from_db()
    campaign = make_campaign(page, make_audience("People", PEOPLE))
    lifecycle.schedule(campaign)
    page.unpublish()
    assert not lifecycle.begin(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and "not published" in campaign.pause_reason


def test_contacts_who_stopped_opening_are_pointed_out_once_opens_are_reported(sender_settings, outbox_dir):
    people = [("ada@example.com", "Ada"), ("bo@example.com", "Bo"), ("cy@example.com", "Cy")]
    earlier = make_campaign(make_page(title="Earlier"), make_audience("Earlier", people), name="Earlier")
    start(earlier)
    send_until_idle(earlier)
    Delivery.objects.filter(campaign=earlier).update(sent_at=timezone.now() - timedelta(days=200))
    campaign = make_campaign(make_page(title="Next"), make_audience("Next", people), name="Next")

    def engagement_warnings():
        return [w for w in checklist.check(campaign).warnings if "opened or clicked nothing" in w]

    assert engagement_warnings() == []  # no open or click ever reported: tracking is off, nothing to say
    ada = Delivery.objects.get(campaign=earlier, contact__email="ada@example.com")
    DeliveryEvent.objects.create(
        campaign=earlier, delivery=ada, kind=DeliveryEvent.Kind.OPENED, occurred_at=timezone.now() - timedelta(days=3)
    )
    (warning,) = engagement_warnings()
    assert warning.startswith("2 contact(s) were mailed before but opened or clicked nothing in 180 days.")
    assert checklist.check(campaign).ok  # a warning: sending is still allowed
