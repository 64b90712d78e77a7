"""README's role table, walked: every admin URL the project adds (found through the URL
resolver, so a new one without a row fails) and the Wagtail ones people use, for each of
Admin, Marketer, Editor and Moderator, is allowed or refused exactly as the table says.
A page a non-Admin may open never shows a whole address, a contact's name or a staff note;
where the table says `masked`, it shows the masked address instead."""

import io
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from wagtail.admin.viewsets import viewsets
from wagtail.log_actions import log

from campaigns.audiences import import_jobs
from campaigns.models import Contact, Delivery, ImportJob, Segment, SegmentRule
from campaigns.sending import lifecycle
from cms.models import Course, EmailPage, Product
from suppression import policy
from suppression.addresses import mask_address
from suppression.models import Channel, Source, Suppression
from tests.factories import make_audience, make_campaign
from tests.security.staff import GROUPS as ROLES

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
PROJECT_PACKAGES = ("campaigns", "suppression", "cms", "accountmail", "config", "signup")
# Personal data the fixture spreads over every page it can reach.
ADDRESS, FIRST_NAME, LAST_NAME = "augusta.king@example.org", "Augusta", "Byron-King"
SUPPRESSED, NOTE = "grace.hopper@example.net", "Rang from 020 7946 0991"
PERSONAL = (ADDRESS, FIRST_NAME, LAST_NAME, SUPPRESSED, NOTE)
MASKED = (mask_address(ADDRESS), mask_address(SUPPRESSED))


def role_table():
    """{url name: (path, {role: "yes" | "masked" | "no"})} from the README's role table."""
    text = README.read_text()
    table = text[text.index("<!-- role table -->") :].split("\n\n", 1)[0]
    header, *rows = [line for line in table.splitlines() if line.startswith("|")]
    roles = [cell.strip() for cell in header.strip("|").split("|")][2:]
    assert roles == list(ROLES), roles
    parsed = {}
    for row in rows[1:]:  # the first is the --- line
        name, route, *cells = [cell.strip().strip("`") for cell in row.strip("|").split("|")]
        assert name not in parsed, f"two rows for {name}"
        assert {*cells} <= {"yes", "masked", "no"}, row
        parsed[name] = (route, dict(zip(roles, cells, strict=True)))
    return parsed


def admin_routes():
    """[(url name, route, module of its view)] of every named URL."""
    return list(_walk(get_resolver().url_patterns))


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            view = getattr(pattern.callback, "view_class", pattern.callback)
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, prefix + str(pattern.pattern), view.__module__


def project_admin_urls(routes):
    """{url name: route} of the admin URLs whose view, or the viewset serving it, is the project's."""
    ours = {
        viewset.url_namespace
        for viewset in viewsets.viewsets
        if type(viewset).__module__.startswith(tuple(f"{package}." for package in PROJECT_PACKAGES))
    }
    return {
        name: route
        for name, route, module in routes
        if route.startswith("admin/") and (module.split(".")[0] in PROJECT_PACKAGES or name.split(":")[0] in ours)
    }


@pytest.fixture
def world(settings, tmp_path, sender_settings):
    """seed_demo's groups and content, Wagtail's Editors and Moderators, and personal data
    on every page that could show it: a contact (and its admin history), a failed delivery
    whose SMTP error quotes the address, a suppression with a staff note, an upload."""
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", password="demo-password-1", stdout=io.StringIO())
    users = {}
    for role, group in ROLES.items():
        users[role] = get_user_model().objects.create_user(f"the-{role.lower()}", f"{role.lower()}@example.com", "pw")
        users[role].groups.add(Group.objects.get(name=group))
    page = EmailPage.objects.get(slug="winter-offers")
    audience = make_audience("Customers", [(ADDRESS, FIRST_NAME), ("other@example.com", "Other")])
    contact = Contact.objects.get(email=ADDRESS)
    Contact.objects.filter(pk=contact.pk).update(last_name=LAST_NAME)
    log(contact, "wagtail.create", user=users["Admin"])  # as the admin's contact form does
    campaigns = {}
    for status in ("sending", "paused", "draft"):
        campaign = make_campaign(page, audience, name=f"Campaign {status}")
        if status != "draft":
            lifecycle.schedule(campaign)
            lifecycle.begin(campaign.pk)
        if status == "paused":
            lifecycle.pause(campaign.pk, reason="Paused in the test")
        campaigns[status] = campaign
    Delivery.objects.filter(campaign=campaigns["sending"], contact=contact).update(
        status=Delivery.Status.FAILED, reason=f"550 5.1.1 <{ADDRESS}>: no such user"
    )
    policy.record_opt_out(
        SUPPRESSED,
        Channel.COMPLAINT,
        Source.COMPLAINT,
        actor="postmark",
        reason=f"Complaint by {SUPPRESSED}",
        note=NOTE,
    )
    segment = Segment.objects.create(name="Customers segment")
    SegmentRule.objects.create(segment=segment, field="audience", operator="is", value="Customers")
    upload = SimpleUploadedFile("list.csv", f"email,first_name\n{ADDRESS},{FIRST_NAME}\nbroken,X\n".encode())
    job = ImportJob.objects.create(original_name="list.csv", file=upload, audience_name="Customers")
    import_jobs.inspect(job.pk)  # as the worker does: the preview shows the address
    ImportJob.objects.filter(pk=job.pk).update(mapping={"0": "email", "1": "first_name"})
    job.refresh_from_db()
    import_jobs.mark_queued(job, dry_run=True)
    import_jobs.run(job.pk)  # a dry run: the file is kept, with a report
    product, course = Product.objects.first(), Course.objects.first()
    return {
        "users": users,
        "page": page,
        "pk": {
            "campaign": campaigns["sending"].pk,
            "audience": audience.pk,
            "contact": contact.pk,
            "segment": segment.pk,
            "imports": job.pk,
            "suppression_admin": Suppression.objects.get(address=SUPPRESSED).pk,
            "email_chooser": page.pk,
            "wagtailsnippets_cms_product": product.pk,
            "wagtailsnippets_cms_course": course.pk,
            "wagtailusers_users": users["Marketer"].pk,
            "wagtailusers_groups": Group.objects.get(name="Marketers").pk,
            # The lifecycle actions need a campaign in a status that allows them.
            "campaign:resume": campaigns["paused"].pk,
            **{f"campaign:{action}": campaigns["draft"].pk for action in ("send", "schedule", "edit", "delete")},
        },
        "revision": {
            "wagtailsnippets_cms_product": product.latest_revision_id,
            "wagtailsnippets_cms_course": course.latest_revision_id,
        },
    }


def url_for(name, routes, world):
    """The URL `name` with arguments from the world's objects."""
    namespace = name.split(":")[0]
    pattern = next(route for known, route, _ in routes if known == name)
    kwargs = {}
    for argument in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", pattern):
        argument = next(filter(None, argument))
        kwargs[argument] = {
            "pk": world["pk"].get(name, world["pk"].get(namespace)),
            "page_id": world["page"].pk,
            "parent_page_id": world["page"].get_parent().pk,
            "revision_id": world["revision"].get(namespace),
            "revision_id_a": "earliest",
            "revision_id_b": "latest",
            "app_name": "cms",
            "model_name": "sendersettings",
        }[argument]
    return reverse(name, kwargs=kwargs)


def outcome(response):
    """ "no" when Wagtail refused (403, or its redirect home with "Sorry, you do not have
    permission"), "yes" when the page answered, else the status code."""
    if response.status_code == 403 or (response.status_code == 302 and response.url in ("/admin/", "/admin/login/")):
        return "no"
    if response.status_code in (200, 302):
        return "yes"
    return str(response.status_code)


def test_every_admin_url_answers_each_role_as_the_role_table_says(world):
    table, routes = role_table(), admin_routes()
    ours = project_admin_urls(routes)
    missing = sorted(set(ours) - set(table))
    wrong = []
    clients = {}
    for role, user in world["users"].items():
        clients[role] = Client()
        clients[role].force_login(user)
    for name, (_route, expected) in table.items():
        url = url_for(name, routes, world)
        for role, client in clients.items():
            response = client.get(url)
            seen = outcome(response)
            wanted = "yes" if expected[role] == "masked" else expected[role]
            if seen != wanted:
                wrong.append(f"{name} as {role}: {seen}, the table says {expected[role]} ({url})")
                continue
            body = ""
            if response.status_code == 200:
                content = b"".join(response.streaming_content) if response.streaming else response.content
                body = content.decode(errors="replace")
            if role != "Admin" and seen == "yes":
                wrong += [f"{name} as {role} shows {text!r}" for text in PERSONAL if text in body]
            if expected[role] == "masked" and not any(masked in body for masked in MASKED):
                wrong.append(f"{name} as {role}: no masked address on the page")
    rows = []
    for name in missing:  # what the resolver knows but the table does not: the rows to check and add
        url = url_for(name, routes, world)
        cells = [outcome(client.get(url)) for client in clients.values()]
        rows.append(f"| `{name}` | `/{ours[name]}` | {' | '.join(cells)} |")
    assert not missing, "Admin URLs without a row in README's role table:\n" + "\n".join(rows)
    assert not wrong, "\n".join(wrong)
