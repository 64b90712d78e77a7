"""Template helpers for email blocks: absolute image renditions and prices."""

from decimal import Decimal

from django import template

from cms.rendering import absolute_url

register = template.Library()

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
CONTENT_WIDTH = 536  # the 600 px container minus its 32 px side padding


@register.simple_tag
def email_image_url(image, width=CONTENT_WIDTH):
    """An absolute rendition URL at twice `width` (sharp on high-density screens)."""
    return absolute_url(image.get_rendition(f"width-{int(width) * 2}").url)


@register.filter
def money(amount, currency):
    if amount in (None, ""):
        return ""
    amount = Decimal(amount)
    figure = f"{amount:,.0f}" if amount == amount.to_integral() else f"{amount:,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{figure}" if symbol else f"{figure} {currency}"
