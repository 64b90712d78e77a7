"""Wagtail admin views for staff: record an opt-out received by phone, letter or email,
lift a suppression the system recorded in error (Admins only), and the listing column that
shows personal data whole only to users with VIEW_PERSONAL_DATA."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.generic import FormView
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin

from . import policy
from .addresses import VIEW_PERSONAL_DATA, mask_addresses_in
from .forms import LiftSuppressionForm, RecordOptOutForm
from .models import Suppression


class PersonalDataColumn(Column):
    """A listing column that may hold addresses (an address, an SMTP error): whole for users
    with VIEW_PERSONAL_DATA, every address in it masked for everyone else."""

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        request = parent_context.get("request")
        if request is None or not request.user.has_perm(VIEW_PERSONAL_DATA):
            context["value"] = mask_addresses_in(str(context["value"]))
        return context


def listing_url(user, address):
    """The suppression list, searched for `address` for those who may search by address."""
    url = reverse("suppression_admin:index")
    return url + "?" + urlencode({"q": address}) if user.has_perm(VIEW_PERSONAL_DATA) else url


class RecordOptOutView(PermissionCheckedMixin, WagtailAdminTemplateMixin, FormView):
    """Two clicks from a contact: open with ?address=..., check the channels, record."""

    permission_required = "add"
    form_class = RecordOptOutForm
    template_name = "suppression/admin/record.html"
    page_title = "Record an opt-out"
    header_icon = "lock"

    def get_initial(self):
        return {**super().get_initial(), "address": self.request.GET.get("address", "")}

    def form_valid(self, form):
        data = form.cleaned_data
        actor = self.request.user.get_username()
        recorded = [
            channel
            for channel in data["channels"]
            if policy.record_opt_out(data["address"], channel, data["source"], actor=actor, note=data["note"])
        ]
        user = self.request.user
        if not user.has_perm(VIEW_PERSONAL_DATA):
            # Whether the address was suppressed already is personal data too.
            messages.success(self.request, f"Recorded for {data['address']}. It applies at once.")
        elif recorded:
            messages.success(
                self.request, f"Recorded for {data['address']}: {', '.join(recorded)}. It applies at once."
            )
        else:
            messages.info(self.request, f"{data['address']} had already opted out of those; nothing changed.")
        return redirect(listing_url(user, data["address"]))


class LiftSuppressionView(PermissionCheckedMixin, WagtailAdminTemplateMixin, FormView):
    """Only a bounce or complaint recorded in error; a person's own opt-out only they can lift."""

    permission_required = "delete"
    form_class = LiftSuppressionForm
    template_name = "suppression/admin/lift.html"
    page_title = "Lift a suppression"
    header_icon = "lock"

    def dispatch(self, request, *args, pk, **kwargs):
        self.suppression = get_object_or_404(Suppression, pk=pk)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        liftable = self.suppression.channel in policy.SYSTEM_CHANNELS
        return super().get_context_data(suppression=self.suppression, liftable=liftable, **kwargs)

    def form_valid(self, form):
        try:
            policy.lift_suppression(
                self.suppression.address_hash,
                self.suppression.channel,
                actor=self.request.user.get_username(),
                reason=form.cleaned_data["reason"],
            )
        except policy.PolicyError as error:
            form.add_error(None, str(error))
            return self.form_invalid(form)
        messages.success(self.request, f"Lifted: {self.suppression}. The reason is in the consent log.")
        return redirect(reverse("suppression_admin:index"))
