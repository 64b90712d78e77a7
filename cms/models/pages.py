"""The offer email page: composed from email-safe blocks; campaigns send it."""

from django.db import models
from django.http import HttpResponse
from django.template.response import TemplateResponse
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page

from cms.blocks import EmailBodyBlock

from .sender import ONE_LINE


class EmailPage(Page):
    """One offer email, composed from blocks; campaigns send it."""

    PREVIEW_MODES = [("desktop", "Email — desktop"), ("mobile", "Email — mobile"), ("text", "Plain text")]

    subject = models.CharField(
        max_length=255, validators=[ONE_LINE], help_text="Merge fields like {first_name|there} work here."
    )
    preheader = models.CharField(max_length=255, blank=True, help_text="The preview line most inboxes show.")
    sender_name = models.CharField(
        max_length=255,
        blank=True,
        validators=[ONE_LINE],
        help_text="Overrides the sender name from the sender settings for this email.",
    )
    body = StreamField(EmailBodyBlock(), use_json_field=True)

    content_panels = Page.content_panels + [
        FieldPanel("subject"),
        FieldPanel("preheader"),
        FieldPanel("sender_name"),
        FieldPanel("body"),
    ]

    def published_version(self):
        """What a campaign sends: the page as last published, or None if it is not live.

        Wagtail keeps a live page's published content in its row and saves drafts only as
        revisions, so a fresh read of the row is the published version whatever drafts
        (or whichever revision this instance was loaded from) exist.
        """
        return type(self).objects.live().filter(pk=self.pk).first()

    @property
    def preview_modes(self):
        return self.PREVIEW_MODES

    def serve_preview(self, request, mode_name):
        from cms.rendering import preview_context

        context = preview_context(self, mode_name or "desktop")
        return TemplateResponse(request, "email/preview.html", {"request": request, **context})

    def serve(self, request, *args, **kwargs):
        # The page's public URL is a web version: merge fields show their fallbacks.
        from cms.rendering import web_version_html

        return HttpResponse(web_version_html(self))
