"""Rendering once: layout, inlined CSS, text part with unsubscribe link and postal address."""

import re

import pytest
from lxml import html as lxml_html

from cms.merge import MergeTemplate, unknown_fields
from cms.rendering import freeze
from tests.factories import make_page

pytestmark = pytest.mark.django_db


def test_frozen_email_has_inlined_styles_footer_and_merge_fields(sender_settings):
    frozen = freeze(make_page())
    tree = lxml_html.fromstring(frozen.html)
    heading = tree.xpath("//h1[contains(@class, 'heading')]")[0]
    assert "font-size:24px" in heading.get("style").replace(" ", "")
    button_link = tree.xpath("//td[contains(@class, 'button')]/a")[0]
    assert "color:#fff" in button_link.get("style").replace(" ", "")
    assert "@media" in frozen.html  # media queries kept for mobile clients
    assert 'href="{unsubscribe_url}"' in frozen.html
    assert "{unsubscribe_url}" in frozen.text
    assert "1 Example Street" in frozen.text and "Example Software Ltd" in frozen.text
    assert frozen.from_email == "Example Offers <offers@example.com>"


def test_merge_values_are_escaped_in_html_only():
    template = MergeTemplate("<h1>Hello {first_name|there}</h1><a href='{unsubscribe_url}'>x</a>")
    values = {"first_name": "<script>alert(1)</script>", "unsubscribe_url": "https://m.test/u/a&b/"}
    rendered = template.render(values, escape=True)
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
    assert MergeTemplate("Hi {first_name|there}!").render({"first_name": ""}) == "Hi there!"
    assert MergeTemplate("Hi {first_name}").render({"first_name": "<b>"}) == "Hi <b>"


def test_marketer_content_is_not_a_django_template(sender_settings):
    page = make_page(body=[("text", "<p>{{ settings.SECRET_KEY }} {% now 'Y' %} {shoe_size}</p>")])
    frozen = freeze(page)
    assert "{{ settings.SECRET_KEY }}" in frozen.html
    assert re.search(r"\{% now 'Y' %\}|\{% now &#x27;Y&#x27; %\}|\{% now &#39;Y&#39; %\}", frozen.html)
    assert unknown_fields(frozen.html) == ["shoe_size"]


def test_plain_text_keeps_each_block_and_each_course_session_apart(sender_settings):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import make_course

    soon = timezone.now() + timedelta(days=10)
    course = make_course(sessions=[(soon, "online", "", 8), (soon + timedelta(days=30), "classroom", "Berlin", None)])
    page = make_page(
        body=[
            ("course_offer", {"course": course, "sessions_shown": 3}),
            ("button", {"label": "See all offers", "url": "https://example.com/offers"}),
        ]
    )
    text = freeze(page).text
    last_session, next_link = text.split("Classroom, Berlin")[1], "[See all offers]"
    # The last session's registration link and the next block are separate paragraphs.
    later = course.sessions.get(location="Berlin").registration_url
    assert f"({later})\n\n{next_link}" in last_session
    assert "8 seats left\n\n[Register" in text  # each session's link on its own line
    assert not re.search(r"[ \t]\n", text) and "\n\n\n" not in text  # no trailing spaces, no runs of blank lines
