"""The catalogue: products and courses (snippets with drafts, revisions and previews)."""

from django.db import models
from django.http import HttpResponse
from django.utils import timezone
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel
from wagtail.models import DraftStateMixin, Orderable, PreviewableMixin, RevisionMixin
from wagtail.search import index

from cms.blocks import CourseOfferBlock, ProductOfferBlock


class CatalogueItem(DraftStateMixin, RevisionMixin, PreviewableMixin, index.Indexed, models.Model):
    """What products and courses share: a name, a summary, a picture and a price."""

    summary = models.TextField(max_length=600, help_text="Two or three sentences; shown under the name.")
    image = models.ForeignKey("wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217 code, e.g. USD, EUR.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def serve_preview(self, request, mode_name):
        from cms.rendering import catalogue_preview_html

        return HttpResponse(catalogue_preview_html(self))

    def offer_block(self):
        """The email block that offers this item, and its value (for previews)."""
        raise NotImplementedError


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

    def offer_block(self):
        return ProductOfferBlock(), {"product": self}


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

    def offer_block(self):
        return CourseOfferBlock(), {"course": self, "sessions_shown": 3}

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
