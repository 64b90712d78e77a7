"""The signup page editors place on the site, and the signups waiting for confirmation."""

import re

from django.db import models
from django.http import HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page
from wagtail.rich_text import expand_db_html

from config.ratelimit import limit_per_client
from suppression import policy
from suppression.models import Channel

from .forms import SignupForm

TEXT_FEATURES = ["bold", "italic", "link"]
BLOCK_KEY = re.compile(r' data-block-key="[^"]*"')


class SignupPage(Page):
    """A public subscribe form: email, first name, the channels the editor offers and the
    consent wording. Submitting it mails a confirmation link (double opt-in); only following
    that link adds the person to `audience` (signup.double_opt_in)."""

    intro = RichTextField(blank=True, features=TEXT_FEATURES)
    audience = models.ForeignKey(
        "campaigns.Audience",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="People who confirm their signup join this audience.",
    )
    offer_postal = models.BooleanField(
        "Also offer postal offers", default=False, help_text="A box people may tick; never ticked for them."
    )
    offer_sharing = models.BooleanField(
        "Also offer sharing with affiliated companies",
        default=False,
        help_text="A box people may tick; never ticked for them.",
    )
    consent_text = RichTextField(
        "Consent wording",
        features=TEXT_FEATURES,
        help_text="Exactly what people agree to, shown above the button. Each confirmation keeps "
        "the version its person saw; a change applies to signups from then on.",
    )
    button_label = models.CharField(max_length=60, default="Subscribe")

    content_panels = Page.content_panels + [
        FieldPanel("intro"),
        FieldPanel("audience"),
        MultiFieldPanel(
            [FieldPanel("offer_postal"), FieldPanel("offer_sharing")],
            heading="Channels offered (email offers always)",
        ),
        FieldPanel("consent_text"),
        FieldPanel("button_label"),
    ]
    subpage_types = []

    def offered_channels(self):
        """The channels people may tick besides email offers, as the editor chose."""
        offered = {Channel.POSTAL_MARKETING: self.offer_postal, Channel.THIRD_PARTY_SHARING: self.offer_sharing}
        return [channel for channel, on in offered.items() if on]

    def wording(self):
        """The consent wording exactly as the form shows it (HTML): what a confirmation keeps.

        Without the editor's block keys, so the version changes only when what people read does.
        """
        return BLOCK_KEY.sub("", expand_db_html(self.consent_text))

    def wording_version(self):
        return policy.wording_version(self.wording())

    def form(self, data=None, **initial):
        """The subscribe form; unbound, it carries the version of the wording it is shown with."""
        initial["wording"] = self.wording_version()
        return SignupForm(data, channels=self.offered_channels(), initial=initial)

    def get_context(self, request, *args, **kwargs):
        """What the page shows (also in the admin's preview): the form, or "check your inbox"."""
        return super().get_context(request, *args, **kwargs) | {
            "form": self.form(),
            "wording": mark_safe(self.wording()),  # rich text from the editor, rendered by Wagtail
            # A new page previewed in the admin has no id yet, so nowhere to post to.
            "action": reverse("signup:subscribe", args=[self.pk]) if self.pk else "",
            "sent": "sent" in request.GET,
        }

    def serve(self, request, *args, **kwargs):
        return show_form(request, self)

    def render_form(self, request, form=None, *, status=200, **extra):
        """The page with its form (`form` bound when it is shown again with errors)."""
        context = self.get_context(request) | ({"form": form} if form else {}) | extra
        return TemplateResponse(request, self.get_template(request), context, status=status)


@limit_per_client
def show_form(request, page):
    """GET only: the form posts to signup.views.subscribe, which sets no cookie."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return page.render_form(request)


class PendingSignup(models.Model):
    """A signup waiting for its link to be followed; deleted when confirmed, or
    double_opt_in.CONFIRM_WITHIN after it was made (a beat job).

    Only what confirming needs: the keyed hash of the address (to cap signups per address,
    and to check the link opened the right person), the address and first name sealed under
    a key that only the link holds (signup.links), the page, its audience, the channels
    ticked and the wording shown.
    """

    address_hash = models.CharField(max_length=64)
    sealed = models.BinaryField()
    page = models.ForeignKey(SignupPage, on_delete=models.CASCADE, related_name="+")
    audience = models.ForeignKey("campaigns.Audience", on_delete=models.CASCADE, related_name="+")
    channels = models.JSONField(default=list)
    wording = models.ForeignKey("suppression.ConsentWording", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["address_hash"], name="pending_signup_hash_idx")]  # no LIKE index
