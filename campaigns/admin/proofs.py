"""Admin: "Send a test" for an email page (a header button on the page), reached also from
the campaign send page. The work happens in campaigns.proofs."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.validators import validate_email
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import FormView
from wagtail import hooks
from wagtail.admin.ui.menus.pages import PageMenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from campaigns.proofs import send_test
from cms.models import EmailPage

MAX_TEST_ADDRESSES = 10


class TestSendForm(forms.Form):
    addresses = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"Up to {MAX_TEST_ADDRESSES} addresses, separated by commas or new lines.",
    )

    def clean_addresses(self):
        addresses = [a.strip() for a in self.cleaned_data["addresses"].replace(",", "\n").splitlines() if a.strip()]
        if not addresses:
            raise forms.ValidationError("Enter at least one address.")
        if len(addresses) > MAX_TEST_ADDRESSES:
            raise forms.ValidationError(f"At most {MAX_TEST_ADDRESSES} addresses at a time.")
        for address in addresses:
            validate_email(address)
        return list(dict.fromkeys(addresses))


class TestSendView(WagtailAdminTemplateMixin, FormView):
    template_name = "campaigns/admin/test_send.html"
    form_class = TestSendForm
    page_title = "Send a test"
    header_icon = "mail"

    def dispatch(self, request, *args, page_id, **kwargs):
        self.page = get_object_or_404(EmailPage, pk=page_id)
        if not self.page.permissions_for_user(request.user).can_edit():
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_page_subtitle(self):
        return self.page.title

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse("wagtailadmin_pages:edit", args=[self.page.pk]), "label": self.page.title},
            {"url": "", "label": self.page_title},
        ]

    def get_initial(self):
        return {"addresses": self.request.user.email}

    def get_context_data(self, **kwargs):
        return super().get_context_data(email_page=self.page, next_url=self.next_url(), **kwargs)

    def next_url(self):
        url = self.request.GET.get("next", "")
        if url_has_allowed_host_and_scheme(url, allowed_hosts={self.request.get_host()}):
            return url
        return reverse("wagtailadmin_pages:edit", args=[self.page.pk])

    def form_valid(self, form):
        for address, result in send_test(self.page.specific, form.cleaned_data["addresses"]).items():
            if result == "sent":
                messages.success(self.request, f"Test sent to {address}.")
            else:
                messages.warning(self.request, f"{address}: {result}")
        return redirect(self.next_url())


class SendTestButton(PageMenuItem):
    label = "Send a test"
    icon_name = "mail"
    url_name = "campaigns_test_send"
    priority = 12

    def is_shown(self, user):
        return self.page.permissions_for_user(user).can_edit()


@hooks.register("register_admin_urls")
def register_test_send_url():
    return [path("email-test/<int:page_id>/", TestSendView.as_view(), name="campaigns_test_send")]


@hooks.register("register_page_header_buttons")
def test_send_header_button(page, user, view_name, next_url=None):
    if page.specific_class is EmailPage:
        yield SendTestButton(page=page)
