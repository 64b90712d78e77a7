"""Composing a campaign on one page, top to bottom: name; the email (a chooser of live email
pages with a thumbnail of what will be sent); who gets it, with a live "N will get it,
M suppressed" count; UTM tags; an optional A/B subject test; then the review: the checklist, a test send, and Send now or
Schedule (to the minute, in the user's time zone, UTC shown too).

Saving goes back to the review; saving changes to a scheduled campaign unschedules it, so
it is reviewed again before it goes. The counting, checking and sending live in
campaigns.audiences.targeting, campaigns.checklist, campaigns.proofs and campaigns.sending.
"""

import functools
import zoneinfo
from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.generic import View
from wagtail.admin import messages
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, HelpPanel, MultiFieldPanel, ObjectList, Panel
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic import CreateView, EditView
from wagtail.admin.views.generic.chooser import ChooseResultsView, ChooseView
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.viewsets.chooser import ChooserViewSet
from wagtail.admin.widgets import BaseChooser

from campaigns import checklist
from campaigns.audiences.targeting import chosen_recipients, reach
from campaigns.models import Audience, Campaign, Segment, SubjectVariant
from campaigns.sending import ab
from campaigns.web_version import web_version_url
from cms.models import EmailPage
from cms.rendering import freeze, web_version_html

from .permissions import SEND_TEST

Status = Campaign.Status
EDITABLE = (Status.DRAFT, Status.SCHEDULED)
AUTHORS = ("campaigns.add_campaign", "campaigns.change_campaign")
TEST_SETTINGS = ("test_share", "test_wait", "test_metric")


def subject_field(label):
    """The form field for subject variant `label` (one of ab.LABELS)."""
    return f"subject_{label.lower()}"


def for_campaign_authors(view):
    """Refuse the view (403) to users who may neither add nor change campaigns."""

    @functools.wraps(view)
    def checked(request, *args, **kwargs):
        if not any(request.user.has_perm(permission) for permission in AUTHORS):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return checked


# --- The email: a chooser of live email pages, with a thumbnail of the published version ---


class LiveEmailColumns:
    @property
    def columns(self):
        return super().columns + [
            Column("subject", label="Subject"),
            DateColumn("last_published_at", label="Published"),
        ]


class EmailChooseView(LiveEmailColumns, ChooseView):
    pass


class EmailChooseResultsView(LiveEmailColumns, ChooseResultsView):
    pass


class EmailChooserWidget(BaseChooser):
    """Wagtail's chooser, plus a thumbnail of the chosen email as it will be sent (the
    campaign form's script reloads it when another email is chosen)."""

    choose_one_text = "Choose an email"
    choose_another_text = "Choose another email"
    link_to_chosen_text = "Edit this email"
    show_clear_link = False

    def render_html(self, name, value_data, attrs):
        chooser = super().render_html(name, value_data, attrs)
        chosen = (value_data or {}).get("id")
        thumbnail = render_to_string(
            "campaigns/admin/email_thumbnail.html",
            {
                "input_id": attrs["id"],
                "url_template": reverse("campaign:email_thumbnail", args=[0]),
                "url": reverse("campaign:email_thumbnail", args=[chosen]) if chosen else "",
            },
        )
        return chooser + thumbnail


class EmailChooserViewSet(ChooserViewSet):
    """Only live email pages: a campaign sends what is published."""

    model = EmailPage
    icon = "mail"
    choose_one_text = "Choose an email"
    choose_another_text = "Choose another email"
    page_title = "Choose a published email"
    choose_view_class = EmailChooseView
    choose_results_view_class = EmailChooseResultsView
    base_widget_class = EmailChooserWidget
    register_widget = False  # used by the campaign form only

    def get_object_list(self):
        return EmailPage.objects.live().order_by("-last_published_at", "-pk")

    def get_urlpatterns(self):
        return [
            path(str(url.pattern), for_campaign_authors(url.callback), name=url.name)
            for url in super().get_urlpatterns()
        ]


email_chooser_viewset = EmailChooserViewSet("email_chooser", url_prefix="campaign-email-chooser")


@for_campaign_authors
@xframe_options_sameorigin
def email_thumbnail(request, page_id):
    """The published version of an email page as the web version shows it (sample values):
    the campaign form shows it scaled down next to the chooser."""
    page = get_object_or_404(EmailPage, pk=page_id).published_version()
    if page is None:
        raise Http404("This email is not published.")
    return HttpResponse(web_version_html(freeze(page)))


# --- Who gets it: audiences and segments with their sizes, and the live count ---


class CampaignForm(WagtailAdminModelForm):
    """Audiences named with their sizes; an empty list of segments says how to make one;
    optional subject variants for an A/B test (SubjectVariant rows, labelled A to D)."""

    subject_a, subject_b, subject_c, subject_d = (
        forms.CharField(label=f"Subject {label}", max_length=255, required=False) for label in ab.LABELS
    )

    class Media:
        js = ["campaigns/js/campaign_form.js"]
        css = {"all": ["campaigns/css/campaign_form.css"]}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        audiences = Audience.objects.annotate(size=Count("membership")).order_by("name")
        segments = Segment.objects.order_by("name")
        for name in ("audiences", "excluded_audiences"):
            self.fields[name].queryset = audiences
            self.fields[name].label_from_instance = lambda audience: f"{audience.name} ({audience.size:,} contacts)"
        for name in ("segments", "excluded_segments"):
            self.fields[name].queryset = segments
        if not audiences.exists():
            self.fields["audiences"].help_text = "No audiences yet: an Admin imports a customer list into one."
        if not segments.exists():
            message = "No segments yet. A segment is a saved rule (tag, country, purchases…); make one under Segments."
            self.fields["segments"].help_text = message
            self.fields["excluded_segments"].help_text = "No segments yet."
        for name in TEST_SETTINGS:
            self.fields[name].required = False
        if self.instance.pk:
            for variant in self.instance.variants.all():
                self.initial[subject_field(variant.label)] = variant.subject

    @functools.cached_property
    def changed_data(self):
        """Test settings a post leaves out keep their values: not a change."""
        return [
            name
            for name in super().changed_data
            if name not in TEST_SETTINGS
            or not self[name].field.widget.value_omitted_from_data(self.data, self.files, self.add_prefix(name))
        ]

    def subjects(self):
        """The variant subjects typed in, in order, empty ones left out."""
        typed = ((self.cleaned_data.get(subject_field(label)) or "").strip() for label in ab.LABELS)
        return [subject for subject in typed if subject]

    def clean(self):
        cleaned = super().clean()
        for name in TEST_SETTINGS:  # optional: left empty, they keep what they were
            if cleaned.get(name) in (None, ""):
                cleaned[name] = getattr(self.instance, name)
        if len(self.subjects()) == 1:
            self.add_error("subject_b", "An A/B test needs at least two subjects; leave them all empty for none.")
        return cleaned

    def save(self, commit=True):
        campaign = super().save(commit)
        if commit:
            SubjectVariant.objects.filter(campaign=campaign).delete()
            if len(subjects := self.subjects()) >= 2:
                SubjectVariant.objects.bulk_create(
                    SubjectVariant(campaign=campaign, label=label, subject=subject)
                    for label, subject in zip(ab.LABELS, subjects, strict=False)
                )
        return campaign


def checkboxes():
    return forms.CheckboxSelectMultiple(attrs={"data-campaign-reach-input": ""})


def chosen_ids(values):
    return [int(value) for value in values if value.isdigit()]


class ReachView(PermissionCheckedMixin, View):
    """JSON for the live count: how many the chosen audiences and segments reach, and how
    many of them are suppressed (opted out, bounced, complained)."""

    any_permission_required = ["add", "change"]

    def get(self, request):
        query = request.GET
        contacts = chosen_recipients(
            chosen_ids(query.getlist("audiences")),
            Segment.objects.filter(pk__in=chosen_ids(query.getlist("segments"))),
            chosen_ids(query.getlist("excluded_audiences")),
            Segment.objects.filter(pk__in=chosen_ids(query.getlist("excluded_segments"))),
        )
        targeted, reachable = reach(contacts)
        return JsonResponse({"targeted": targeted, "reachable": reachable, "suppressed": targeted - reachable})


# --- The review: checklist, test send, Send now or Schedule ---


class ScheduleForm(forms.Form):
    when = forms.DateTimeField(
        label="Send at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": 60}, format="%Y-%m-%dT%H:%M"),
        help_text="Date and time to the minute, in your time zone.",
    )
    time_zone = forms.ChoiceField(
        widget=forms.HiddenInput, choices=[(name, name) for name in sorted(zoneinfo.available_timezones())]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = timezone.get_current_timezone_name()
        self.fields["time_zone"].initial = self.zone
        self.fields["when"].widget.attrs.update({"data-schedule-when": "", "data-time-zone": self.zone})

    class Media:
        js = ["campaigns/js/campaign_form.js"]

    def clean(self):
        cleaned = super().clean()
        when, zone = cleaned.get("when"), cleaned.get("time_zone")
        if when and zone:
            # The picker's wall-clock time, read in the zone it was shown in (the user's).
            when = timezone.make_aware(
                timezone.make_naive(when).replace(second=0, microsecond=0), zoneinfo.ZoneInfo(zone)
            )
            if when <= timezone.now():
                self.add_error("when", "Choose a time in the future, or use “Send now”.")
            cleaned["when"] = when
        return cleaned


def suggested_time(campaign):
    """The schedule field's first value: the time already set, else the next full hour
    at least half an hour away (the user's time zone)."""
    if campaign.scheduled_at and campaign.status == Status.SCHEDULED:
        return timezone.localtime(campaign.scheduled_at)
    later = timezone.localtime() + timedelta(minutes=90)
    return later.replace(minute=0, second=0, microsecond=0)


def review_urls(campaign):
    """Where the review's buttons post: each is a small form outside the campaign's own."""
    edit_url = reverse("campaign:edit", args=[quote(campaign.pk)]) + "#review"
    return {
        "test_send": reverse("campaigns_test_send", args=[campaign.page_id]) + "?" + urlencode({"next": edit_url}),
        "send": reverse("campaign:send", args=[quote(campaign.pk)]),
        "schedule": reverse("campaign:schedule", args=[quote(campaign.pk)]),
    }


class ReviewPanel(Panel):
    """The last section of the campaign form: what will be sent to whom, whether it may go,
    a test send, and Send now or Schedule. Its buttons belong to forms outside the
    campaign's own form (HTML forms cannot nest), which campaign_edit.html renders."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "campaigns/admin/review_panel.html"

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            campaign = self.instance
            if campaign.pk is None or campaign.status not in EDITABLE:
                return context
            when = suggested_time(campaign)
            context.update(
                campaign=campaign,
                checklist=checklist.check(campaign),
                variants=list(campaign.variants.all()),
                web_url=web_version_url(campaign),
                urls=review_urls(campaign),
                test_address=self.request.user.email,
                when=when,
                when_utc=when.astimezone(zoneinfo.ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M"),  # not localised
                time_zone=timezone.get_current_timezone_name(),
                scheduled=campaign.status == Status.SCHEDULED,
                can_change=self.request.user.has_perm("campaigns.change_campaign"),
                can_test=self.request.user.has_perm(SEND_TEST),
            )
            return context


def campaign_panels():
    return ObjectList(
        [
            FieldPanel("name", help_text="For you and your colleagues; recipients never see it."),
            MultiFieldPanel(
                [FieldPanel("page", widget=email_chooser_viewset.widget_class, heading="Email")],
                heading="Email",
                help_text="A published email page. Campaigns send its published version, never a draft.",
            ),
            MultiFieldPanel(
                [
                    FieldPanel("audiences", widget=checkboxes()),
                    FieldPanel("segments", widget=checkboxes()),
                    FieldPanel("excluded_audiences", widget=checkboxes(), heading="Except the audiences"),
                    FieldPanel("excluded_segments", widget=checkboxes(), heading="Except the segments"),
                    HelpPanel(template="campaigns/admin/reach_panel.html"),
                ],
                heading="Who gets it",
            ),
            MultiFieldPanel(
                [
                    FieldPanel("utm_source", heading="Source (utm_source)"),
                    FieldPanel("utm_medium", heading="Medium (utm_medium)"),
                    FieldPanel("utm_campaign", heading="Campaign (utm_campaign)"),
                ],
                heading="Tracking (UTM)",
                help_text="Optional: added to the links in the email (never to the unsubscribe link).",
            ),
            MultiFieldPanel(
                [
                    *(FieldPanel(subject_field(label)) for label in ab.LABELS),
                    FieldPanel("test_share"),
                    FieldPanel("test_wait"),
                    FieldPanel("test_metric"),
                ],
                heading="Subject test (A/B)",
                help_text=(
                    "Optional: two to four subjects instead of the email's own. The test share of the "
                    "audience gets them at random; after the wait the rest gets the one with the best "
                    "open or click rate, or the one you pick on the report."
                ),
            ),
            ReviewPanel(heading="Review"),
        ],
        base_form_class=CampaignForm,
    )


class CampaignCreateView(CreateView):
    template_name = "campaigns/admin/campaign_edit.html"
    submit_button_label = "Save and review"

    def get_success_url(self):
        return reverse(self.edit_url_name, args=[quote(self.object.pk)]) + "#review"

    def get_success_message(self, instance):
        return f"“{instance}” is saved. Review it below, then send it or schedule it."


class CampaignEditView(EditView):
    template_name = "campaigns/admin/campaign_edit.html"
    submit_button_label = "Save and review"
    unscheduled = None

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.object = self.get_object()

    def dispatch(self, request, *args, **kwargs):
        if self.object.status not in EDITABLE:
            messages.warning(
                request, f"“{self.object}” is {self.object.get_status_display().lower()}: it can no longer be edited."
            )
            return redirect("campaign:inspect", quote(self.object.pk))
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        with transaction.atomic():
            # Locked, so beat cannot start it while it is saved; saving changes to a
            # scheduled campaign takes it back to review.
            status = Campaign.objects.select_for_update().filter(pk=self.object.pk).values_list("status", flat=True)
            status = status.first()
            if status not in EDITABLE:
                messages.error(self.request, f"“{self.object}” started sending meanwhile; your changes were not saved.")
                return redirect("campaign:inspect", quote(self.object.pk))
            if status == Status.SCHEDULED and form.has_changed():
                self.unscheduled = self.object.scheduled_at
                status = Status.DRAFT
            form.instance.status = status
            return super().form_valid(form)

    def get_success_url(self):
        return reverse(self.edit_url_name, args=[quote(self.object.pk)]) + "#review"

    def get_success_message(self):
        if self.unscheduled:
            when = date_format(timezone.localtime(self.unscheduled), "DATETIME_FORMAT")
            return f"“{self.object}” is back in review: it was scheduled for {when}. Check it and schedule it again."
        return f"“{self.object}” is saved. Review it below, then send it or schedule it."

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["review_urls"] = review_urls(self.object)
        return context
