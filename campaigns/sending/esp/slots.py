"""A frozen text as an ESP template whose variables are our merge-field slots."""

from django.utils.html import escape

from cms.merge import MergeTemplate
from suppression.gateway import refuse_line_breaks


class TemplateSlots:
    """Each (field, fallback) of the text becomes one variable, written in the ESP's syntax
    (`placeholder` with VAR standing for the variable's name).

    Values are filled in by us (fallbacks applied, HTML-escaped for the HTML part) and the
    placeholder is the ESP's raw, non-escaping form, so the ESP only substitutes.
    """

    def __init__(self, text, prefix, escape_values, placeholder):
        self.slots = []  # (variable, field, fallback), one per distinct (field, fallback)
        variables = {}
        out = []
        for part in MergeTemplate(text).parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if part not in variables:
                variables[part] = f"{prefix}{len(self.slots)}"
                self.slots.append((variables[part], *part))
            out.append(placeholder.replace("VAR", variables[part]))
        self.template = "".join(out)
        self.escape = escape_values

    def fill(self, values, model, key="VAR"):
        """Add this part's variables to `model`, each named as the ESP's merge data wants."""
        for variable, field, fallback in self.slots:
            value = values.get(field) or fallback
            model[key.replace("VAR", variable)] = escape(value) if self.escape else value

    def refuse_line_breaks(self, header, contact):
        """For a part that becomes a header (the subject): no value may break its line.
        Merge fields are the contact's attributes (the unsubscribe URL never breaks)."""
        for _variable, field, fallback in self.slots:
            refuse_line_breaks(header, getattr(contact, field, "") or fallback)

    def has_field(self, name):
        return any(field == name for _, field, _ in self.slots)
