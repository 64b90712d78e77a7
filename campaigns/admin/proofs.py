"""Admin: "Send a test" for an email page (a header button on the page), reached also from
the campaign send page, for users with the send-test permission. The work, and the rules
on who may receive tests and how many, are in campaigns.proofs."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import FormView
from wagtail import hooks
from wagtail.admin.ui.menus.pages import PageMenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from campaigns.proofs import LOG_ACTION, TestSendRefused, send_test
from cms.models import EmailPage
from suppression.addresses import VIEW_PERSONAL_DATA, InvalidAddress, check_address

from .permissions import SEND_TEST

MAX_TEST_ADDRESSES = 10


class TestSendForm(forms.Form):
    addresses = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"Up to {MAX_TEST_ADDRESSES} addresses, separated by commas or new lines: "
        "staff users' addresses, or those the site allows for tests.",
    )

    def clean_addresses(self):
        addresses = [a.strip() for a in self.cleaned_data["addresses"].replace(",", "\n").splitlines() if a.strip()]
        if not addresses:
            raise forms.ValidationError("Enter at least one address.")
        if len(addresses) > MAX_TEST_ADDRESSES:
            raise forms.ValidationError(f"At most {MAX_TEST_ADDRESSES} addresses at a time.")
        try:
            return list(dict.fromkeys(check_address(address) for address in addresses))
        except InvalidAddress as error:
            raise forms.ValidationError(f"Enter a valid email address: {error}") from error


class TestSendView(WagtailAdminTemplateMixin, FormView):
    template_name = "campaigns/admin/test_send.html"
    form_class = TestSendForm
    page_title = "Send a test"
    header_icon = "mail"

    def dispatch(self, request, *args, page_id, **kwargs):
        if not request.user.has_perm(SEND_TEST):
            raise PermissionDenied
        self.page = get_object_or_404(EmailPage, pk=page_id)
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
        try:
            results = send_test(self.page.specific, form.cleaned_data["addresses"], user=self.request.user)
        except TestSendRefused as error:
            form.add_error("addresses", str(error))
            return self.form_invalid(form)
        if self.request.user.has_perm(VIEW_PERSONAL_DATA):
            for address, result in results.items():
                (messages.success if result == "sent" else messages.warning)(self.request, f"{address}: {result}")
            return redirect(self.next_url())
        # Whether an address is suppressed is personal data: a dropped test reads like a sent one.
        failed = {address: result for address, result in results.items() if result.startswith("failed")}
        handed = [address for address in results if address not in failed]
        if handed:
            messages.success(
                self.request,
                f"Test sent to {', '.join(handed)} (an address that must not get offers is skipped without notice).",
            )
        for address, result in failed.items():
            messages.warning(self.request, f"{address}: {result}")
        return redirect(self.next_url())


class SendTestButton(PageMenuItem):
    label = "Send a test"
    icon_name = "mail"
    url_name = "campaigns_test_send"
    priority = 12

    def is_shown(self, user):
        return user.has_perm(SEND_TEST)


@hooks.register("register_admin_urls")
def register_test_send_url():
    return [path("email-test/<int:page_id>/", TestSendView.as_view(), name="campaigns_test_send")]


@hooks.register("register_page_header_buttons")
def test_send_header_button(page, user, view_name, next_url=None):
    if page.specific_class is EmailPage:
        yield SendTestButton(page=page)


@hooks.register("register_log_actions")
def register_test_send_log_action(actions):
    def message(log_entry):
        count = log_entry.data.get("recipients", 0)
        return f"Test email sent to {count} recipient{'s' if count != 1 else ''}"

    actions.register_action(LOG_ACTION, "Send a test", message)
