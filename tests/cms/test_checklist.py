"""The pre-send checklist: each content problem is found; a campaign that fails it cannot
be scheduled, and the send page shows it."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from campaigns import checklist as campaign_checklist
from campaigns.models import Campaign
from campaigns.sending import lifecycle
from cms import checklist
from cms.rendering import FrozenEmail, freeze
from suppression import policy
from suppression.models import Channel, Source
from tests.factories import make_audience, make_campaign, make_page, make_product

pytestmark = pytest.mark.django_db


def test_a_good_page_has_no_problems(sender_settings):
    assert checklist.problems(make_page(), sender_settings) == []


def test_missing_subject_sender_and_postal_address_are_reported(sender_settings):
    sender_settings.postal_address = " "
    sender_settings.from_name = ""
    page = make_page()
    page.subject = ""  # the editor requires one; a draft revision might still lack it
    found = " ".join(checklist.problems(page, sender_settings))
    assert "no subject" in found
    assert "postal address is missing" in found
    assert "sender's name or address is missing" in found


def test_unknown_merge_fields_are_reported(sender_settings):
    page = make_page(subject="Hi {frist_name}", body=[("text", "<p>Size {shoe_size|42}</p>")])
    problems = checklist.problems(page, sender_settings)
    assert any("{frist_name}" in p and "{shoe_size}" in p for p in problems), problems


def test_unsubscribe_link_missing_from_a_part_is_reported(sender_settings):
    page = make_page()
    good = freeze(page)
    text_without = FrozenEmail(**{**good.__dict__, "text": good.text.replace("{unsubscribe_url}", "")})
    assert checklist.problems(page, sender_settings, text_without) == [
        "The unsubscribe link is missing from the plain-text part."
    ]


def test_broken_internal_links_and_unpublished_offers_are_reported(sender_settings):
    draft_product = make_product("Draft Thing")
    draft_product.unpublish()
    page = make_page(
        body=[
            ("text", '<p><a linktype="page" id="999999">gone</a> <a id="888888" linktype="document">doc</a></p>'),
            ("two_columns", {"left": [("text", '<p><a linktype="page" id="777777">deep</a></p>')], "right": []}),
            ("product_offer", {"product": draft_product, "button_label": "Buy"}),
        ]
    )
    problems = checklist.problems(page, sender_settings)
    assert any("page that is deleted or unpublished (id 999999)" in p for p in problems)
    assert any("(id 777777)" in p for p in problems)  # inside a column too
    assert any("document that was deleted (id 888888)" in p for p in problems)
    assert any("“Draft Thing” is not published" in p for p in problems)


def test_html_over_gmail_clip_size_is_reported(sender_settings):
    long_text = "<p>" + "An offer you cannot refuse. " * 4000 + "</p>"
    problems = checklist.problems(make_page(body=[("text", long_text)]), sender_settings)
    assert any("Gmail clips emails above 102 KB" in p for p in problems)


def test_checklist_blocks_a_send_without_a_postal_address(sender_settings):
    sender_settings.postal_address = ""
    sender_settings.save()
    campaign = make_campaign(make_page(), make_audience("People", [("ada@example.com", "Ada")]))
    with pytest.raises(lifecycle.CampaignStateError, match="postal address is missing"):
        lifecycle.schedule(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and campaign.scheduled_at is None


def test_audience_count_after_suppression(sender_settings):
    audience = make_audience("People", [("ada@example.com", "Ada"), ("bob@example.com", "Bob")])
    campaign = make_campaign(make_page(), audience)
    policy.record_opt_out("bob@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    result = campaign_checklist.check(campaign)
    assert (result.targeted, result.reachable, result.ok) == (2, 1, True)
    policy.record_opt_out("ada@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    result = campaign_checklist.check(campaign)
    assert result.reachable == 0 and "No one to send to" in result.problems[0]
    with pytest.raises(lifecycle.CampaignStateError, match="No one to send to"):
        lifecycle.schedule(campaign)


def test_send_page_shows_the_checklist(client, sender_settings):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    campaign = make_campaign(make_page(), make_audience("People", [("ada@example.com", "Ada")]))
    url = reverse("campaign:send", args=[campaign.pk])
    content = client.get(url).content.decode()
    assert "1 of 1 contact will get it" in content and "checklist-ok" in content
    sender_settings.postal_address = ""
    sender_settings.save()
    content = client.get(url).content.decode()
    assert "postal address is missing" in content and "disabled" in content
    client.post(url)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_misspelt_or_spaced_merge_fields_count_as_unknown():
    from cms.merge import unknown_fields

    text = "{first_name|there} {FirstName} { last_name } {email} {shoe_size|42} .x { color: red }"
    assert unknown_fields(text) == ["FirstName", "last_name", "shoe_size"]
