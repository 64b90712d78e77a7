"""Spreadsheet safety: cell values that a spreadsheet would run as a formula are defused."""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def defuse(value):
    """Prefix a text cell that a spreadsheet would read as a formula with an apostrophe (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
