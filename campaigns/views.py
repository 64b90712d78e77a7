"""Wagtail admin views for campaigns that the generic viewset does not provide."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin

from . import checklist, sending
from .models import Campaign
from .tasks import start_campaign
from .web_version import web_version_url


class SendCampaignView(PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView):
    """Confirm, then queue the campaign: no per-recipient work happens in this request."""

    permission_required = "change"
    template_name = "campaigns/admin/send_confirm.html"
    page_title = "Send campaign"

    def dispatch(self, request, *args, pk, **kwargs):
        self.campaign = get_object_or_404(Campaign, pk=pk)
        return super().dispatch(request, *args, **kwargs)

    def get_page_subtitle(self):
        return self.campaign.name

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            campaign=self.campaign,
            checklist=checklist.check(self.campaign),
            web_url=web_version_url(self.campaign),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        try:
            sending.schedule(self.campaign)
        except sending.CampaignStateError as error:
            messages.error(request, str(error))
        else:
            start_campaign.delay(self.campaign.pk)
            messages.success(request, f"“{self.campaign}” is queued; workers start sending within seconds.")
        return redirect(reverse("campaign:index"))
