"""The admin's email preview in headless Chromium: the mobile mode really lays the email
out for a phone (media queries apply inside the frame), the desktop mode does not."""

import io

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from cms.models import EmailPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def demo_preview(live_server, tmp_path, settings):
    """The demo page's preview URL and a Marketer's session cookie, made before the
    browser starts (playwright's event loop forbids Django's ORM in this thread)."""
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", password="demo-password-1", stdout=io.StringIO())
    user = get_user_model().objects.create_user("mia", "mia@example.com", "pw")
    user.groups.add(Group.objects.get(name="Marketers"))
    client = Client()
    client.force_login(user)
    page = EmailPage.objects.get(slug="winter-offers")
    url = live_server.url + reverse("wagtailadmin_pages:revisions_view", args=[page.pk, page.latest_revision.pk])
    cookie = {
        "name": django_settings.SESSION_COOKIE_NAME,
        "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }
    return url, cookie


def offer_layout(browser_page, url):
    """(frame width, offer image cell width, offer body cell width) as Chromium lays them out."""
    browser_page.goto(url)
    frame = browser_page.frame_locator("iframe.frame")
    frame.locator("table.offer").first.wait_for()
    image_cell = frame.locator("td.offer-image").first.bounding_box()
    body_cell = frame.locator("td.offer-body").first.bounding_box()
    frame_box = browser_page.locator("iframe.frame").bounding_box()
    return frame_box["width"], image_cell["width"], body_cell["width"]


def test_mobile_preview_stacks_the_offer_and_desktop_does_not(demo_preview, browser):
    base, cookie = demo_preview
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([cookie])
    browser_page = context.new_page()

    frame_width, image_width, body_width = offer_layout(browser_page, base + "?mode=desktop")
    assert frame_width > 600
    assert image_width < 260 and body_width < 400  # image and text side by side

    frame_width, image_width, body_width = offer_layout(browser_page, base + "?mode=mobile")
    assert frame_width == 375
    assert image_width > 300 and body_width > 300  # stacked: each takes the phone's width

    browser_page.goto(base + "?mode=text")
    text = browser_page.locator("pre.text-part").inner_text()
    assert "Hello Alex!" in text and "1 Example Street" in text and "London" not in text
    context.close()
