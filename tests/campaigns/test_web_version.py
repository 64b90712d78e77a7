"""The campaign's web version: public, signed, frozen content, nobody's data."""

import pytest
from django.test import Client

from campaigns.sending import snapshot
from campaigns.web_version import web_version_url
from tests.factories import make_audience, make_campaign, make_page

pytestmark = pytest.mark.django_db


def test_web_version_shows_the_email_with_fallbacks(sender_settings):
    campaign = make_campaign(make_page(), make_audience("People", [("ada@example.com", "Ada")]))
    url = web_version_url(campaign)
    assert url.startswith("https://mailroom.test/view/")
    response = Client().get(url.removeprefix("https://mailroom.test"))
    assert response.status_code == 200 and response["X-Robots-Tag"] == "noindex"
    content = response.content.decode()
    assert "Hello there!" in content and "Ada" not in content
    assert "{unsubscribe_url}" not in content and "1 Example Street" in content


def test_web_version_shows_what_was_frozen_not_later_edits(sender_settings):
    page = make_page()
    campaign = make_campaign(page, make_audience("People", [("ada@example.com", "Ada")]))
    snapshot.freeze(campaign, snapshot.render(campaign))
    page.body = [("heading", "Edited after sending")]
    page.save()
    content = Client().get(web_version_url(campaign).removeprefix("https://mailroom.test")).content.decode()
    assert "Hello there!" in content and "Edited after sending" not in content


def test_forged_or_unknown_web_version_is_404(sender_settings):
    campaign = make_campaign(make_page(), make_audience("People", [("ada@example.com", "Ada")]))
    path = web_version_url(campaign).removeprefix("https://mailroom.test")
    assert Client().get(path.replace(f"/view/{campaign.pk}:", "/view/999:")).status_code == 404
    campaign.delete()
    assert Client().get(path).status_code == 404
