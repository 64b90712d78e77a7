"""Admin previews: the three email modes for a Marketer, catalogue previews, the web version."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from cms.models import Course, EmailPage, Product

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", password="demo-password-1", stdout=io.StringIO())
    return EmailPage.objects.get(slug="winter-offers")


@pytest.fixture
def marketer(demo, client):
    user = get_user_model().objects.create_user("mia", "mia@example.com", "pw")
    user.groups.add(Group.objects.get(name="Marketers"))
    client.force_login(user)
    return user


def preview_url(page, mode):
    revision = page.latest_revision
    return reverse("wagtailadmin_pages:revisions_view", args=[page.pk, revision.pk]) + f"?mode={mode}"


@pytest.mark.parametrize("mode", ["desktop", "mobile", "text"])
def test_preview_modes_return_200_for_a_marketer(client, demo, marketer, mode):
    response = client.get(preview_url(demo, mode))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Alex, our winter offers are here" in content  # the sample contact, merged
    assert "1 Example Street" in content  # the real footer
    if mode == "text":
        assert '<pre class="text-part">' in content and "iframe" not in content
    else:
        assert "<iframe" in content and "DataDesk Pro" in content
        assert 'sandbox="allow-same-origin allow-popups"' in content  # nothing in the email can run script
    assert ("max-width: 375px" in content) == (mode == "mobile")


def test_preview_modes_are_offered_in_the_editor(client, demo, marketer):
    response = client.get(reverse("wagtailadmin_pages:edit", args=[demo.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    for label in ("Email — desktop", "Email — mobile", "Plain text", "Send a test"):
        assert label in content


def test_catalogue_listings_and_previews_for_a_marketer(client, demo, marketer):
    for model, name in ((Product, "DataDesk Pro"), (Course, "Python for Data Analysis")):
        viewset = model.snippet_viewset
        listing = client.get(reverse(viewset.get_url_name("list")) + "?q=" + name.split()[0])
        assert listing.status_code == 200 and name in listing.content.decode()
        item = model.objects.get(**{"name" if model is Product else "title": name})
        edit = client.get(reverse(viewset.get_url_name("edit"), args=[item.pk]))
        assert edit.status_code == 200
        preview = item.make_preview_request(None, "")
        assert preview.status_code == 200 and name in preview.content.decode()


def test_course_listing_shows_the_next_session_and_filters(client, demo, marketer):
    url = reverse(Course.snippet_viewset.get_url_name("list"))
    response = client.get(url + "?live=true")
    assert response.status_code == 200
    course = Course.objects.get()
    assert course.next_session_label() in response.content.decode()
    online = client.get(url + "?mode=online").content.decode()
    assert online.count(f">{course.title}<") == 1  # sessions joined, course listed once
    assert "There is 1 match" in online or "1 course" in online


def test_web_version_of_the_page_uses_fallbacks_only(client, demo):
    response = client.get(demo.url)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Hello there!" in content and "{first_name" not in content
    assert "{unsubscribe_url}" not in content


def test_block_picker_previews_each_block_in_the_email_layout(client, demo, marketer):
    children = EmailPage._meta.get_field("body").stream_block.child_blocks
    for name, block in children.items():
        assert block.is_previewable, name
        assert block.get_description(), name
        response = client.get(reverse("wagtailadmin_block_preview") + f"?id={block.definition_prefix}")
        assert response.status_code == 200, name
        content = response.content.decode()
        assert "Unsubscribe from offers" in content and "1 Example Street" in content, name
    offer = client.get(reverse("wagtailadmin_block_preview") + f"?id={children['product_offer'].definition_prefix}")
    assert "DataDesk Pro" in offer.content.decode()  # the first published product stands in


def test_a_draft_product_change_stays_out_of_emails_until_published(client, demo, marketer):
    from cms.rendering import freeze

    product = Product.objects.get(name="ShipIt CI")
    url = reverse(Product.snippet_viewset.get_url_name("edit"), args=[product.pk])
    data = {"name": "ShipIt CI", "summary": product.summary, "price": "19.00", "currency": "USD", "url": product.url}
    assert client.post(url, data).status_code == 302  # "Save draft"
    product.refresh_from_db()
    assert product.has_unpublished_changes and product.price == 29
    html = freeze(EmailPage.objects.get(pk=demo.pk)).html
    assert "$29" in html and "$19" not in html
    assert client.post(url, {**data, "action-publish": "publish"}).status_code == 302
    assert "$19" in freeze(EmailPage.objects.get(pk=demo.pk)).html
