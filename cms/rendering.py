"""Page → frozen email: render the layout once, inline CSS once, derive the text once.

The result still holds merge fields (`{first_name|there}`, `{unsubscribe_url}`); the
send pipeline fills them per recipient (DESIGN invariant 5).
"""

from dataclasses import dataclass
from email.utils import formataddr

import html2text
import premailer
from django.conf import settings
from django.template.loader import render_to_string
from wagtail.models import Site

from .models import SenderSettings


@dataclass(frozen=True)
class FrozenEmail:
    subject: str
    preheader: str
    html: str
    text: str
    from_email: str
    reply_to: str


def sender_settings(page):
    site = page.get_site() or Site.objects.get(is_default_site=True)
    return SenderSettings.for_site(site)


def html_to_text(html):
    converter = html2text.HTML2Text()
    converter.body_width = 0  # never break a URL across lines
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True  # layout tables, not data: let their text flow
    return converter.handle(html).strip() + "\n"


def inline_css(html):
    # No base_url: links are absolute already, and joining would mangle "{unsubscribe_url}".
    return premailer.transform(
        html,
        keep_style_tags=True,  # media queries cannot be inlined; keep them for mobile clients
        strip_important=False,
        disable_validation=True,
        cssutils_logging_level="CRITICAL",
    )


def render_email_html(page, sender):
    return render_to_string(
        "email/base.html",
        {"page": page, "sender": sender, "base_url": settings.MAILROOM_BASE_URL},
    )


def freeze(page):
    sender = sender_settings(page)
    html = inline_css(render_email_html(page, sender))
    return FrozenEmail(
        subject=page.subject,
        preheader=page.preheader,
        html=html,
        text=html_to_text(html),
        from_email=formataddr((sender.from_name, sender.from_email)),
        reply_to=sender.reply_to,
    )
