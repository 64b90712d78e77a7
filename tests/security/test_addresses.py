"""One address check (suppression.addresses) on every path that stores an address: the
admin's contact form, imports, recording an opt-out (admin and command line) and test
sends. A line break, or anything email-validator refuses, never gets stored."""

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Contact
from suppression.addresses import InvalidAddress, check_address
from suppression.models import Suppression
from tests.factories import import_csv, make_page
from tests.security.staff import CONTACT_FORM, staff_client

pytestmark = pytest.mark.django_db
BAD = [
    "ada@example.com\r\nBcc: spy@evil.example",
    "ada@example.com\nBcc: spy@evil.example",
    "Ada <ada@example.com>",
    "not an address",
    "ada@example",
    "ada@@example.com",
    "ada@localhost",
]


@pytest.mark.parametrize("address", BAD)
def test_the_one_check_refuses(address):
    with pytest.raises(InvalidAddress):
        check_address(address)


def test_the_one_check_normalises():
    assert check_address("  Ada@Example.COM ") == "Ada@example.com"
    assert check_address("zoë@bücher.de") == "zoë@xn--bcher-kva.de"


def test_the_admin_contact_form_stores_only_checked_addresses():
    admin = staff_client("Admin")
    for address in BAD:
        response = admin.post("/admin/contact/new/", {"email": address, **CONTACT_FORM})
        assert response.status_code == 200 and response.context["form"].errors["email"], address
    assert not Contact.objects.exists()
    assert admin.post("/admin/contact/new/", {"email": "ada@example.com", **CONTACT_FORM}).status_code == 302
    assert list(Contact.objects.values_list("email", flat=True)) == ["ada@example.com"]


def test_imports_store_only_checked_addresses():
    rows = "".join(f'"{address}",Ada\n' for address in BAD)
    summary = import_csv(f"email,first_name\n{rows}ok@example.com,Ok\n", "Customers")
    assert (summary.created, summary.invalid) == (1, len(BAD))
    assert list(Contact.objects.values_list("email", flat=True)) == ["ok@example.com"]


def test_recording_an_opt_out_stores_only_checked_addresses():
    marketer = staff_client("Marketer")
    form = {"channels": ["email_marketing"], "source": "phone"}
    for address in BAD:
        response = marketer.post("/admin/suppression/record/", {"address": address, **form})
        assert response.status_code == 200 and response.context["form"].errors["address"], address
        with pytest.raises(CommandError, match="is not an email address"):
            call_command("suppress", address, "--channel", "email_marketing", "--source", "letter")
    assert not Suppression.objects.exists()


def test_test_sends_accept_only_checked_addresses(sender_settings, outbox_dir):
    marketer = staff_client("Marketer")
    page = make_page()
    for address in BAD:
        response = marketer.post(f"/admin/email-test/{page.pk}/", {"addresses": address})
        assert response.status_code == 200 and response.context["form"].errors["addresses"], address
    assert not list(outbox_dir.glob("*.eml"))
