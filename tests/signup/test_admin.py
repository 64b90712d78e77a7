"""A signup page is created, published and edited in the Wagtail admin like any page; a
published edit of the wording is what the next person is shown and agrees to."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from wagtail.models import Page
from wagtail.test.utils.form_data import nested_form_data, rich_text

from campaigns.management.commands.seed_demo import GROUP_PERMISSIONS, Command
from signup.models import SignupPage
from suppression import policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(audience):
    """A Marketer as seed_demo makes one: pages and audiences by name, no personal data."""
    group, _ = Group.objects.get_or_create(name="Marketers")
    group.permissions.set(Permission.objects.filter(codename__in=GROUP_PERMISSIONS["Marketers"]))
    Command().seed_content_permissions(group)
    user = get_user_model().objects.create_user("mia", "mia@example.com", "correct horse")
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


def form(chosen, **changes):
    fields = {
        "title": "Offers newsletter",
        "slug": "newsletter",
        "intro": rich_text("<p>Our best offers, twice a month.</p>"),
        "audience": chosen.pk,
        "offer_postal": "on",
        "consent_text": rich_text("<p>Yes, send me product and course offers by email.</p>"),
        "button_label": "Subscribe",
        "action-publish": "publish",
    } | changes
    return nested_form_data(fields)


def test_a_marketer_creates_publishes_and_edits_a_signup_page(marketer, audience):
    home = Page.get_first_root_node().get_children().first()
    add = reverse("wagtailadmin_pages:add", args=["signup", "signuppage", home.pk])
    editor = marketer.get(add)
    assert editor.status_code == 200
    html = editor.content.decode()
    for label in ("Audience", "Also offer postal offers", "Consent wording", "Channels offered"):
        assert label in html
    assert "Newsletter" in html  # the audience to choose, by name

    preview = reverse("wagtailadmin_pages:preview_on_add", args=["signup", "signuppage", home.pk])
    assert marketer.post(preview, form(audience)).json()["is_valid"]
    shown = marketer.get(preview)
    assert shown.status_code == 200 and b"send me product and course offers" in shown.content

    assert marketer.post(add, form(audience)).status_code == 302
    page = SignupPage.objects.get(slug="newsletter")
    assert page.live and page.audience == audience and page.offered_channels() == ["postal_marketing"]
    assert page.wording() == "<p>Yes, send me product and course offers by email.</p>"
    public = Client().get("/newsletter/")
    assert public.status_code == 200 and b"send me product and course offers" in public.content

    edit = reverse("wagtailadmin_pages:edit", args=[page.pk])
    assert marketer.get(edit).status_code == 200
    changed = form(audience, consent_text=rich_text("<p>Yes, email me offers; <b>unsubscribe any time</b>.</p>"))
    assert marketer.post(edit, changed).status_code == 302
    page.refresh_from_db()
    assert page.wording() == "<p>Yes, email me offers; <b>unsubscribe any time</b>.</p>"
    assert policy.wording_version(page.wording()).encode() in Client().get("/newsletter/").content


def test_a_signup_page_needs_an_audience_and_a_wording(marketer, audience):
    home = Page.get_first_root_node().get_children().first()
    add = reverse("wagtailadmin_pages:add", args=["signup", "signuppage", home.pk])
    response = marketer.post(add, form(audience, audience="", consent_text=rich_text("")))
    assert response.status_code == 200  # the editor again, with the errors
    assert not SignupPage.objects.exists()
