"""Wagtail admin: export or erase one person's data (Admins, `manage_personal_data`)."""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.generic import FormView
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.base import ViewSet

from campaigns.privacy import erase_person, export_person

PERMISSION = "suppression.manage_personal_data"


class PersonForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=320)
    action = forms.ChoiceField(
        choices=[
            ("export", "Export everything we hold (JSON)"),
            ("erase", "Erase: delete the data, keep them suppressed"),
        ],
        initial="export",
        widget=forms.RadioSelect,
    )
    confirm = forms.BooleanField(
        required=False,
        label="I understand erasure cannot be undone",
    )

    def clean(self):
        data = super().clean()
        if data.get("action") == "erase" and not data.get("confirm"):
            self.add_error("confirm", "Tick this to erase.")
        return data


class PersonalDataView(WagtailAdminTemplateMixin, FormView):
    form_class = PersonForm
    template_name = "campaigns/admin/personal_data.html"
    page_title = "A person's data"
    header_icon = "user"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        if form.cleaned_data["action"] == "export":
            response = HttpResponse(
                json.dumps(export_person(email), indent=2, ensure_ascii=False), content_type="application/json"
            )
            response["Content-Disposition"] = 'attachment; filename="personal-data.json"'
            return response
        counts = erase_person(email, actor=self.request.user.get_username())
        messages.success(
            self.request,
            f"Erased {counts['contacts']} contact(s) and their lists and deliveries. "
            "The address stays suppressed by its keyed hash.",
        )
        return redirect(reverse("privacy:index"))


class PermissionMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(PERMISSION)


class PrivacyViewSet(ViewSet):
    icon = "user"
    menu_label = "Personal data"
    menu_order = 240
    add_to_admin_menu = True
    menu_item_class = PermissionMenuItem

    @property
    def menu_url(self):
        return reverse("privacy:index")

    def get_urlpatterns(self):
        return [path("", PersonalDataView.as_view(), name="index")]
