"""Wagtail admin: campaigns and audiences viewsets."""

from django.urls import path, reverse
from wagtail import hooks
from wagtail.admin.ui.tables import Column
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.views.generic import IndexView
from wagtail.admin.widgets import ListingButton

from .models import Audience, Campaign
from .privacy_views import PrivacyViewSet
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
    form_fields = ["name", "page", "audiences"]
    copy_view_enabled = False

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("send/<int:pk>/", SendCampaignView.as_view(permission_policy=self.permission_policy), name="send"),
        ]


class AudienceViewSet(ModelViewSet):
    model = Audience
    icon = "group"
    menu_label = "Audiences"
    menu_order = 210
    add_to_admin_menu = True
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    form_fields = ["name"]


@hooks.register("register_admin_viewset")
def register_viewsets():
    return [CampaignViewSet("campaign"), AudienceViewSet("audience"), PrivacyViewSet("privacy")]
