"""Wagtail admin for contacts, audiences and segments, and the Admins-only CSV exports.

Marketers see audiences and segments with their counts (and build segments); only Admins
(permissions view_contact / export_contacts) see contacts' personal data or export it.
The contact listing shows where each contact stands on every channel, read from the
suppression ledger (suppression.policy), and a contact's page shows its consent history.
"""

import io
import tempfile
from datetime import datetime

import django_filters
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.text import slugify
from django.views import View
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.panels import FieldPanel, InlinePanel
from wagtail.admin.ui.tables import Column, StatusTagColumn
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets import HeaderButton, ListingButton

from campaigns.audiences import exporting, segments
from campaigns.models import Audience, Contact, Segment
from suppression import policy
from suppression.addresses import VIEW_PERSONAL_DATA
from suppression.models import Channel, ConsentEvent, Source

from .permissions import EXPORT, IMPORT, PermissionRequiredMixin

# Listing column → (label, the channel whose ledger row closes it, what a closed one says).
CHANNEL_COLUMNS = {
    "email_offers": ("Email offers", Channel.EMAIL_MARKETING, "Opted out"),
    "postal": ("Postal offers", Channel.POSTAL_MARKETING, "Opted out"),
    "affiliates": ("Affiliates", Channel.THIRD_PARTY_SHARING, "Opted out"),
    "undeliverable": ("Undeliverable", Channel.UNDELIVERABLE, "Undeliverable"),
}


def members(audience):
    return Contact.objects.filter(pk__in=audience.membership_set.values("contact_id"))


class ExportView(PermissionRequiredMixin, View):
    """Stream a CSV export as a download; exporting.export records it in the audit log."""

    permission = EXPORT
    kind = ""

    def contacts_and_label(self, pk):
        raise NotImplementedError

    def get(self, request, pk=None):
        contacts, label, columns = self.contacts_and_label(pk)
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it after streaming)
        text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
        exporting.export(self.kind, label, contacts, text, columns, user=request.user)
        text.flush()
        text.detach()
        spool.seek(0)
        return FileResponse(
            spool, as_attachment=True, filename=f"{slugify(label) or self.kind}.csv", content_type="text/csv"
        )


class AudienceExportView(ExportView):
    kind = "audience"

    def contacts_and_label(self, pk):
        audience = get_object_or_404(Audience, pk=pk)
        return members(audience), audience.name, exporting.CONTACT_COLUMNS


class SegmentExportView(ExportView):
    kind = "segment"

    def contacts_and_label(self, pk):
        segment = get_object_or_404(Segment, pk=pk)
        return segments.contacts_in(segment), segment.name, exporting.CONTACT_COLUMNS


class PostalExportView(ExportView):
    kind = "postal"

    def contacts_and_label(self, pk):
        return exporting.postal_contacts(), "postal offers", exporting.POSTAL_COLUMNS


class ThirdPartyExportView(ExportView):
    kind = "third_party"

    def contacts_and_label(self, pk):
        return exporting.third_party_contacts(), "affiliated companies", exporting.THIRD_PARTY_COLUMNS


def export_button(request, url_name, instance):
    if request.user.has_perm(EXPORT):
        return [
            ListingButton("Export CSV", url=reverse(url_name, args=[instance.pk]), icon_name="download", priority=20)
        ]
    return []


def with_channel_status(contacts):
    """Annotate each contact with `<column>_closed` (and `complained`) from the ledger."""
    closed = {
        f"{name}_closed": policy.suppressed_for("email_hash", channel)
        for name, (_, channel, _) in CHANNEL_COLUMNS.items()
    }
    return contacts.annotate(**closed, complained=policy.suppressed_for("email_hash", Channel.COMPLAINT))


def channel_status(name):
    label, _, closed_text = CHANNEL_COLUMNS[name]

    def status(contact):
        if name == "email_offers" and contact.complained:
            return "Spam complaint"
        if getattr(contact, f"{name}_closed"):
            return closed_text
        return "—" if name == "undeliverable" else "Subscribed"

    return StatusTagColumn(name, label=label, accessor=status, primary=lambda contact: status(contact) == "Subscribed")


class ChannelFilter(django_filters.ChoiceFilter):
    """Contacts open or closed on one channel (reads the `<column>_closed` annotation)."""

    def __init__(self, column, **kwargs):
        self.column = column
        label, _, closed_text = CHANNEL_COLUMNS[column]
        open_text = "Deliverable" if column == "undeliverable" else "Subscribed"
        super().__init__(label=label, choices=[("open", open_text), ("closed", closed_text)], **kwargs)

    def filter(self, queryset, value):
        if not value:
            return queryset
        return queryset.filter(**{f"{self.column}_closed": value == "closed"})


class ContactFilterSet(WagtailFilterSet):
    email_offers = ChannelFilter("email_offers")
    postal = ChannelFilter("postal")
    affiliates = ChannelFilter("affiliates")
    undeliverable = ChannelFilter("undeliverable")

    class Meta:
        model = Contact
        fields = ["country", "language"]


class ContactIndexView(IndexView):
    def get_base_queryset(self):
        return with_channel_status(super().get_base_queryset())

    @cached_property
    def header_buttons(self):
        buttons = super().header_buttons
        if self.request.user.has_perm(EXPORT):
            buttons += [
                HeaderButton("Export for postal offers", url=reverse("contact:export_postal"), icon_name="download"),
                HeaderButton(
                    "Export for affiliated companies", url=reverse("contact:export_third_party"), icon_name="download"
                ),
            ]
        return buttons


class ContactInspectView(InspectView):
    """A contact's details and, for Admins, where they stand on each channel and every
    consent change behind it (the append-only log, newest first)."""

    template_name = "campaigns/admin/contact_inspect.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.request.user.has_perm(VIEW_PERSONAL_DATA):
            closed = {row["channel"]: row for row in policy.person_record(self.object.email)["suppressions"]}
            sources = dict(Source.choices)
            context["channels"] = [
                {
                    "label": label,
                    "closed": value in closed,
                    "since": datetime.fromisoformat(closed[value]["created_at"]) if value in closed else None,
                    "how": sources.get(closed[value]["source"], "") if value in closed else "",
                    "reason": closed[value]["reason"] if value in closed else "",
                }
                for value, label in Channel.choices
            ]
            context["consent_events"] = ConsentEvent.objects.filter(address_hash=self.object.email_hash)
        return context


class ContactViewSet(ModelViewSet):
    model = Contact
    icon = "user"
    menu_label = "Contacts"
    menu_order = 205
    add_to_admin_menu = True
    index_view_class = ContactIndexView
    inspect_view_enabled = True
    inspect_view_class = ContactInspectView
    inspect_view_fields = ["email", "first_name", "last_name", "external_id", "company", "country", "language"]
    list_display = [
        "email",
        "first_name",
        "last_name",
        *(channel_status(name) for name in CHANNEL_COLUMNS),
        "country",
        "updated_at",
    ]
    filterset_class = ContactFilterSet
    search_fields = ["email", "first_name", "last_name", "company", "external_id"]
    form_fields = [
        "email",
        "first_name",
        "last_name",
        "external_id",
        "company",
        "country",
        "language",
        "postal_address",
        "tags",
        "attributes",
        "consent_basis",
        "consent_date",
        "consent_source",
    ]
    copy_view_enabled = False

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("export/postal/", PostalExportView.as_view(), name="export_postal"),
            path("export/affiliated/", ThirdPartyExportView.as_view(), name="export_third_party"),
        ]


class AudienceIndexView(IndexView):
    @cached_property
    def header_buttons(self):
        buttons = super().header_buttons
        if self.request.user.has_perm(IMPORT):
            buttons.append(HeaderButton("Import contacts", url=reverse("imports:upload"), icon_name="upload"))
        return buttons

    def get_list_more_buttons(self, instance):
        return super().get_list_more_buttons(instance) + export_button(self.request, "audience:export", instance)


class AudienceViewSet(ModelViewSet):
    model = Audience
    icon = "group"
    menu_label = "Audiences"
    menu_order = 210
    add_to_admin_menu = True
    index_view_class = AudienceIndexView
    list_display = [
        "name",
        Column("members", label="Contacts", accessor=lambda audience: members(audience).count()),
        Column(
            "deliverable",
            label="Can be mailed now",
            accessor=lambda audience: segments.deliverable(members(audience)).count(),
        ),
        "created_at",
    ]
    search_fields = ["name"]
    form_fields = ["name"]
    copy_view_enabled = False

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("export/<int:pk>/", AudienceExportView.as_view(), name="export"),
        ]


class SegmentIndexView(IndexView):
    def get_list_more_buttons(self, instance):
        return super().get_list_more_buttons(instance) + export_button(self.request, "segment:export", instance)


class SegmentViewSet(ModelViewSet):
    model = Segment
    icon = "filter"
    menu_label = "Segments"
    menu_order = 215
    add_to_admin_menu = True
    index_view_class = SegmentIndexView
    list_display = [
        "name",
        Column("rules", label="Rules", accessor=lambda segment: "; ".join(map(str, segment.rules.all())) or "—"),
        Column("live", label="Can be mailed now", accessor=segments.live_count),
    ]
    search_fields = ["name"]
    panels = [
        FieldPanel("name"),
        FieldPanel("match", heading="Contacts must match"),
        InlinePanel("rules", heading="Rules", label="Rule"),
    ]
    copy_view_enabled = False

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("export/<int:pk>/", SegmentExportView.as_view(), name="export"),
        ]
