"""Wagtail admin for campaigns: listing, report with live progress, lifecycle actions, delivery log."""

import django_filters
from django import forms
from django.contrib.admin.utils import quote
from django.db.models.functions import Lower
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import FormView, View
from wagtail.admin import messages
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn, StatusTagColumn
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.views.generic.base import BaseListingView, BaseObjectMixin, WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets import Button, HeaderButton, ListingButton

from campaigns import checklist
from campaigns.models import Campaign, Contact, Delivery, DeliveryEvent
from campaigns.reports import deliverability, stats
from campaigns.reports.charts import bar_chart
from campaigns.sending import ab, lifecycle
from campaigns.tasks import settle_subject_tests
from campaigns.web_version import web_version_url
from suppression.addresses import VIEW_PERSONAL_DATA
from suppression.admin_views import PersonalDataColumn

from . import actions as admin_actions
from .compose import CampaignCreateView, CampaignEditView, ReachView, ScheduleForm, campaign_panels, email_thumbnail


def action_url(action, campaign):
    return reverse(f"campaign:{action.name}", args=[quote(campaign.pk)])


def status_tag_primary(campaign):
    return campaign.status in (Campaign.Status.SENDING, Campaign.Status.SCHEDULED)


class CampaignIndexView(IndexView):
    """Campaign listing: a Report button per row; lifecycle actions in its "more" menu."""

    def get_list_more_buttons(self, instance):
        buttons = [
            button
            for button in super().get_list_more_buttons(instance)
            if getattr(button, "url", None) != self.get_inspect_url(instance)
        ]
        if inspect_url := self.get_inspect_url(instance):
            buttons.insert(0, ListingButton("Report", url=inspect_url, icon_name="view", priority=1))
        if self.user_has_permission("change"):
            buttons += [
                Button(action.label, url=action_url(action, instance), icon_name=action.icon, priority=40 + index)
                for index, action in enumerate(admin_actions.available(instance))
            ]
        return buttons


class CampaignReportView(InspectView):
    """The campaign's report: progress (live while sending), counts, chart, lifecycle buttons."""

    template_name = "campaigns/admin/report.html"
    page_title = "Report"
    header_icon = "mail"

    def get_object(self, queryset=None):
        return get_object_or_404(Campaign.objects.select_related("page"), pk=self.pk)

    @cached_property
    def header_buttons(self):
        if not self.user_has_permission("change"):
            return []
        return [
            HeaderButton(action.label, url=action_url(action, self.object), icon_name=action.icon, priority=index)
            for index, action in enumerate(admin_actions.available(self.object))
            if action is not admin_actions.RETRY_FAILED
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        results = stats.results(self.object)
        buckets, unit = stats.sent_over_time(self.object.pk)
        can_change = self.user_has_permission("change")
        context.update(
            campaign=self.object,
            results=results,
            limits=deliverability.limits(),
            subject_test=ab.figures(self.object) if self.object.test_ends_at else None,
            pick_url=(
                reverse("campaign:pick_winner", args=[quote(self.object.pk)])
                if can_change and ab.undecided(self.object)
                else None
            ),
            progress=results.progress,
            chart=bar_chart(buckets, unit) if buckets else None,
            chart_unit=unit,
            audiences=list(self.object.audiences.all()),
            status_url=reverse("campaign:status", args=[quote(self.object.pk)]),
            deliveries_url=reverse("campaign:deliveries", args=[quote(self.object.pk)]),
            can_change=can_change,
            pause=admin_actions.PAUSE if can_change and admin_actions.PAUSE.allowed(self.object) else None,
            resume=admin_actions.RESUME if can_change and admin_actions.RESUME.allowed(self.object) else None,
            retry_failed_url=(
                action_url(admin_actions.RETRY_FAILED, self.object)
                if can_change and results.progress.failed and admin_actions.RETRY_FAILED.allowed(self.object)
                else None
            ),
        )
        return context


class PickWinnerView(PermissionCheckedMixin, View):
    """POST: a marketer makes one subject variant the winner of an undecided A/B test, before
    or after the wait; a worker then sends it to the rest (no per-recipient work here)."""

    permission_required = "change"

    def get(self, request, pk):
        return redirect("campaign:inspect", pk)

    def post(self, request, pk):
        campaign = get_object_or_404(Campaign, pk=pk)
        variant = campaign.variants.filter(pk=request.POST.get("variant", "") or 0).first()
        if variant and ab.choose(campaign.pk, variant.pk):
            settle_subject_tests.delay()
            messages.success(request, f"Subject {variant.label} won; the rest of the audience gets it next.")
        else:
            messages.error(request, f"“{campaign}” has no subject test waiting for a winner.")
        return redirect("campaign:inspect", pk)


class CampaignStatusView(PermissionCheckedMixin, View):
    """Small JSON snapshot of progress that the report polls every two seconds while sending."""

    any_permission_required = ["add", "change", "delete", "view"]

    def get(self, request, pk):
        campaign = get_object_or_404(Campaign, pk=pk)
        return JsonResponse(stats.progress(campaign).as_json())


class CampaignActionView(PermissionCheckedMixin, WagtailAdminTemplateMixin, FormView):
    """GET asks for confirmation; POST performs one lifecycle action and returns to the report."""

    permission_required = "change"
    template_name = "campaigns/admin/confirm_action.html"
    form_class = forms.Form
    action = None

    def setup(self, request, *args, pk, **kwargs):
        super().setup(request, *args, pk=pk, **kwargs)
        self.campaign = get_object_or_404(Campaign, pk=pk)

    def get(self, request, *args, **kwargs):
        if not self.action.allowed(self.campaign):
            messages.error(
                request,
                f"{self.action.label}: not possible while “{self.campaign}” is "
                f"{self.campaign.get_status_display().lower()}.",
            )
            return redirect(self.report_url)
        return super().get(request, *args, **kwargs)

    @property
    def report_url(self):
        return reverse("campaign:inspect", args=[quote(self.campaign.pk)])

    def get_page_title(self):
        return self.action.label

    def get_page_subtitle(self):
        return self.campaign.name

    def get_header_icon(self):
        return self.action.icon

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse("campaign:index"), "label": "Campaigns"},
            {"url": self.report_url, "label": self.campaign.name},
            {"url": "", "label": self.action.label, "sublabel": self.campaign.name},
        ]

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            campaign=self.campaign,
            action=self.action,
            cancel_url=self.report_url,
            audiences=list(self.campaign.audiences.all()),
            **kwargs,
        )

    def form_valid(self, form):
        try:
            message = admin_actions.perform(
                self.action, self.campaign, self.request.user, when=form.cleaned_data.get("when")
            )
        except lifecycle.CampaignStateError as error:
            messages.error(self.request, str(error))
        else:
            messages.success(self.request, message)
        return redirect(self.report_url)


class SendCampaignView(CampaignActionView):
    """Send now, after the pre-send checklist (campaigns.checklist) and a link to the web version."""

    template_name = "campaigns/admin/send_confirm.html"
    action = admin_actions.SEND_NOW

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            checklist=checklist.check(self.campaign), web_url=web_version_url(self.campaign), **kwargs
        )


class ScheduleView(CampaignActionView):
    template_name = "campaigns/admin/schedule.html"
    form_class = ScheduleForm
    action = admin_actions.SCHEDULE

    def get_initial(self):
        if self.campaign.scheduled_at:
            return {"when": timezone.localtime(self.campaign.scheduled_at)}
        return {}


class DeliveryFilterSet(WagtailFilterSet):
    status = django_filters.ChoiceFilter(choices=Delivery.Status.choices)
    reason = django_filters.ChoiceFilter(label="Suppressed by", choices=Delivery.SUPPRESSED_BY)
    event = django_filters.ChoiceFilter(
        label="ESP reported", field_name="events__kind", choices=DeliveryEvent.Kind.choices
    )

    class Meta:
        model = Delivery
        fields = ["status", "reason", "event"]


class DeliveryLogView(PermissionCheckedMixin, BaseObjectMixin, BaseListingView):
    """Per-recipient log of one campaign, filterable by outcome; whole addresses and search
    by address for users with VIEW_PERSONAL_DATA, masked addresses for the rest."""

    any_permission_required = ["add", "change", "delete", "view"]
    model = Campaign
    page_title = "Delivery log"
    header_icon = "list-ul"
    paginate_by = 50
    search_fields = ["contact__email"]
    filterset_class = DeliveryFilterSet
    default_ordering = "contact_id"  # the (campaign, contact) unique index keeps pages fast
    verbose_name_plural = "deliveries"
    columns = [
        PersonalDataColumn("email", label="Recipient", accessor="contact.email"),
        StatusTagColumn(
            "status",
            label="Status",
            accessor="get_status_display",
            primary=lambda delivery: delivery.status == Delivery.Status.SENT,
        ),
        PersonalDataColumn("reason", label="Reason or error"),
        Column("attempts", label="Attempts"),
        DateColumn("sent_at", label="Sent"),
        Column("esp_message_id", label="ESP message id"),
    ]

    @cached_property
    def is_searchable(self):
        return self.request.user.has_perm(VIEW_PERSONAL_DATA)

    def get_base_queryset(self):
        return Delivery.objects.filter(campaign=self.object).select_related("contact")

    def search_queryset(self, queryset):
        query = self.search_query.strip()
        if "@" in query and " " not in query:
            # A whole address: exact match through the contact's case-insensitive unique index.
            matching = Contact.objects.annotate(email_key=Lower("email")).filter(email_key=query.lower())
            return queryset.filter(contact__in=matching.values("pk"))
        return super().search_queryset(queryset)

    def get_index_url(self):
        return reverse("campaign:deliveries", args=[quote(self.object.pk)])

    def get_index_results_url(self):
        return reverse("campaign:deliveries_results", args=[quote(self.object.pk)])

    def get_page_subtitle(self):
        return self.object.name

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse("campaign:index"), "label": "Campaigns"},
            {"url": reverse("campaign:inspect", args=[quote(self.object.pk)]), "label": self.object.name},
            {"url": "", "label": self.page_title, "sublabel": self.object.name},
        ]

    @cached_property
    def no_results_message(self):
        if self.is_searching or self.is_filtering:
            return "No deliveries match your search or filters."
        return "This campaign has no deliveries yet: they are created when it starts sending."


class CampaignViewSet(ModelViewSet):
    model = Campaign
    icon = "mail"
    menu_label = "Campaigns"
    menu_order = 200
    add_to_admin_menu = True
    index_view_class = CampaignIndexView
    inspect_view_enabled = True
    inspect_view_class = CampaignReportView
    list_display = [
        "name",
        "page",
        StatusTagColumn("status", label="Status", accessor="get_status_display", primary=status_tag_primary),
        DateColumn("scheduled_at", label="Scheduled"),
        DateColumn("finished_at", label="Finished"),
        Column("pause_reason", label="Paused because"),
    ]
    list_filter = ["status"]
    search_fields = ["name"]
    add_view_class = CampaignCreateView
    edit_view_class = CampaignEditView
    edit_handler = campaign_panels()
    copy_view_enabled = False

    def get_urlpatterns(self):
        policy = self.permission_policy
        actions = [
            path(
                f"{action.name}/<int:pk>/",
                CampaignActionView.as_view(permission_policy=policy, action=action),
                name=action.name,
            )
            for action in admin_actions.ACTIONS
            if action not in (admin_actions.SEND_NOW, admin_actions.SCHEDULE)
        ]
        return (
            super().get_urlpatterns()
            + actions
            + [
                path("send/<int:pk>/", SendCampaignView.as_view(permission_policy=policy), name="send"),
                path("schedule/<int:pk>/", ScheduleView.as_view(permission_policy=policy), name="schedule"),
                path("pick-winner/<int:pk>/", PickWinnerView.as_view(permission_policy=policy), name="pick_winner"),
                path("status/<int:pk>/", CampaignStatusView.as_view(permission_policy=policy), name="status"),
                path("reach/", ReachView.as_view(permission_policy=policy), name="reach"),
                path("email-thumbnail/<int:page_id>/", email_thumbnail, name="email_thumbnail"),
                path("deliveries/<int:pk>/", DeliveryLogView.as_view(permission_policy=policy), name="deliveries"),
                path(
                    "deliveries/<int:pk>/results/",
                    DeliveryLogView.as_view(permission_policy=policy, results_only=True),
                    name="deliveries_results",
                ),
            ]
        )
