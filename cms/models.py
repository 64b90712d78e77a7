"""Email content: the offer email page, the catalogue snippets and the sender settings."""

from django.db import models
from wagtail.admin.panels import FieldPanel
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting
from wagtail.fields import StreamField
from wagtail.models import Page

from .blocks import EmailBodyBlock


@register_setting(icon="mail")
class SenderSettings(BaseSiteSetting):
    """Who the mail is from and the postal address every promotional message must show."""

    company_name = models.CharField(max_length=255, default="Mailroom Demo Ltd")
    postal_address = models.TextField(
        blank=True, help_text="Required before any promotional send (CAN-SPAM)."
    )
    from_name = models.CharField(max_length=255, default="Mailroom Demo")
    from_email = models.EmailField(default="offers@example.com")
    reply_to = models.EmailField(blank=True)

    panels = [
        FieldPanel("company_name"),
        FieldPanel("postal_address"),
        FieldPanel("from_name"),
        FieldPanel("from_email"),
        FieldPanel("reply_to"),
    ]

    class Meta:
        verbose_name = "Sender settings"


class EmailPage(Page):
    """One offer email, composed from blocks; campaigns send it."""

    subject = models.CharField(max_length=255, help_text="Merge fields like {first_name|there} work here.")
    preheader = models.CharField(max_length=255, blank=True, help_text="The preview line most inboxes show.")
    body = StreamField(EmailBodyBlock(), use_json_field=True)

    content_panels = Page.content_panels + [
        FieldPanel("subject"),
        FieldPanel("preheader"),
        FieldPanel("body"),
    ]

    template = "email/page.html"
