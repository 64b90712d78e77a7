"""Email content: the offer email page, the catalogue snippets and the sender settings."""

from django.core.validators import RegexValidator
from django.db import models
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting
from wagtail.fields import StreamField
from wagtail.models import DraftStateMixin, Orderable, Page, PreviewableMixin, RevisionMixin
from wagtail.search import index

from .blocks import EmailBodyBlock

HEX_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a hex colour like #1d4ed8.")


@register_setting(icon="mail")
class SenderSettings(BaseSiteSetting):
    """Who the mail is from, how it looks and the postal address every promotional message must show."""

    company_name = models.CharField(max_length=255, default="Mailroom Demo Ltd")
    postal_address = models.TextField(
        blank=True, help_text="Required before any promotional send (CAN-SPAM)."
    )
    from_name = models.CharField(max_length=255, default="Mailroom Demo")
    from_email = models.EmailField(default="offers@example.com")
    reply_to = models.EmailField(blank=True)
    brand_colour = models.CharField(
        max_length=7, default="#1d4ed8", validators=[HEX_COLOUR], help_text="Buttons, prices and the header rule."
    )
    logo = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Shown at the top of every email, 160 px wide.",
    )

    panels = [
        MultiFieldPanel([FieldPanel("company_name"), FieldPanel("postal_address")], heading="Company"),
        MultiFieldPanel(
            [FieldPanel("from_name"), FieldPanel("from_email"), FieldPanel("reply_to")], heading="Sender"
        ),
        MultiFieldPanel([FieldPanel("brand_colour"), FieldPanel("logo")], heading="Brand"),
    ]

    class Meta:
        verbose_name = "Sender settings"


class CatalogueItem(DraftStateMixin, RevisionMixin, PreviewableMixin, index.Indexed, models.Model):
    """What products and courses share: a name, a summary, a picture and a price."""

    summary = models.TextField(max_length=600, help_text="Two or three sentences; shown under the name.")
    image = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217 code, e.g. USD, EUR.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def serve_preview(self, request, mode_name):
        from .rendering import catalogue_preview_html

        return HttpResponse(catalogue_preview_html(self))


class Product(CatalogueItem):
    name = models.CharField(max_length=255)
    url = models.URLField("product URL", help_text="Where the offer's button leads.")

    panels = [
        FieldPanel("name"),
        FieldPanel("summary"),
        FieldPanel("image"),
        FieldRowPanel([FieldPanel("price"), FieldPanel("currency")]),
        FieldPanel("url"),
    ]
    search_fields = [
        index.SearchField("name"),
        index.AutocompleteField("name"),
        index.SearchField("summary"),
        index.FilterField("live"),
    ]

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Course(CatalogueItem, ClusterableModel):
    title = models.CharField(max_length=255)

    panels = [
        FieldPanel("title"),
        FieldPanel("summary"),
        FieldPanel("image"),
        FieldRowPanel([FieldPanel("price"), FieldPanel("currency")]),
        InlinePanel("sessions", heading="Sessions", label="Session", min_num=1),
    ]
    search_fields = [
        index.SearchField("title"),
        index.AutocompleteField("title"),
        index.SearchField("summary"),
        index.FilterField("live"),
    ]

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title

    def upcoming_sessions(self, now=None):
        """Sessions that have not started yet, soonest first; past ones never show."""
        now = now or timezone.now()
        return sorted((s for s in self.sessions.all() if s.starts_at > now), key=lambda s: s.starts_at)

    def next_session_label(self):
        upcoming = self.upcoming_sessions()
        return f"{upcoming[0].starts_at:%d %b %Y}" if upcoming else "No upcoming session"


class CourseSession(Orderable):
    class Mode(models.TextChoices):
        ONLINE = "online", "Online"
        CLASSROOM = "classroom", "Classroom"

    course = ParentalKey(Course, on_delete=models.CASCADE, related_name="sessions")
    starts_at = models.DateTimeField("starts")
    duration_days = models.PositiveSmallIntegerField("duration (days)", default=1)
    mode = models.CharField("delivery", max_length=10, choices=Mode.choices, default=Mode.ONLINE)
    location = models.CharField(max_length=255, blank=True, help_text="City or venue; empty for online.")
    seats_left = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: do not show.")
    registration_url = models.URLField("registration URL")

    panels = [
        FieldRowPanel([FieldPanel("starts_at"), FieldPanel("duration_days")]),
        FieldRowPanel([FieldPanel("mode"), FieldPanel("location")]),
        FieldRowPanel([FieldPanel("seats_left"), FieldPanel("registration_url")]),
    ]

    def __str__(self):
        return f"{self.course} — {self.starts_at:%Y-%m-%d}"


class EmailPage(Page):
    """One offer email, composed from blocks; campaigns send it."""

    PREVIEW_MODES = [("desktop", "Email — desktop"), ("mobile", "Email — mobile"), ("text", "Plain text")]

    subject = models.CharField(max_length=255, help_text="Merge fields like {first_name|there} work here.")
    preheader = models.CharField(max_length=255, blank=True, help_text="The preview line most inboxes show.")
    sender_name = models.CharField(
        max_length=255, blank=True, help_text="Overrides the sender name from the sender settings for this email."
    )
    body = StreamField(EmailBodyBlock(), use_json_field=True)

    content_panels = Page.content_panels + [
        FieldPanel("subject"),
        FieldPanel("preheader"),
        FieldPanel("sender_name"),
        FieldPanel("body"),
    ]

    @property
    def preview_modes(self):
        return self.PREVIEW_MODES

    def serve_preview(self, request, mode_name):
        from .rendering import preview_context

        context = preview_context(self, mode_name or "desktop")
        return TemplateResponse(request, "email/preview.html", {"request": request, **context})

    def serve(self, request, *args, **kwargs):
        # The page's public URL is a web version: merge fields show their fallbacks.
        from .rendering import web_version_html

        return HttpResponse(web_version_html(self))
