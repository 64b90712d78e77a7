"""Email-safe StreamField blocks; each renders a table-based snippet for mail clients."""

from wagtail import blocks


class HeadingBlock(blocks.CharBlock):
    class Meta:
        template = "email/blocks/heading.html"
        icon = "title"
        description = "A large heading."


class TextBlock(blocks.RichTextBlock):
    def __init__(self, **kwargs):
        super().__init__(features=["bold", "italic", "link", "ol", "ul"], **kwargs)

    class Meta:
        template = "email/blocks/text.html"
        icon = "pilcrow"
        description = "Paragraphs with bold, italic, lists and links. Merge fields like {first_name|there} work."


class ButtonBlock(blocks.StructBlock):
    label = blocks.CharBlock(max_length=60)
    url = blocks.URLBlock()

    class Meta:
        template = "email/blocks/button.html"
        icon = "link"
        description = "A call-to-action button."


class EmailBodyBlock(blocks.StreamBlock):
    heading = HeadingBlock()
    text = TextBlock()
    button = ButtonBlock()
