"""Sender settings: who the mail is from, how it looks, and the postal address."""

from django.core.validators import RegexValidator
from django.db import models
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting

HEX_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a hex colour like #1d4ed8.")
# For text that becomes a mail header (sender name, subject): the gateway refuses a message
# whose header holds a line break, so it is refused here, where the editor can fix it.
ONE_LINE = RegexValidator(r"[\r\n]", "One line only: this text goes into a mail header.", inverse_match=True)


@register_setting(icon="mail")
class SenderSettings(BaseSiteSetting):
    """Who the mail is from, how it looks and the postal address every promotional message must show."""

    company_name = models.CharField(max_length=255, default="Mailroom Demo Ltd")
    postal_address = models.TextField(blank=True, help_text="Required before any promotional send (CAN-SPAM).")
    from_name = models.CharField(max_length=255, default="Mailroom Demo", validators=[ONE_LINE])
    from_email = models.EmailField(default="offers@example.com")
    reply_to = models.EmailField(blank=True)
    brand_colour = models.CharField(
        max_length=7, default="#1d4ed8", validators=[HEX_COLOUR], help_text="Buttons, prices and the header rule."
    )
    logo = models.ForeignKey(
        "wagtailimages.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Shown at the top of every email, 160 px wide.",
    )

    panels = [
        MultiFieldPanel([FieldPanel("company_name"), FieldPanel("postal_address")], heading="Company"),
        MultiFieldPanel([FieldPanel("from_name"), FieldPanel("from_email"), FieldPanel("reply_to")], heading="Sender"),
        MultiFieldPanel([FieldPanel("brand_colour"), FieldPanel("logo")], heading="Brand"),
    ]

    class Meta:
        verbose_name = "Sender settings"
