"""Staff in the Wagtail admin: record an opt-out by address in two clicks; the list with
search, filters and CSV export (Admins, formula-safe); lifting needs Admins and a reason."""

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from suppression import policy
from suppression.addresses import address_hash
from suppression.models import Channel, ConsentEvent, Source, Suppression

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    call_command("seed_demo", "--password", "demo-password-1", stdout=io.StringIO())
    Suppression.objects.all().delete()  # the demo's own opt-outs
    clients = {}
    for name in ("Marketers", "Admins"):
        user = django_user_model.objects.create_user(name.lower(), f"{name.lower()}@example.com", "pw")
        user.groups.add(Group.objects.get(name=name))
        client = Client()
        client.force_login(user)
        clients[name] = client
    return clients


def test_marketer_records_a_phone_opt_out_in_two_clicks(staff):
    client = staff["Marketers"]
    page = client.get("/admin/suppression/record/?address=Ada@Example.com")
    assert page.status_code == 200
    form = page.context["form"]
    assert form.initial["address"] == "Ada@Example.com"
    data = {
        "address": "Ada@Example.com",
        "channels": form.fields["channels"].initial,
        "source": "phone",
        "note": "Called on Monday",
    }
    response = client.post("/admin/suppression/record/", data)
    assert response.status_code == 302
    rows = Suppression.objects.filter(address_hash=address_hash("ada@example.com"))
    assert set(rows.values_list("channel", flat=True)) == set(policy.PERSONAL_CHANNELS)
    assert set(rows.values_list("source", "actor")) == {(Source.PHONE, "marketers")}
    assert ConsentEvent.objects.filter(actor="marketers", source=Source.PHONE, note="Called on Monday").count() == 3
    assert policy.blocked(["ADA@example.com"], "promotional")


def test_record_form_checks_the_address(staff):
    response = staff["Marketers"].post(
        "/admin/suppression/record/", {"address": "not an address", "channels": ["email_marketing"], "source": "letter"}
    )
    assert response.status_code == 200 and response.context["form"].errors["address"]
    assert not Suppression.objects.exists()


def test_listing_searches_filters_and_finds_erased_people_by_hash(staff):
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    policy.record_opt_out("bob@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    policy.erase("erased@example.com", actor="admins")
    client = staff["Admins"]  # search is by address: Admins only (tests/security)
    assert client.get("/admin/suppression/?q=ada@").context["object_list"].count() == 1
    filtered = client.get("/admin/suppression/?channel=undeliverable").context["object_list"]
    assert [row.address for row in filtered] == ["bob@example.com"]
    erased = client.get("/admin/suppression/?q=Erased@Example.com").context["object_list"]
    assert erased.count() == 3 and {row.address for row in erased} == {""}
    assert client.get("/admin/suppression/?source=bounce").context["object_list"].count() == 1


def test_marketers_cannot_export_or_lift(staff):
    policy.record_opt_out("bob@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    client = staff["Marketers"]
    listing = client.get("/admin/suppression/")
    assert b"Download CSV" not in listing.content
    for export in ("csv", "xlsx"):
        response = client.get(f"/admin/suppression/?export={export}")
        assert response.status_code == 302 and response.url == "/admin/"  # Wagtail's "permission denied"
    pk = Suppression.objects.get().pk
    response = client.post(f"/admin/suppression/lift/{pk}/", {"reason": "test bounce"})
    assert response.status_code in (302, 403)
    assert Suppression.objects.filter(pk=pk).exists()
    assert not ConsentEvent.objects.filter(action="lifted").exists()


def test_admins_export_csv_with_formulas_defused(staff):
    policy.record_opt_out(
        "ada@example.com", Channel.POSTAL_MARKETING, Source.LETTER, note='=HYPERLINK("http://evil","x")'
    )
    policy.record_opt_out("@sum(a1)@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    response = staff["Admins"].get("/admin/suppression/?export=csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK" in body and "\n=HYPERLINK" not in body and ",=HYPERLINK" not in body
    assert "'@sum(a1)@example.com" in body
    assert b"Download CSV" in staff["Admins"].get("/admin/suppression/").content


def test_admin_lifts_a_bounce_with_a_reason_but_not_a_persons_opt_out(staff):
    policy.record_opt_out("bob@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    policy.record_opt_out("bob@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    bounce = Suppression.objects.get(channel=Channel.UNDELIVERABLE)
    own = Suppression.objects.get(channel=Channel.EMAIL_MARKETING)
    client = staff["Admins"]
    assert client.post(f"/admin/suppression/lift/{bounce.pk}/", {"reason": "  "}).status_code == 200
    assert Suppression.objects.filter(pk=bounce.pk).exists()
    assert client.post(f"/admin/suppression/lift/{bounce.pk}/", {"reason": "bounce from a test run"}).status_code == 302
    assert not Suppression.objects.filter(pk=bounce.pk).exists()
    lifted = ConsentEvent.objects.get(action="lifted")
    assert (lifted.actor, lifted.note, lifted.channel) == ("admins", "bounce from a test run", Channel.UNDELIVERABLE)
    page = client.get(f"/admin/suppression/lift/{own.pk}/")
    assert b"Only they can lift it" in page.content
    assert client.post(f"/admin/suppression/lift/{own.pk}/", {"reason": "asked by phone"}).status_code == 200
    assert Suppression.objects.filter(pk=own.pk).exists()
