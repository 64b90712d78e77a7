"""The content half of the pre-send checklist: what is wrong with a page before it is sent.

Pure checks on the page, its sender settings and its frozen rendering; each problem is
a sentence a marketer can act on. campaigns.checklist adds the audience count and
campaigns.sending.lifecycle.schedule enforces the result.
"""

import re

from wagtail.blocks import StreamValue, StructValue
from wagtail.documents import get_document_model
from wagtail.models import Page
from wagtail.rich_text import RichText

from .merge import unknown_fields
from .rendering import freeze

GMAIL_CLIP_BYTES = 102 * 1024  # Gmail hides everything after this much HTML
_LINK_TAG = re.compile(r"<a\b[^>]*>")
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')


def problems(page, sender, frozen=None):
    """A list of problems (empty: ready to send). `frozen`: the page's frozen email if at hand."""
    frozen = frozen or freeze(page)
    found = []
    if not page.subject.strip():
        found.append("The email has no subject.")
    if not sender.postal_address.strip():
        found.append("The company's postal address is missing from the sender settings (the law requires it).")
    if not sender.from_email or not (page.sender_name or sender.from_name).strip():
        found.append("The sender's name or address is missing from the sender settings.")
    for part, content in (("HTML", frozen.html), ("plain-text", frozen.text)):
        if "{unsubscribe_url}" not in content:
            found.append(f"The unsubscribe link is missing from the {part} part.")
    unknown = unknown_fields("\n".join((frozen.subject, frozen.preheader, frozen.html, frozen.text)))
    if unknown:
        listed = ", ".join("{" + name + "}" for name in unknown)
        found.append(f"Unknown merge fields: {listed}. Use {{first_name}}, {{last_name}} or {{email}}.")
    found += broken_links(page)
    size = len(frozen.html.encode())
    if size >= GMAIL_CLIP_BYTES:
        found.append(f"The HTML is {size / 1024:.0f} KB; Gmail clips emails above 102 KB. Remove some blocks.")
    return found


def broken_links(page):
    """Internal links to pages or documents that are gone or unpublished, and offers of
    catalogue items that are deleted or not published."""
    found = []
    for value in _values(page.body):
        if isinstance(value, RichText):
            found += _broken_rich_text_links(value.source)
        elif isinstance(value, StructValue):
            for key in ("product", "course"):
                if key in value and value[key] is None:
                    found.append(f"A {key} offer has no {key} (it was deleted?).")
                elif key in value and not value[key].live:
                    found.append(f"The {key} “{value[key]}” is not published.")
    return found


def _values(value):
    """Every value in a stream, depth first, including the structs and streams themselves."""
    yield value
    if isinstance(value, StreamValue):
        for child in value:
            yield from _values(child.value)
    elif isinstance(value, StructValue):
        for child in value.values():
            yield from _values(child)


def _broken_rich_text_links(source):
    found = []
    for tag in _LINK_TAG.findall(source):
        attributes = dict(_ATTRIBUTE.findall(tag))
        link_type, target = attributes.get("linktype"), attributes.get("id", "")
        if link_type == "page" and not Page.objects.filter(pk=_int(target), live=True).exists():
            found.append(f"A link points to a page that is deleted or unpublished (id {target}).")
        elif link_type == "document" and not get_document_model().objects.filter(pk=_int(target)).exists():
            found.append(f"A link points to a document that was deleted (id {target}).")
    return found


def _int(text):
    return int(text) if text.isdigit() else 0
