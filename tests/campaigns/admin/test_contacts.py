"""Admin: who sees and does what, the import flow through views, and the exports."""

import csv
import io
import os

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.management.commands.seed_demo import GROUP_PERMISSIONS
from campaigns.models import Audience, Contact, ExportLog, ImportJob, Segment, SegmentRule
from config.celery import app
from suppression import policy
from suppression.addresses import address_hash
from suppression.models import Channel, Source
from tests.factories import make_audience

pytestmark = pytest.mark.django_db


def user_in(group_name):
    group, _ = Group.objects.get_or_create(name=group_name)
    group.permissions.set(Permission.objects.filter(codename__in=GROUP_PERMISSIONS[group_name]))
    user = get_user_model().objects.create_user(group_name.lower(), f"{group_name.lower()}@example.com", "pw")
    user.groups.add(group)
    return user


@pytest.fixture
def admin_client(client):
    client.force_login(user_in("Admins"))
    return client


@pytest.fixture
def marketer_client(client):
    client.force_login(user_in("Marketers"))
    return client


@pytest.fixture
def eager_tasks():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def csv_rows(response, delimiter=","):
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def test_marketers_see_counts_but_no_personal_data_and_cannot_import_or_export(marketer_client):
    audience = make_audience("Customers", [("ada@example.com", "Ada"), ("grace@example.com", "Grace")])
    policy.record_opt_out("grace@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    page = marketer_client.get(reverse("audience:index"))
    assert page.status_code == 200
    assert b"Customers" in page.content and b"ada@example.com" not in page.content
    assert [cell for cell in (b">2<", b">1<") if cell in page.content.replace(b" ", b"").replace(b"\n", b"")]
    for url in (
        reverse("contact:index"),
        reverse("imports:index"),
        reverse("imports:upload"),
        reverse("audience:export", args=[audience.pk]),
        reverse("contact:export_postal"),
        reverse("contact:export_third_party"),
    ):
        assert marketer_client.get(url).status_code in (302, 403), url
    assert not ExportLog.objects.exists()
    assert marketer_client.get(reverse("segment:add")).status_code == 200


def test_import_through_the_admin_with_mapping_dry_run_and_report(admin_client, eager_tasks):
    upload = SimpleUploadedFile("shop.csv", b"E-mail;Vorname;Plan\nada@example.com;Ada;pro\nbroken;X;y\n")
    response = admin_client.post(
        reverse("imports:upload"),
        {"file": upload, "kind": "contacts", "audience": "new", "new_audience": "Shop"},
    )
    job = ImportJob.objects.get()
    assert response.url == reverse("imports:mapping", args=[job.pk])
    mapping_page = admin_client.get(response.url)
    assert b"ada@example.com" in mapping_page.content  # preview of the first rows
    form = {"column_0": "email", "column_1": "first_name", "column_2": "attribute"}
    admin_client.post(response.url, form | {"dry_run": "1"})
    job.refresh_from_db()
    assert (job.status, job.dry_run, job.summary["created"], job.summary["invalid"]) == ("done", True, 1, 1)
    assert not Contact.objects.exists() and not Audience.objects.exists()
    admin_client.post(response.url, form | {"import": "1"})
    progress = admin_client.get(reverse("imports:progress", args=[job.pk])).json()
    assert (progress["status"], progress["done"], progress["percent"], progress["dry_run"]) == ("done", 2, 100, False)
    assert {k: progress["summary"][k] for k in ("rows", "created", "invalid")} == {
        "rows": 2,
        "created": 1,
        "invalid": 1,
    }
    ada = Contact.objects.get()
    assert (ada.first_name, ada.attributes, list(ada.audiences.values_list("name", flat=True))) == (
        "Ada",
        {"plan": "pro"},
        ["Shop"],
    )
    # The file used semicolons, so does its report (which copies no cell of the row).
    report = csv_rows(admin_client.get(reverse("imports:report", args=[job.pk])), delimiter=";")
    assert report[0] == ["line", "reason"] and report[1][0] == "3" and "broken" not in report[1][1]


def test_upload_without_email_column_is_refused_before_anything_is_written(admin_client, eager_tasks):
    upload = SimpleUploadedFile("names.csv", b"name,phone\nAda,1\n")
    response = admin_client.post(
        reverse("imports:upload"),
        {"file": upload, "kind": "contacts", "audience": "new", "new_audience": "Shop"},
    )
    job = ImportJob.objects.get()
    assert response.url == reverse("imports:mapping", args=[job.pk])  # the admin may still map a column
    mapping = admin_client.post(reverse("imports:mapping", args=[job.pk]), {"column_0": "first_name"})
    assert b"Map one column to Email" in mapping.content
    assert not Contact.objects.exists() and ImportJob.objects.get().status == "mapping"


def test_audience_export_is_admins_only_neutralised_and_audited(admin_client):
    audience = make_audience("Customers", [("ada@example.com", "=HYPERLINK(1)"), ("grace@example.com", "+Grace")])
    rows = csv_rows(admin_client.get(reverse("audience:export", args=[audience.pk])))
    assert rows[0][:3] == ["email", "first_name", "last_name"]
    assert sorted(row[1] for row in rows[1:]) == ["'+Grace", "'=HYPERLINK(1)"]
    log = ExportLog.objects.get()
    assert (log.kind, log.label, log.rows, log.username) == ("audience", "Customers", 2, "admins")


def test_postal_and_affiliated_exports_leave_out_those_who_opted_out(admin_client):
    Contact.objects.create(email="ada@example.com", postal_address="1 Way\nLondon")
    Contact.objects.create(email="grace@example.com", postal_address="2 Way\nNYC", last_name="@Hopper")
    Contact.objects.create(email="linus@example.com")
    policy.record_opt_out("ada@example.com", Channel.POSTAL_MARKETING, Source.PHONE)
    policy.record_opt_out("linus@example.com", Channel.THIRD_PARTY_SHARING, Source.LETTER)
    policy.record_opt_out("grace@example.com", Channel.EMAIL_MARKETING, Source.LINK)  # not a postal opt-out
    postal = csv_rows(admin_client.get(reverse("contact:export_postal")))
    assert postal[1:] == [["", "'@Hopper", "", "2 Way\nNYC", ""]]
    affiliated = csv_rows(admin_client.get(reverse("contact:export_third_party")))
    assert sorted(row[0] for row in affiliated[1:]) == ["ada@example.com", "grace@example.com"]
    assert list(ExportLog.objects.order_by("id").values_list("kind", "rows")) == [("postal", 1), ("third_party", 2)]


def test_segment_export_and_live_count_in_listing(admin_client):
    make_audience("Customers", [("ada@example.com", "Ada")])
    segment = Segment.objects.create(name="Everyone in Customers")
    SegmentRule.objects.create(segment=segment, field="audience", operator="is", value="Customers")
    assert b"Everyone in Customers" in admin_client.get(reverse("segment:index")).content
    rows = csv_rows(admin_client.get(reverse("segment:export", args=[segment.pk])))
    assert [row[0] for row in rows[1:]] == ["ada@example.com"]
    assert ExportLog.objects.get().kind == "segment"


def test_the_uploaded_list_is_not_kept_after_a_real_import(admin_client, eager_tasks):
    upload = SimpleUploadedFile("list.csv", b"email\nada@example.com\n")
    admin_client.post(
        reverse("imports:upload"),
        {"file": upload, "kind": "contacts", "audience": "new", "new_audience": "Shop"},
    )
    job = ImportJob.objects.get()
    stored = job.file.path
    admin_client.post(reverse("imports:mapping", args=[job.pk]), {"column_0": "email", "import": "1"})
    job.refresh_from_db()
    assert job.status == "done" and not job.file
    assert not os.path.exists(stored)
    assert admin_client.get(reverse("imports:mapping", args=[job.pk])).status_code == 404


def test_a_running_job_is_not_queued_twice(admin_client, eager_tasks):
    upload = SimpleUploadedFile("list.csv", b"email\nada@example.com\n")
    admin_client.post(
        reverse("imports:upload"),
        {"file": upload, "kind": "contacts", "audience": "new", "new_audience": "Shop"},
    )
    ImportJob.objects.update(status="running", rows_done=7)
    admin_client.post(
        reverse("imports:mapping", args=[ImportJob.objects.get().pk]), {"column_0": "email", "import": "1"}
    )
    assert ImportJob.objects.get().rows_done == 7 and not Contact.objects.exists()


def test_import_screens_name_their_step_and_show_each_kind_only_its_own_fields(admin_client):
    make_audience("Shop", [])
    upload_page = admin_client.get(reverse("imports:upload")).content.decode()
    assert "<title>New import" in upload_page
    assert f'href="{reverse("imports:index")}"' in upload_page  # the breadcrumb back to Imports
    # Audience and channel are shown by kind (Wagtail's w-rules), and neither is required up front.
    assert (
        'data-w-rules=\'{"kind": "contacts"}\'' in upload_page
        and 'data-w-rules=\'{"kind": "suppressions"}\'' in upload_page
    )
    assert "Close channel*" not in upload_page.replace(" ", "").replace("\n", "")
    assert ">Shop</option>" in upload_page and "+ New audience…" in upload_page

    def upload(**fields):
        return admin_client.post(
            reverse("imports:upload"), {"file": SimpleUploadedFile("l.csv", b"email\na@b.com\n"), **fields}
        )

    assert upload(kind="contacts").status_code == 200  # no audience chosen
    assert upload(kind="contacts", audience="new").status_code == 200  # new, but unnamed
    existing = Audience.objects.get(name="Shop")
    assert upload(kind="contacts", audience=str(existing.pk)).status_code == 302
    assert ImportJob.objects.get().audience_name == "Shop"
    suppressions = upload(kind="suppressions", channel="undeliverable", audience="new")
    job = ImportJob.objects.get(kind="suppressions")
    assert suppressions.url == reverse("imports:mapping", args=[job.pk])
    assert (job.channel, job.audience_name) == ("undeliverable", "")
    mapping = admin_client.get(suppressions.url).content.decode()
    assert "<title>Map columns" in mapping and "l.csv" in mapping  # the file is a step in the breadcrumbs


def test_contacts_list_each_channel_and_filter_by_it(admin_client):
    make_audience("Shop", [("ada@example.com", "Ada"), ("bob@example.com", "Bob"), ("cy@example.com", "Cy")])
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    policy.record_opt_out("bob@example.com", Channel.POSTAL_MARKETING, Source.PHONE)
    policy.record_opt_out("cy@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    listing = admin_client.get(reverse("contact:index"))
    labels = [column.label for column in listing.context["table"].columns.values()]
    assert {"Email offers", "Postal offers", "Affiliates", "Undeliverable"} <= set(labels)
    html = listing.content.decode()
    assert "Opted out" in html and "Subscribed" in html and ">Undeliverable<" in html.replace(" ", "").replace("\n", "")

    def emails(**query):
        response = admin_client.get(reverse("contact:index"), query)
        return sorted(contact.email for contact in response.context["object_list"])

    assert emails(email_offers="closed") == ["ada@example.com"]
    assert emails(email_offers="open") == ["bob@example.com", "cy@example.com"]
    assert emails(postal="closed") == ["bob@example.com"]
    assert emails(undeliverable="closed") == ["cy@example.com"]
    assert emails(affiliates="open") == ["ada@example.com", "bob@example.com", "cy@example.com"]
    row = {c.email: c for c in admin_client.get(reverse("contact:index")).context["object_list"]}
    assert (row["ada@example.com"].email_offers_closed, row["bob@example.com"].postal_closed) == (True, True)


def test_admins_see_a_contacts_consent_history_marketers_do_not(admin_client, client):
    make_audience("Shop", [("ada@example.com", "Ada")])
    ada = Contact.objects.get()
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.ONE_CLICK, campaign_id=7)
    policy.record_opt_in(
        address_hash("ada@example.com"), Channel.EMAIL_MARKETING, note="undo right after unsubscribing"
    )
    policy.record_opt_out("ada@example.com", Channel.POSTAL_MARKETING, Source.PHONE, actor="sam", note="called")
    html = admin_client.get(reverse("contact:inspect", args=[ada.pk])).content.decode()
    history = html.split("data-consent-history")[1]
    assert history.count("<tr>") == 4 and history.count("Opted out") == 2 and history.count("Opted in") == 1
    assert "One-click (RFC 8058)" in history and "(campaign 7)" in history and "called" in history
    channels = html.split('id="channels"')[1].split("data-consent-history")[0]
    assert "Postal offers" in channels and "Phone call" in channels

    marketer = user_in("Marketers")
    client.force_login(marketer)
    assert client.get(reverse("contact:inspect", args=[ada.pk])).status_code in (302, 403)
