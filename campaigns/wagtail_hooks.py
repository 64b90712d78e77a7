"""Wagtail admin: the campaigns viewset, and registration of the other campaigns viewsets."""

from django.urls import path, reverse
from wagtail import hooks
from wagtail.admin.ui.tables import Column
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.views.generic import IndexView
from wagtail.admin.widgets import ListingButton

from . import test_send_views  # noqa: F401  (registers the "Send a test" button and URL)
from .contact_admin import AudienceViewSet, ContactViewSet, SegmentViewSet
from .import_admin import ImportViewSet
from .models import Campaign
from .views import SendCampaignView


class CampaignIndexView(IndexView):
    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        if instance.status == Campaign.Status.DRAFT:
            buttons.append(
                ListingButton("Send now", url=reverse("campaign:send", args=[instance.pk]), icon_name="mail", priority=5)
            )
        return buttons


class CampaignViewSet(ModelViewSet):
    model = Campaign
    icon = "mail"
    menu_label = "Campaigns"
    menu_order = 200
    add_to_admin_menu = True
    index_view_class = CampaignIndexView
    list_display = ["name", "page", Column("status", label="Status", accessor="get_status_display"), "scheduled_at"]
    list_filter = ["status"]
    search_fields = ["name"]
    form_fields = ["name", "page", "audiences", "segments", "excluded_audiences", "excluded_segments"]
    copy_view_enabled = False

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("send/<int:pk>/", SendCampaignView.as_view(permission_policy=self.permission_policy), name="send"),
        ]


@hooks.register("register_admin_viewset")
def register_viewsets():
    return [CampaignViewSet("campaign"), AudienceViewSet("audience"), ContactViewSet("contact"),
            SegmentViewSet("segment"), ImportViewSet("imports")]
