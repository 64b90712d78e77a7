"""The admin dashboard: contacts / deliverable / suppressed counts in place of Wagtail's page
and image counts, and a campaigns panel: sending now (with progress), scheduled next, the
last five sent with their key rates, a "New campaign" button, and first steps until the
first campaign is sent. Registered by campaigns.wagtail_hooks."""

from django.urls import reverse
from wagtail.admin.site_summary import SummaryItem
from wagtail.admin.ui.components import Component
from wagtail.models import Site

from campaigns.audiences.segments import deliverable
from campaigns.models import Campaign, Contact
from campaigns.reports import stats
from cms.models import EmailPage

from .permissions import IMPORT

Status = Campaign.Status
CAMPAIGN_PERMISSIONS = ("campaigns.add_campaign", "campaigns.change_campaign", "campaigns.view_campaign")


def can_see_campaigns(user):
    return any(user.has_perm(permission) for permission in CAMPAIGN_PERMISSIONS)


class CountItem(SummaryItem):
    """One figure in the dashboard's summary row, linked to where it comes from."""

    template_name = "campaigns/admin/dashboard/count_item.html"

    def __init__(self, request, order, icon, count, label, url=None):
        super().__init__(request)
        self.order, self.icon, self.count, self.label, self.url = order, icon, count, label, url

    def get_context_data(self, parent_context):
        return {"icon": self.icon, "count": self.count, "label": self.label, "url": self.url}


def audience_counts(request):
    """Contacts, how many promotional mail may reach, and how many it may not."""
    user = request.user
    contacts = Contact.objects.count()
    reachable = deliverable(Contact.objects.all()).count()
    contact_url = reverse("contact:index") if user.has_perm("campaigns.view_contact") else None
    return [
        CountItem(request, 10, "user", contacts, "Contacts", contact_url),
        CountItem(request, 20, "mail", reachable, "Deliverable", contact_url and f"{contact_url}?email_offers=open"),
        CountItem(
            request,
            30,
            "lock",
            contacts - reachable,
            "Suppressed",
            reverse("suppression_admin:index") if user.has_perm("suppression.view_suppression") else None,
        ),
    ]


def first_steps(user):
    """What a newcomer does, in order, each marked done once it is; None once a campaign was sent."""
    if Campaign.objects.filter(status=Status.SENT).exists():
        return None
    site = Site.objects.filter(is_default_site=True).first()
    return [
        {
            "label": "Import your customer list",
            "done": Contact.objects.exists(),
            "url": reverse("imports:upload") if user.has_perm(IMPORT) else None,
            "hint": "CSV or XLSX from your shop, CRM or previous email tool"
            + ("." if user.has_perm(IMPORT) else "; an Admin imports it."),
        },
        {
            "label": "Compose an email and publish it",
            "done": EmailPage.objects.live().exists(),
            "url": site and reverse("wagtailadmin_pages:add", args=("cms", "emailpage", site.root_page_id)),
            "hint": "An email page of product and course offers; campaigns send what is published.",
        },
        {
            "label": "Create a campaign",
            "done": Campaign.objects.exists(),
            "url": reverse("campaign:add") if user.has_perm("campaigns.add_campaign") else None,
            "hint": "Choose the email and who gets it; the review checks it before you send.",
        },
        {"label": "Send it, or schedule it", "done": False, "url": None, "hint": "Then follow it on its report."},
    ]


class CampaignsPanel(Component):
    name = "campaigns"
    template_name = "campaigns/admin/dashboard/campaigns_panel.html"
    order = 50  # above Wagtail's own panels

    def __init__(self, request):
        self.request = request

    def get_context_data(self, parent_context):
        user = self.request.user
        sending = Campaign.objects.filter(status__in=[Status.SENDING, Status.PAUSED]).order_by("started_at")
        sent = Campaign.objects.filter(status=Status.SENT).order_by("-finished_at")[:5]
        return {
            "can_add": user.has_perm("campaigns.add_campaign"),
            "add_url": reverse("campaign:add"),
            "index_url": reverse("campaign:index"),
            "sending": [(campaign, stats.progress(campaign)) for campaign in sending],
            "scheduled": Campaign.objects.filter(status=Status.SCHEDULED).order_by("scheduled_at")[:5],
            "drafts": Campaign.objects.filter(status=Status.DRAFT).count(),
            "recent": stats.key_rates(sent),
            "first_steps": first_steps(user),
        }


def construct_summary(request, items):
    """Mailroom's figures replace Wagtail's page, image and document counts."""
    if can_see_campaigns(request.user):
        items[:] = audience_counts(request)


def construct_panels(request, panels):
    if can_see_campaigns(request.user):
        panels.append(CampaignsPanel(request))
