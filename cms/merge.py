"""Merge fields: `{first_name}`, `{first_name|fallback}` and friends.

Marketer content is never evaluated as a Django template. A frozen text is split once
into literal pieces and fields; personalising is then a join over that list.
"""

import html
import re

MERGE_FIELDS = ("first_name", "last_name", "email", "unsubscribe_url")
_FIELD = re.compile(r"\{([a-z_]+)(?:\|([^{}]*))?\}")
# Anything a marketer may have meant as a field: {FirstName}, { first_name }, {shoe_size|42}.
_FIELD_LIKE = re.compile(r"\{\s*([A-Za-z_][\w ]*?)\s*(?:\|[^{}]*)?\}")


class MergeTemplate:
    """A text compiled once into literals and (field, fallback) slots."""

    __slots__ = ("parts",)

    def __init__(self, text):
        self.parts = []
        position = 0
        for match in _FIELD.finditer(text):
            name = match.group(1)
            if name not in MERGE_FIELDS:
                continue
            self.parts.append(text[position : match.start()])
            self.parts.append((name, match.group(2) or ""))
            position = match.end()
        self.parts.append(text[position:])

    def render(self, values, escape=False):
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = values.get(part[0]) or part[1]
            out.append(html.escape(value) if escape else value)
        return "".join(out)


def unknown_fields(text):
    """Field-like tokens that would not be filled in: reported by the pre-send checklist."""
    known = {match.group(0) for match in _FIELD.finditer(text) if match.group(1) in MERGE_FIELDS}
    return sorted({m.group(1) for m in _FIELD_LIKE.finditer(text) if m.group(0) not in known})
