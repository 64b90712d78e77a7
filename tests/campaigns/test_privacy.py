"""A person's data: export as JSON; erasure deletes it, keeps the person suppressed by hash,
and a re-import does not bring them back (DESIGN invariant 7)."""

import io
import json

import pytest
from django.contrib.auth.models import Group
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.management import call_command
from django.test import Client

from campaigns.models import Contact, Delivery, Membership
from campaigns.privacy import erase_person, export_person
from suppression import policy
from suppression.addresses import address_hash
from suppression.models import Channel, ConsentEvent, Source, Suppression
from tests.factories import import_csv, make_audience, make_campaign, make_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada():
    audience = make_audience("Customers", [("Ada@Example.com", "Ada")])
    campaign = make_campaign(make_page(), audience, name="Winter offers")
    contact = Contact.objects.get()
    Delivery.objects.create(campaign=campaign, contact=contact, email_hash=contact.email_hash, status="sent")
    policy.record_opt_out(
        "ada@example.com", Channel.POSTAL_MARKETING, Source.PHONE, actor="staff", note="Called, lives at 1 Main St"
    )
    return contact


def test_export_holds_everything_about_the_address(ada):
    data = export_person(" ADA@example.com ")
    json.dumps(data)  # JSON-ready
    assert data["contact"]["email"] == "Ada@example.com" and data["contact"]["first_name"] == "Ada"
    assert data["memberships"][0]["audience"] == "Customers"
    assert data["deliveries"][0]["campaign"] == "Winter offers" and data["deliveries"][0]["status"] == "sent"
    assert data["suppressions"][0]["channel"] == Channel.POSTAL_MARKETING
    assert data["consent_events"][0]["note"] == "Called, lives at 1 Main St"


def promotional_to(address):
    url = "https://mailroom.test/u/token/"
    message = EmailMultiAlternatives("Offers", f"Offers. {url}", "offers@example.com", [address])
    message.attach_alternative(f'<a href="{url}">Unsubscribe</a>', "text/html")
    message.unsubscribe_url = url
    return message


def test_erasure_then_reimport_keeps_the_person_suppressed(ada, outbox_dir):
    counts = erase_person("ada@example.com", actor="dpo")
    assert counts == {"contacts": 1, "memberships": 1, "deliveries": 1}
    assert not Contact.objects.exists() and not Membership.objects.exists() and not Delivery.objects.exists()
    rows = Suppression.objects.filter(address_hash=address_hash("ada@example.com"))
    assert set(rows.values_list("channel", flat=True)) == set(policy.PERSONAL_CHANNELS)
    assert set(rows.values_list("address", "note")) == {("", "")}
    assert not ConsentEvent.objects.exclude(note="").exists()
    assert ConsentEvent.objects.filter(action="erased", actor="dpo").count() == 1
    assert "ada" not in json.dumps(export_person("ada@example.com")["suppressions"]).lower()

    summary = import_csv("email,first_name\nADA@example.com,Ada\n", "Customers again")
    assert (summary.created, summary.suppressed) == (1, 1)
    assert policy.blocked(["ada@example.com"], "promotional") == {"ada@example.com": Channel.EMAIL_MARKETING}
    assert mailers["promotional"].send_messages([promotional_to("ada@example.com")]) == 0
    assert list(outbox_dir.glob("*.eml")) == []


def test_erasure_deletes_account_messages_not_yet_handed_off(ada):
    from accountmail import handoff
    from accountmail.models import AccountMessage

    handoff.keep(["Ada Lovelace <ADA@example.com>"], "Your order", "Thank you, Ada.")
    other = handoff.keep(["grace@example.com"], "Your order", "Thank you, Grace.")
    erase_person("ada@example.com", actor="dpo")
    assert list(AccountMessage.objects.values_list("pk", flat=True)) == [other]


def test_after_an_erasure_the_campaign_counters_and_its_report_agree(sender_settings, outbox_dir):
    from campaigns.reports import stats
    from campaigns.sending import claims, outcomes
    from tests.factories import started_campaign

    people = [(f"{name}@example.com", name.title()) for name in ("ada", "grace", "linus", "alan")]
    campaign = started_campaign(people)
    recorder = outcomes.Recorder(campaign.pk)
    written = dict(zip([d.pk for d in claims.claim(campaign.pk, 3)], ["sent", "failed", "suppressed"], strict=True))
    for delivery in Delivery.objects.filter(pk__in=written):
        recorder.add(delivery, written[delivery.pk], "reason")
    recorder.flush()  # and one delivery still pending
    for delivery in Delivery.objects.filter(campaign=campaign).exclude(status="sent").select_related("contact"):
        erase_person(delivery.contact.email, actor="dpo")  # the failed, the suppressed and the pending
    campaign.refresh_from_db()
    report = stats.results(campaign).progress.as_json()
    assert stats.progress(campaign).as_json() == report
    assert (report["total"], report["sent"], report["failed"], report["suppressed"], report["pending"]) == (
        1,
        1,
        0,
        0,
        0,
    )


def test_commands_export_and_erase(ada, tmp_path):
    out = io.StringIO()
    call_command("export_person", "ada@example.com", stdout=out)
    assert json.loads(out.getvalue())["contact"]["first_name"] == "Ada"
    target = tmp_path / "ada.json"
    call_command("export_person", "ada@example.com", "--output", str(target), stderr=io.StringIO())
    assert json.loads(target.read_text())["memberships"][0]["audience"] == "Customers"
    out = io.StringIO()
    call_command("erase_person", "ada@example.com", "--noinput", "--actor", "dpo", stdout=out)
    assert "Erased 1 contact(s)" in out.getvalue()
    assert not Contact.objects.exists()
    assert policy.is_suppressed("ada@example.com", Channel.THIRD_PARTY_SHARING)


@pytest.fixture
def staff(django_user_model):
    call_command("seed_demo", "--password", "demo-password-1", stdout=io.StringIO())
    clients = {}
    for name in ("Marketers", "Admins"):
        user = django_user_model.objects.create_user(name.lower(), f"{name.lower()}@example.com", "pw")
        user.groups.add(Group.objects.get(name=name))
        clients[name] = Client()
        clients[name].force_login(user)
    return clients


def test_admin_view_exports_and_erases_for_admins_only(ada, staff):
    marketer = staff["Marketers"]
    for response in (
        marketer.get("/admin/privacy/"),
        marketer.post("/admin/privacy/", {"email": "ada@example.com", "action": "erase", "confirm": "on"}),
    ):
        assert response.status_code == 302 and response.url == "/admin/"  # Wagtail's "permission denied"
    assert b"Personal data" not in marketer.get("/admin/").content
    assert Contact.objects.filter(email__iexact="ada@example.com").exists()

    admin = staff["Admins"]
    assert b"Personal data" in admin.get("/admin/").content
    exported = admin.post("/admin/privacy/", {"email": "ada@example.com", "action": "export"})
    assert exported["Content-Disposition"].startswith("attachment")
    assert json.loads(exported.content)["contact"]["first_name"] == "Ada"
    unconfirmed = admin.post("/admin/privacy/", {"email": "ada@example.com", "action": "erase"})
    assert unconfirmed.status_code == 200 and unconfirmed.context["form"].errors["confirm"]
    assert Contact.objects.filter(email__iexact="ada@example.com").exists()
    erased = admin.post("/admin/privacy/", {"email": "ada@example.com", "action": "erase", "confirm": "on"})
    assert erased.status_code == 302
    assert not Contact.objects.filter(email__iexact="ada@example.com").exists()
    assert ConsentEvent.objects.get(action="erased").actor == "admins"


def test_person_command_exports_and_erases(ada):
    out = io.StringIO()
    call_command("person", "ada@example.com", "--export", stdout=out)
    assert json.loads(out.getvalue())["contact"]["first_name"] == "Ada"
    call_command("person", "ada@example.com", "--erase", "--noinput", stdout=io.StringIO())
    assert not Contact.objects.exists()
    assert policy.blocked(["ada@example.com"], "promotional")
