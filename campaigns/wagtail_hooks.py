"""Wagtail admin: campaigns and audiences viewsets."""

from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSet

from . import test_send_views  # noqa: F401  (registers the "Send a test" button and URL)
from .campaign_admin import CampaignViewSet
from .models import Audience


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
    return [CampaignViewSet("campaign"), AudienceViewSet("audience")]
