"""The unsubscribe page and preference centre in headless Chromium on a phone-sized screen:
one button, undo, the preference centre; nothing loaded from elsewhere, no cookies."""

from urllib.parse import urlparse

import pytest

from suppression.models import Channel, ConsentEvent, Source, Suppression
from suppression.tokens import unsubscribe_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def phone(browser):
    return browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)


def channels():
    return set(Suppression.objects.values_list("channel", "source"))


def test_unsubscribe_undo_and_preferences_on_a_phone(live_server, phone):
    page = phone.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    url = live_server.url + urlparse(unsubscribe_url("ada@example.com", 7)).path

    page.goto(url)
    button = page.get_by_role("button", name="Unsubscribe from offers")
    assert button.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    assert button.bounding_box()["height"] >= 44  # a comfortable touch target
    assert "account-service mail" in page.inner_text("main")
    assert "a•••@example.com" in page.inner_text("main") and "ada@" not in page.content()  # masked
    assert page.get_by_label("Email offers").is_checked()
    assert not Suppression.objects.exists() and not ConsentEvent.objects.exists()  # GET changed nothing

    button.tap()
    page.wait_for_selector("text=You are unsubscribed")
    assert channels() == {(Channel.EMAIL_MARKETING, Source.LINK)}
    assert ConsentEvent.objects.get().campaign_id == 7

    page.get_by_role("button", name="Undo: keep sending me offers").tap()
    page.wait_for_selector("text=you will get our email offers again")
    assert channels() == set()

    page.get_by_label("Postal offers").uncheck()
    page.get_by_label("Sharing with affiliated companies").uncheck()
    page.get_by_role("button", name="Save my choices").tap()
    page.wait_for_selector("text=Your choices are saved")
    assert channels() == {
        (Channel.POSTAL_MARKETING, Source.PREFERENCE_CENTRE),
        (Channel.THIRD_PARTY_SHARING, Source.PREFERENCE_CENTRE),
    }
    assert page.get_by_label("Email offers").is_checked()
    assert not page.get_by_label("Postal offers").is_checked()
    actions = list(ConsentEvent.objects.order_by("id").values_list("action", "channel"))
    assert actions == [
        ("opt_out", Channel.EMAIL_MARKETING),
        ("opt_in", Channel.EMAIL_MARKETING),
        ("opt_out", Channel.POSTAL_MARKETING),
        ("opt_out", Channel.THIRD_PARTY_SHARING),
    ]

    assert {urlparse(address).netloc for address in requested} == {urlparse(live_server.url).netloc}
    assert phone.cookies() == []


def test_a_forged_link_shows_a_plain_error_page(live_server, phone):
    page = phone.new_page()
    response = page.goto(live_server.url + "/u/WyJhZGFAZXhhbXBsZS5jb20iLDdd:forged/")
    assert response.status == 400
    assert "This link is not valid" in page.inner_text("h1")
    assert page.get_by_role("button").count() == 0
    assert not Suppression.objects.exists()
