"""Wagtail admin: registers the campaigns app's viewsets (the views live in campaigns/admin/)."""

from wagtail import hooks

from campaigns.admin import proofs  # noqa: F401  (registers the "Send a test" button and URL)
from campaigns.admin.campaigns import CampaignViewSet
from campaigns.admin.contacts import AudienceViewSet, ContactViewSet, SegmentViewSet
from campaigns.admin.imports import ImportViewSet
from campaigns.admin.personal_data import PrivacyViewSet


@hooks.register("register_admin_viewset")
def register_viewsets():
    return [
        CampaignViewSet("campaign"),
        AudienceViewSet("audience"),
        ContactViewSet("contact"),
        SegmentViewSet("segment"),
        ImportViewSet("imports"),
        PrivacyViewSet("privacy"),
    ]
