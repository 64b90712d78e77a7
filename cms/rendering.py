"""Page → frozen email: render the layout once, inline CSS once, derive the text once.

The result still holds merge fields (`{first_name|there}`, `{unsubscribe_url}`); the
send pipeline fills them per recipient (DESIGN invariant 5). Previews and the web
version fill them here with sample values, through the same MergeTemplate.
"""

import re
import unicodedata
from dataclasses import dataclass, replace
from email.utils import formataddr, parseaddr
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import html2text
import premailer
from django.conf import settings
from django.template.loader import render_to_string
from wagtail.models import Site

from .merge import MergeTemplate
from .models.sender import SenderSettings

SAMPLE_CONTACT = {"first_name": "Alex", "last_name": "Sample", "email": "alex.sample@example.com"}
PREVIEW_UNSUBSCRIBE_URL = "#unsubscribe-preview"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
_HREF = re.compile(r'href="([^"]*)"')
_EMPTY_LINK = re.compile(r"\[\]\([^)]*\)")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class FrozenEmail:
    subject: str
    preheader: str
    html: str
    text: str
    from_email: str
    reply_to: str

    @property
    def list_id(self):
        """The RFC 2919 List-Id of the sender's offers, e.g. `"Mailroom Demo" <offers.example.com>`.

        The same for every campaign from one sender address, so mailbox providers and
        people's filters can group them. ASCII only, never CR/LF: it goes into a header as is.
        """
        name, address = parseaddr(self.from_email)
        local, _, domain = address.rpartition("@")
        label = re.sub(r"[^a-z0-9-]+", "-", local.lower()).strip("-") or "offers"
        domain = re.sub(r"[^a-z0-9.-]+", "", domain.lower()).strip(".") or "mailroom.invalid"
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        description = re.sub(r"[^A-Za-z0-9 .,&'-]+", "", ascii_name).strip()
        return f'"{description}" <{label}.{domain}>' if description else f"<{label}.{domain}>"


def absolute_url(path):
    """Email clients have no base URL: every link and image is absolute."""
    return path if "://" in path else settings.MAILROOM_BASE_URL + path


def sender_settings(page):
    site = page.get_site() or Site.objects.get(is_default_site=True)
    return SenderSettings.for_site(site)


def html_to_text(html):
    converter = html2text.HTML2Text()
    converter.body_width = 0  # never break a URL across lines
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True  # layout tables, not data: let their text flow
    text = _EMPTY_LINK.sub("", converter.handle(html))  # image-only links leave "[](url)"
    # Markdown's two-space line breaks mean nothing to a mail reader; blank lines between
    # blocks and sessions are what keep one offer's last line apart from the next link.
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"


def inline_css(html):
    # No base_url: links are absolute already, and joining would mangle "{unsubscribe_url}".
    # Rules premailer cannot inline (media queries) stay behind in a <style> of their own.
    return premailer.transform(
        html,
        keep_style_tags=False,
        strip_important=False,
        disable_validation=True,
        disable_basic_attributes=["width", "height"],  # keep pixel widths for Outlook
        cssutils_logging_level="CRITICAL",
    )


def add_utm(url, utm):
    """`url` with the UTM parameters added; parameters the link already sets win."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    query += [(key, value) for key, value in utm.items() if key in UTM_KEYS and value and key not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def finish_links(html, utm=None, skip=()):
    """Make every link absolute and tag web links with `utm`.

    Merge-field links (`{unsubscribe_url}`) and the links in `skip` (the web version)
    stay as they are: they are Mailroom's own, not the marketer's.
    """

    def fix(match):
        url = match.group(1)
        if not url or url.startswith(("{", "#", "mailto:", "tel:")) or url in skip:
            return match.group(0)
        url = absolute_url(url)
        if utm and url.startswith(("http://", "https://")):
            url = add_utm(url.replace("&amp;", "&"), utm).replace("&", "&amp;")
        return f'href="{url}"'

    return _HREF.sub(fix, html)


def render_email_html(page, sender, web_url=None):
    return render_to_string(
        "email/base.html",
        {"page": page, "sender": sender, "base_url": settings.MAILROOM_BASE_URL, "web_url": web_url},
    )


def freeze(page, utm=None, web_url=None):
    """The page as a frozen email. `utm`: optional UTM parameters for the marketer's links;
    `web_url`: optional "view in browser" address shown above the email."""
    sender = sender_settings(page)
    html = finish_links(inline_css(render_email_html(page, sender, web_url)), utm, skip={web_url})
    name = page.sender_name or sender.from_name
    return FrozenEmail(
        subject=page.subject,
        preheader=page.preheader,
        html=html,
        text=html_to_text(html),
        from_email=formataddr((name, sender.from_email)),
        # Replies go where the sender settings say, else back to the sender.
        reply_to=formataddr((name, sender.reply_to or sender.from_email)),
    )


def fill(frozen, values):
    """A frozen email with its merge fields filled (previews, web version; not sending)."""
    return replace(
        frozen,
        subject=MergeTemplate(frozen.subject).render(values),
        preheader=MergeTemplate(frozen.preheader).render(values),
        html=MergeTemplate(frozen.html).render(values, escape=True),
        text=MergeTemplate(frozen.text).render(values),
    )


def preview_context(page, mode):
    """What the admin's preview modes show: the email for a sample contact, real footer."""
    email = fill(freeze(page), {**SAMPLE_CONTACT, "unsubscribe_url": PREVIEW_UNSUBSCRIBE_URL})
    return {
        "mode": mode,
        "email": email,
        "to": formataddr((f"{SAMPLE_CONTACT['first_name']} {SAMPLE_CONTACT['last_name']}", SAMPLE_CONTACT["email"])),
        "frame_width": 375 if mode == "mobile" else None,
    }


def web_version_html(page_or_frozen, unsubscribe_url=PREVIEW_UNSUBSCRIBE_URL):
    """The email as a web page: merge fields show their fallbacks, nobody's data."""
    frozen = page_or_frozen if isinstance(page_or_frozen, FrozenEmail) else freeze(page_or_frozen)
    return fill(frozen, {"unsubscribe_url": unsubscribe_url}).html


def block_preview_html(block, value, subject="Preview"):
    """One block inside the real layout (inlined, sample contact): for the block picker
    and catalogue previews."""
    stand_in = SimpleNamespace(subject=subject, preheader="", body=[block.bind(value)])
    sender = SenderSettings.for_site(Site.objects.get(is_default_site=True))
    html = inline_css(render_email_html(stand_in, sender))
    return MergeTemplate(html).render({**SAMPLE_CONTACT, "unsubscribe_url": PREVIEW_UNSUBSCRIBE_URL}, escape=True)


def catalogue_preview_html(item):
    """A catalogue item (possibly an unsaved draft) as its offer block inside the email layout."""
    block, value = item.offer_block()
    block.set_name("offer")
    return block_preview_html(block, block.normalize(value), subject=str(item))
