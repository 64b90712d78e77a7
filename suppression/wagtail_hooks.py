"""Wagtail admin: the suppression list (filters for everyone; whole addresses, search by
address and CSV export for Admins, masked addresses for the rest), recording an opt-out
by address, and lifting a system suppression with a reason."""

from django.core.exceptions import PermissionDenied
from django.urls import path, reverse
from django.utils.functional import cached_property
from wagtail import hooks
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic import IndexView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets import ListingButton

from . import policy
from .addresses import VIEW_PERSONAL_DATA, address_hash
from .admin_views import LiftSuppressionView, PersonalDataColumn, RecordOptOutView
from .models import Suppression
from .spreadsheets import defuse

EXPORT_PERMISSION = "suppression.export_suppression"


class SuppressionIndexView(IndexView):
    def get(self, request, *args, **kwargs):
        if self.is_export and not request.user.has_perm(EXPORT_PERMISSION):
            raise PermissionDenied
        return super().get(request, *args, **kwargs)

    @property
    def show_export_buttons(self):
        return self.request.user.has_perm(EXPORT_PERMISSION)

    @cached_property
    def is_searchable(self):
        # Search is by address (and note): it would tell anyone whether an address is suppressed.
        return self.request.user.has_perm(VIEW_PERSONAL_DATA) and super().is_searchable

    def search_queryset(self, queryset):
        """Also match the keyed hash, so an erased person's rows answer 'are they suppressed?'."""
        if not self.is_searching:
            return queryset
        by_text = super().search_queryset(queryset)
        return by_text | queryset.filter(address_hash=address_hash(self.search_query))

    def preprocess_field_value(self, field, value, export_format):
        return defuse(super().preprocess_field_value(field, value, export_format))

    def get_list_more_buttons(self, instance):
        if instance.channel in policy.SYSTEM_CHANNELS and self.user_has_permission("delete"):
            url = reverse("suppression_admin:delete", args=[instance.pk])
            return [ListingButton("Lift (recorded in error)", url=url, icon_name="undo", priority=10)]
        return []


class SuppressionViewSet(ModelViewSet):
    model = Suppression
    url_namespace = "suppression_admin"  # "suppression" is the public pages' namespace
    icon = "lock"
    menu_label = "Suppressions"
    menu_order = 230
    add_to_admin_menu = True
    index_view_class = SuppressionIndexView
    add_item_label = "Record an opt-out"
    list_display = [
        # Blank when erased, or when recorded from a link (its token carries only the hash).
        PersonalDataColumn("address", label="Address", accessor=lambda row: row.address or "(hash only)"),
        Column("channel", label="Channel", accessor="get_channel_display"),
        Column("source", label="Source", accessor="get_source_display"),
        PersonalDataColumn("reason", label="Reason"),
        "actor",
        DateColumn("created_at", label="Since"),
    ]
    list_filter = ["channel", "source"]
    search_fields = ["address", "reason", "note"]
    search_backend_name = None
    list_export = [
        "address",
        "address_hash",
        "channel",
        "source",
        "reason",
        "actor",
        "note",
        "campaign_id",
        "created_at",
    ]
    export_filename = "suppressions"
    copy_view_enabled = False

    def get_urlpatterns(self):
        """The list only: no generic add/edit/delete. "add" records an opt-out through the
        policy and "delete" lifts one with a reason, so Wagtail's own buttons lead there."""
        view_kwargs = {"permission_policy": self.permission_policy}
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("record/", RecordOptOutView.as_view(**view_kwargs), name="add"),
            path("lift/<int:pk>/", LiftSuppressionView.as_view(**view_kwargs), name="delete"),
        ]

    def get_index_view_kwargs(self, **kwargs):
        return super().get_index_view_kwargs(edit_url_name=None, **kwargs)


@hooks.register("register_admin_viewset")
def register_viewsets():
    return SuppressionViewSet("suppression")


@hooks.register("register_icons")
def register_icons(icons):
    return icons + ["suppression/icons/undo.svg"]
