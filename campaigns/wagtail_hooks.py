"""Wagtail admin: the campaigns viewset, and registration of the other campaigns viewsets."""

from wagtail import hooks

from . import test_send_views  # noqa: F401  (registers the "Send a test" button and URL)
from .campaign_admin import CampaignViewSet
from .contact_admin import AudienceViewSet, ContactViewSet, SegmentViewSet
from .import_admin import ImportViewSet
from .privacy_views import PrivacyViewSet


@hooks.register("register_admin_viewset")
def register_viewsets():
    return [CampaignViewSet("campaign"), AudienceViewSet("audience"), ContactViewSet("contact"),
            SegmentViewSet("segment"), ImportViewSet("imports"), PrivacyViewSet("privacy")]
