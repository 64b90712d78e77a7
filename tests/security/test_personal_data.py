"""Personal data is for Admins, by permission: Marketers see counts and masked addresses in
a campaign's delivery log and the suppression list, cannot search either by address, never
read staff notes, and cannot learn from recording an opt-out whether the address was
already suppressed. Admins see and search everything."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from campaigns.models import Delivery
from suppression import policy
from suppression.addresses import address_hash
from suppression.models import Channel, Source
from tests.campaigns.report_data import seeded_campaign
from tests.security.staff import staff_client, staff_user

pytestmark = pytest.mark.django_db
NOTE = "Called from 020 7946 0991 on Monday"


@pytest.fixture
def campaign(sender_settings):
    campaign = seeded_campaign()
    Delivery.objects.filter(campaign=campaign, contact__email="person5@example.com").update(
        reason="550 5.1.1 <person5@example.com>: Recipient address rejected"
    )
    return campaign


@pytest.fixture
def ledger():
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.PHONE, actor="staff", note=NOTE)
    policy.record_opt_out(
        "bob@example.com", Channel.UNDELIVERABLE, Source.BOUNCE, reason="550 <bob@example.com> unknown user"
    )
    policy.erase("erased@example.com", actor="dpo")


def rows(response):
    return list(response.context["object_list"])


def test_marketers_see_the_delivery_log_masked_and_cannot_search_it(campaign):
    url = reverse("campaign:deliveries", args=[campaign.pk])
    marketer = staff_client("Marketer")
    page = marketer.get(url)
    body = page.content.decode()
    assert page.status_code == 200 and len(rows(page)) == 10
    assert "person" not in body.replace("p•••@example.com", "")  # no whole address anywhere on the page
    assert body.count("p•••@example.com") >= 10
    assert "550 5.1.1 &lt;p•••@example.com&gt;: Recipient address rejected" in body  # addresses in errors too
    assert 'name="q"' not in body  # no search box
    # Searching by address would tell them who is in the campaign: the query is ignored.
    searched = marketer.get(url, {"q": "person3@example.com"})
    assert len(rows(searched)) == 10 and not searched.context["view"].is_searching
    results_only = marketer.get(reverse("campaign:deliveries_results", args=[campaign.pk]), {"q": "person3"})
    assert len(rows(results_only)) == 10 and not results_only.context["view"].is_searching
    # Counts and filters stay theirs.
    failed = marketer.get(url, {"status": "failed"})
    assert len(rows(failed)) == 2


def test_admins_see_the_delivery_log_whole_and_search_it(campaign):
    url = reverse("campaign:deliveries", args=[campaign.pk])
    admin = staff_client("Admin")
    body = admin.get(url).content.decode()
    assert "person3@example.com" in body and "<person5@example.com>" in body.replace("&lt;", "<").replace("&gt;", ">")
    assert [d.contact.email for d in rows(admin.get(url, {"q": "PERSON3@example.com"}))] == ["person3@example.com"]


def test_marketers_see_the_suppression_list_masked_without_notes_or_search(ledger):
    marketer = staff_client("Marketer")
    page = marketer.get("/admin/suppression/")
    body = page.content.decode()
    assert page.status_code == 200 and len(rows(page)) == 5
    assert "ada@example.com" not in body and "bob@example.com" not in body
    assert "a•••@example.com" in body and "550 &lt;b•••@example.com&gt; unknown user" in body
    assert "7946" not in body  # the note
    assert 'name="q"' not in body
    for query in ("ada@example.com", "Erased@Example.com", "7946"):  # by address, by hash, by note
        assert len(rows(marketer.get("/admin/suppression/", {"q": query}))) == 5, query
    assert len(rows(marketer.get("/admin/suppression/", {"channel": "undeliverable"}))) == 1  # filters stay
    for export in ("csv", "xlsx"):
        assert marketer.get("/admin/suppression/", {"export": export}).url == "/admin/"  # refused


def test_admins_search_the_suppression_list_by_address_note_and_hash(ledger):
    admin = staff_client("Admin")
    assert "ada@example.com" in admin.get("/admin/suppression/").content.decode()
    assert [row.address for row in rows(admin.get("/admin/suppression/", {"q": "ADA@example.com"}))] == [
        "ada@example.com"
    ]
    assert len(rows(admin.get("/admin/suppression/", {"q": "7946"}))) == 1
    erased = rows(admin.get("/admin/suppression/", {"q": "Erased@Example.com"}))
    assert {row.address_hash for row in erased} == {address_hash("erased@example.com")}


def test_recording_an_opt_out_tells_a_marketer_nothing_about_the_address(ledger):
    form = {"channels": ["email_marketing"], "source": "phone", "note": ""}
    replies = []
    for address in ("ada@example.com", "new@example.com"):  # already suppressed, and not
        marketer = staff_client("Marketer", f"marketer-{address[0]}")
        response = marketer.post("/admin/suppression/record/", {"address": address, **form})
        assert response.status_code == 302 and response.url == "/admin/suppression/"  # no search by address
        replies.append([str(message).replace(address, "ADDRESS") for message in get_messages(response.wsgi_request)])
    assert replies[0] == replies[1]
    assert policy.is_suppressed("new@example.com", Channel.EMAIL_MARKETING)


def test_permission_not_group_name_decides(campaign):
    """A group of any name with view_personal_data sees whole addresses; an Admins group without it does not."""
    auditors = Group.objects.create(name="Auditors")
    auditors.permissions.set(
        Permission.objects.filter(codename__in=["access_admin", "view_campaign", "view_personal_data"])
    )
    auditor = staff_user("Marketer", "auditor")
    auditor.groups.set([auditors])
    admin = staff_user("Admin")
    admin.groups.get().permissions.remove(Permission.objects.get(codename="view_personal_data"))
    url = reverse("campaign:deliveries", args=[campaign.pk])
    for user, sees in ((auditor, True), (admin, False)):
        client = Client()
        client.force_login(user)
        assert ("person3@example.com" in client.get(url).content.decode()) is sees, user
