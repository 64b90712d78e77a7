"""`seed_demo`: an admin, the two staff groups, sender settings, an offer email and an
audience of 50 contacts (3 opted out). Idempotent: running it again changes nothing."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from wagtail.models import Page, Site

from campaigns.models import Audience, Campaign, Contact, Membership
from cms.models import EmailPage, SenderSettings
from suppression import policy
from suppression.models import Channel, Source

FIRST_NAMES = ["Ada", "Grace", "Linus", "Guido", "Barbara", "Ken", "Margaret", "Dennis", "Radia", "Tim"]
LAST_NAMES = ["Lovelace", "Hopper", "Torvalds", "van Rossum", "Liskov"]
GROUP_PERMISSIONS = {
    "Marketers": ["access_admin", "add_campaign", "change_campaign", "view_campaign", "view_audience"],
    "Admins": [
        "access_admin", "add_campaign", "change_campaign", "delete_campaign", "view_campaign",
        "add_audience", "change_audience", "delete_audience", "view_audience",
    ],
}
# Suppression: everyone may record an opt-out; only Admins export the list or lift one.
GROUP_PERMISSIONS["Marketers"] += ["view_suppression", "add_suppression"]
GROUP_PERMISSIONS["Admins"] += [
    "view_suppression", "add_suppression", "delete_suppression", "export_suppression", "manage_personal_data",
]


class Command(BaseCommand):
    help = "Create demo data for `make run`; safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Admin password (default: generated on first run)")

    @transaction.atomic
    def handle(self, *args, password=None, **options):
        for name, codenames in GROUP_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=name)
            group.permissions.add(*Permission.objects.filter(codename__in=codenames))
        self.seed_admin(password)
        page = self.seed_page()
        audience = self.seed_audience()
        campaign, _ = Campaign.objects.get_or_create(name="Winter offers (demo)", defaults={"page": page})
        campaign.audiences.add(audience)
        self.stdout.write(f"Demo campaign id: {campaign.pk} (send it with: python manage.py send_campaign {campaign.pk})")

    def seed_admin(self, password):
        """Create the admin; its generated password is kept in var/ (never committed) so
        that every `make run` can show the login again."""
        password_file = settings.VAR_DIR / "demo-admin-password.txt"
        User = get_user_model()
        user = User.objects.filter(username="admin").first()
        if user and not password:
            known = password_file.read_text().strip() if password_file.exists() else "(unchanged; reset with --password)"
            self.stdout.write(f"Admin login: admin / {known}")
            return
        password = password or secrets.token_urlsafe(9)
        if user is None:
            user = User.objects.create_superuser("admin", "admin@example.com", password)
        else:
            user.set_password(password)
            user.save()
        user.groups.add(Group.objects.get(name="Admins"))
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        self.stdout.write(f"Admin login: admin / {password}")

    def seed_page(self):
        site = Site.objects.get(is_default_site=True)
        sender = SenderSettings.for_site(site)
        if not sender.postal_address:
            sender.postal_address = "1 Example Street\nSpringfield 12345\nUnited States"
            sender.save()
        page = EmailPage.objects.filter(slug="winter-offers").first()
        if page:
            return page
        page = EmailPage(
            title="Winter offers",
            slug="winter-offers",
            subject="{first_name|Hello}, our winter offers are here",
            preheader="Courses and software at winter prices.",
            body=[
                ("heading", "Hello {first_name|there}!"),
                ("text", "<p>Our <b>winter offers</b> on software and training courses are open until the end of the month.</p>"),
                ("button", {"label": "See the offers", "url": "https://example.com/offers"}),
            ],
        )
        Page.get_first_root_node().get_children().first().add_child(instance=page)
        page.save_revision().publish()
        return page

    def seed_audience(self):
        audience, _ = Audience.objects.get_or_create(name="Demo customers")
        for number in range(50):
            contact, _ = Contact.objects.get_or_create(
                email=f"customer{number:02d}@example.com",
                defaults={
                    "first_name": FIRST_NAMES[number % len(FIRST_NAMES)],
                    "last_name": LAST_NAMES[number % len(LAST_NAMES)],
                },
            )
            Membership.objects.get_or_create(audience=audience, contact=contact)
        for number in (7, 21, 42):
            policy.record_opt_out(
                f"customer{number:02d}@example.com", Channel.EMAIL_MARKETING, Source.ADMIN,
                actor="seed_demo", note="Demo opt-out",
            )
        return audience
