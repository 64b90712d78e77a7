"""Every block renders inside the email layout, with inlined styles and absolute URLs."""

from datetime import timedelta

import pytest
from django.utils import timezone
from lxml import html as lxml_html

from cms.blocks import EmailBodyBlock
from cms.rendering import add_utm, freeze
from tests.factories import make_course, make_image, make_page, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    image = make_image("Offer picture")
    now = timezone.now()
    course = make_course(
        "Python in a Week",
        image=image,
        sessions=[
            (now - timedelta(days=2), "classroom", "Oldtown", 5),
            (now + timedelta(days=9), "classroom", "Berlin", 4),
            (now + timedelta(days=40), "online", "", None),
        ],
    )
    return {"image": image, "product": make_product("Team Licence", image=image), "course": course}


def every_block(catalogue):
    image = catalogue["image"]
    return [
        ("heading", "Hello {first_name|there}!"),
        ("text", '<p>Read <a href="https://example.com/blog">our blog</a>.</p>'),
        ("image", {"image": image, "alt_text": "A picture", "link": "https://example.com/picture"}),
        ("button", {"label": "See offers", "url": "https://example.com/offers"}),
        (
            "product_offer",
            {
                "product": catalogue["product"],
                "promo_price": "399.00",
                "discount_text": "20% off",
                "button_label": "Buy now",
            },
        ),
        ("course_offer", {"course": catalogue["course"], "sessions_shown": 3}),
        ("two_columns", {"left": [("heading", "Left side")], "right": [("text", "<p>Right side</p>")]}),
        ("divider", None),
        ("spacer", "56"),
    ]


def test_each_block_renders_inside_the_layout(sender_settings, catalogue):
    body = every_block(catalogue)
    assert {name for name, _ in body} == set(EmailBodyBlock().child_blocks)  # no block left untested
    frozen = freeze(make_page(body=body))
    tree = lxml_html.fromstring(frozen.html)
    content = tree.xpath("//td[contains(@class, 'content')]")[0]
    footer = tree.xpath("//td[contains(@class, 'footer')]")[0]
    assert content.xpath(".//h1[contains(@class, 'heading')]")[0].text_content() == "Hello {first_name|there}!"
    assert content.xpath(".//div[@class='text']//a/@href") == ["https://example.com/blog"]
    assert content.xpath(".//img[@alt='A picture']/@width") == ["536"]
    assert content.xpath(".//td[contains(@class, 'button')]/a")[0].text_content() == "See offers"
    offers = content.xpath(".//table[contains(@class, 'offer')]")
    assert [o.xpath(".//h2")[0].text_content() for o in offers] == ["Team Licence", "Python in a Week"]
    assert "$499" in offers[0].xpath(".//*[contains(@class, 'price-old')]")[0].text_content()
    assert "$399" in offers[0].text_content() and "20% off" in offers[0].text_content()
    assert "Left side" in content.xpath(".//td[contains(@class, 'column')]")[0].text_content()
    assert "Right side" in content.xpath(".//td[contains(@class, 'column')]")[1].text_content()
    assert content.xpath(".//td[contains(@class, 'divider')]")
    assert content.xpath(".//td[contains(@class, 'spacer')]/@height") == ["56"]
    assert "1 Example Street" in footer.text_content()
    for url in tree.xpath("//img/@src"):
        assert url.startswith("https://mailroom.test/media/images/")


def test_past_course_session_does_not_appear(sender_settings, catalogue):
    frozen = freeze(make_page(body=[("course_offer", {"course": catalogue["course"], "sessions_shown": 3})]))
    assert "Berlin" in frozen.html and "Berlin" in frozen.text
    assert "Oldtown" not in frozen.html and "Oldtown" not in frozen.text
    sessions = lxml_html.fromstring(frozen.html).xpath("//td[@class='session']")
    assert len(sessions) == 2 and "Berlin" in sessions[0].text_content()


def test_no_element_relies_on_a_style_rule_that_could_be_inlined(sender_settings, catalogue):
    frozen = freeze(make_page(body=every_block(catalogue)))
    tree = lxml_html.fromstring(frozen.html)
    styles = "".join(style.text_content() for style in tree.xpath("//style"))
    # Only what cannot be inlined stays behind: the media queries for phones.
    assert styles.strip().startswith("@media") and styles.count("@media") == 1
    assert styles.replace(" ", "").count("{") == styles.replace(" ", "").count("}")
    outside_media = styles.split("@media", 1)[0]
    assert outside_media.strip() == ""
    # Every element the layout styles by class carries its style inline.
    for element in tree.xpath("//body//*[@class]"):
        classes = set(element.get("class").split())
        if classes & {"stack", "stack-hide", "column", "gutter", "session-action", "text"} == classes:
            continue  # hooks for the media query only, or plain wrappers
        assert element.get("style"), f"<{element.tag} class={element.get('class')!r}> has no inline style"


def test_utm_parameters_tag_marketer_links_but_not_the_unsubscribe_link(sender_settings, catalogue):
    utm = {"utm_source": "mailroom", "utm_medium": "email", "utm_campaign": "winter"}
    frozen = freeze(make_page(body=every_block(catalogue)), utm=utm)
    tree = lxml_html.fromstring(frozen.html)
    links = tree.xpath("//a/@href")
    assert "{unsubscribe_url}" in links
    for link in links:
        if link != "{unsubscribe_url}":
            assert "utm_source=mailroom&utm_medium=email&utm_campaign=winter" in link, link
    assert "{unsubscribe_url})" in frozen.text and "utm_" not in frozen.text.split("{unsubscribe_url}")[1][:5]
    assert (
        add_utm("https://e.com/?utm_source=own", utm)
        == "https://e.com/?utm_source=own&utm_medium=email&utm_campaign=winter"
    )


def test_sender_name_override_and_brand_colour(sender_settings, catalogue):
    sender_settings.brand_colour = "#aa3300"
    sender_settings.save()
    page = make_page(body=[("button", {"label": "Go", "url": "https://example.com"})])
    page.sender_name = "Grace from Example"
    frozen = freeze(page)
    assert frozen.from_email == "Grace from Example <offers@example.com>"
    assert "background-color:#a30" in frozen.html.replace(" ", "")


def test_logo_is_an_absolute_rendition_in_the_masthead(sender_settings):
    sender_settings.logo = make_image("Logo", width=640, height=160)
    sender_settings.save()
    frozen = freeze(make_page())
    logo = lxml_html.fromstring(frozen.html).xpath("//td[contains(@class, 'masthead')]//img")[0]
    assert logo.get("src").startswith("https://mailroom.test/media/images/logo.width-320")
    assert logo.get("width") == "160" and logo.get("alt") == "Example Software Ltd"
