"""Email-safe StreamField blocks; each renders a table-based snippet for mail clients.

Templates live in templates/email/blocks/. Styles come from the layout's <style> and
are inlined by premailer at freeze time; the brand colour arrives through the layout's
`sender` context and is written inline because it varies per site.
"""

from wagtail import blocks
from wagtail.images.blocks import ImageChooserBlock
from wagtail.snippets.blocks import SnippetChooserBlock

MERGE_HINT = "Merge fields like {first_name|there} work here."


class EmailPreview:
    """Block-picker previews show the block inside the real email layout."""

    def get_preview_template(self, value, context=None):
        return "email/block_preview.html"

    def get_preview_context(self, value, parent_context=None):
        from .rendering import block_preview_html

        return {**(parent_context or {}), "email_html": block_preview_html(self, value)}


def _offer_preview(model_name, **extra):
    """A block-picker preview value: an offer of the first published catalogue item."""

    def value(*_meta):  # Wagtail calls it through the block's Meta instance, as a method
        from django.apps import apps

        item = apps.get_model("cms", model_name).objects.filter(live=True).first()
        return {model_name.lower(): item, **extra}

    return value


def _image_preview(*_meta):
    from wagtail.images import get_image_model

    image = get_image_model().objects.order_by("-created_at").first()
    return {"image": image, "alt_text": image.title if image else ""}


class HeadingBlock(EmailPreview, blocks.CharBlock):
    class Meta:
        template = "email/blocks/heading.html"
        icon = "title"
        description = "A large heading. " + MERGE_HINT
        preview_value = "Hello {first_name|there}, our winter offers are here"


class TextBlock(EmailPreview, blocks.RichTextBlock):
    def __init__(self, **kwargs):
        super().__init__(features=["bold", "italic", "link", "ol", "ul"], **kwargs)

    class Meta:
        template = "email/blocks/text.html"
        icon = "pilcrow"
        description = "Paragraphs with bold, italic, lists and links. " + MERGE_HINT
        preview_value = "<p>Our <b>winter offers</b> on software and training are open until the end of the month.</p>"


class ImageBlock(EmailPreview, blocks.StructBlock):
    image = ImageChooserBlock()
    alt_text = blocks.CharBlock(max_length=255, help_text="Read aloud and shown when images are blocked.")
    link = blocks.URLBlock(required=False)

    class Meta:
        template = "email/blocks/image.html"
        icon = "image"
        description = "A picture across the email's width (resized for email)."
        preview_value = _image_preview


class ButtonBlock(EmailPreview, blocks.StructBlock):
    label = blocks.CharBlock(max_length=60, help_text=MERGE_HINT)
    url = blocks.URLBlock()

    class Meta:
        template = "email/blocks/button.html"
        icon = "link"
        description = "A call-to-action button in the brand colour."
        preview_value = {"label": "See the offers", "url": "https://example.com/offers"}


class ProductOfferBlock(EmailPreview, blocks.StructBlock):
    product = SnippetChooserBlock("cms.Product")
    promo_price = blocks.DecimalBlock(
        required=False, decimal_places=2, help_text="Offer price; the regular price is shown struck through."
    )
    discount_text = blocks.CharBlock(required=False, max_length=60, help_text="e.g. “20% off until Friday”.")
    button_label = blocks.CharBlock(max_length=40, default="View offer")

    class Meta:
        template = "email/blocks/product_offer.html"
        icon = "tag"
        description = "A product from the catalogue with its picture, price and an optional promotion."
        preview_value = _offer_preview("Product", discount_text="20% off this month")


class CourseOfferBlock(EmailPreview, blocks.StructBlock):
    course = SnippetChooserBlock("cms.Course")
    sessions_shown = blocks.IntegerBlock(min_value=1, max_value=6, default=3, help_text="Upcoming sessions to list.")
    discount_text = blocks.CharBlock(required=False, max_length=60)

    class Meta:
        template = "email/blocks/course_offer.html"
        icon = "calendar-alt"
        description = "A course from the catalogue with its next upcoming sessions (past ones never show)."
        preview_value = _offer_preview("Course", sessions_shown=3)

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        course = value["course"]
        context["sessions"] = course.upcoming_sessions()[: value["sessions_shown"]] if course else []
        return context


class DividerBlock(EmailPreview, blocks.StaticBlock):
    class Meta:
        template = "email/blocks/divider.html"
        icon = "minus"
        admin_text = "A thin line between sections."
        description = "A thin line between sections."


class SpacerBlock(EmailPreview, blocks.ChoiceBlock):
    def __init__(self, **kwargs):
        super().__init__(choices=[("16", "Small"), ("32", "Medium"), ("56", "Large")], default="32", **kwargs)

    class Meta:
        template = "email/blocks/spacer.html"
        icon = "arrows-up-down"
        description = "Empty vertical space."


class ColumnBlock(blocks.StreamBlock):
    heading = HeadingBlock()
    text = TextBlock()
    image = ImageBlock()
    button = ButtonBlock()


class TwoColumnsBlock(EmailPreview, blocks.StructBlock):
    left = ColumnBlock()
    right = ColumnBlock()

    class Meta:
        template = "email/blocks/two_columns.html"
        icon = "table"
        description = "Two side-by-side columns that stack on phones."
        preview_value = {
            "left": [("heading", "Software"), ("text", "<p>Licences for teams of any size.</p>")],
            "right": [("heading", "Training"), ("text", "<p>Online and classroom courses.</p>")],
        }


class EmailBodyBlock(blocks.StreamBlock):
    heading = HeadingBlock()
    text = TextBlock()
    image = ImageBlock()
    button = ButtonBlock()
    product_offer = ProductOfferBlock()
    course_offer = CourseOfferBlock()
    two_columns = TwoColumnsBlock()
    divider = DividerBlock()
    spacer = SpacerBlock()
