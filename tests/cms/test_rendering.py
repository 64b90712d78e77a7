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
