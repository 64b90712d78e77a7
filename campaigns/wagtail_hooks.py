"""Wagtail admin: registers the campaigns app's viewsets (the views live in campaigns/admin/)."""

from wagtail import hooks

from campaigns.admin import dashboard, proofs  # noqa: F401  (proofs registers the "Send a test" button and URL)
from campaigns.admin.campaigns import CampaignViewSet
from campaigns.admin.compose import email_chooser_viewset
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
        email_chooser_viewset,
    ]


# Late (order=100): after Wagtail's own apps have added their page, image and document counts.
hooks.register("construct_homepage_summary_items", dashboard.construct_summary, order=100)
hooks.register("construct_homepage_panels", dashboard.construct_panels)


@hooks.register("register_icons")
def register_icons(icons):
    """Icons the campaigns admin uses that Wagtail does not ship."""
    return icons + ["campaigns/icons/filter.svg", "campaigns/icons/pause.svg", "campaigns/icons/play.svg"]
