"""`seed_demo`: an admin, the two staff groups, sender settings, a small catalogue (products
and courses with sessions), an offer email with two product offers and a course offer, and
an audience of 50 contacts (3 opted out). Idempotent: running it again changes nothing."""

import io
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.files.images import ImageFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from wagtail.images.models import Image
from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission, Page, Site

from campaigns.models import Audience, Campaign, Contact, Membership
from cms.models import Course, CourseSession, EmailPage, Product, SenderSettings
from suppression import policy
from suppression.models import Channel, Source

FIRST_NAMES = ["Ada", "Grace", "Linus", "Guido", "Barbara", "Ken", "Margaret", "Dennis", "Radia", "Tim"]
LAST_NAMES = ["Lovelace", "Hopper", "Torvalds", "van Rossum", "Liskov"]
CATALOGUE_PERMISSIONS = [
    f"{action}_{model}" for model in ("product", "course") for action in ("add", "change", "publish", "view")
]
SEGMENT_PERMISSIONS = ["view_segment", "add_segment", "change_segment"]
# Everyone may record an opt-out; only Admins export the list, lift one or handle a person's data.
SUPPRESSION_PERMISSIONS = ["view_suppression", "add_suppression"]
# Marketers pick audiences and segments, send tests and see counts and masked addresses;
# only Admins import, export or see personal data (README: Roles).
GROUP_PERMISSIONS = {
    "Marketers": [
        "access_admin",
        "add_campaign",
        "change_campaign",
        "view_campaign",
        "send_test_email",
        "view_audience",
    ]
    + CATALOGUE_PERMISSIONS
    + SEGMENT_PERMISSIONS
    + SUPPRESSION_PERMISSIONS,
    "Admins": [
        "access_admin",
        "add_campaign",
        "change_campaign",
        "delete_campaign",
        "view_campaign",
        "send_test_email",
        "add_audience",
        "change_audience",
        "delete_audience",
        "view_audience",
        "delete_product",
        "delete_course",
        "change_sendersettings",
        "delete_segment",
        "view_contact",
        "add_contact",
        "change_contact",
        "delete_contact",
        "export_contacts",
        "add_importjob",
        "view_importjob",
        "delete_suppression",
        "export_suppression",
        "manage_personal_data",
        "view_personal_data",
    ]
    + CATALOGUE_PERMISSIONS
    + SEGMENT_PERMISSIONS
    + SUPPRESSION_PERMISSIONS,
}
# Both groups compose email pages and use the image library.
PAGE_PERMISSIONS = ["add_page", "change_page", "publish_page"]
IMAGE_PERMISSIONS = ["add_image", "change_image", "choose_image"]
PRODUCTS = [
    (
        "DataDesk Pro",
        "499.00",
        "#1d4ed8",
        "Dashboards and reports from your spreadsheets and databases, shared with your whole team in minutes.",
    ),
    (
        "ShipIt CI",
        "29.00",
        "#047857",
        "Continuous integration that runs your tests on every push, with results in your pull request.",
    ),
]
COURSES = [
    (
        "Python for Data Analysis",
        "1200.00",
        "#b45309",
        "Five days from first notebook to a tested, reusable analysis package. Small groups, hands-on labs.",
    ),
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
            self.seed_content_permissions(group)
        self.seed_admin(password)
        self.seed_catalogue()
        page = self.seed_page()
        audience = self.seed_audience()
        campaign, _ = Campaign.objects.get_or_create(name="Winter offers (demo)", defaults={"page": page})
        campaign.audiences.add(audience)
        self.stdout.write(
            f"Demo campaign id: {campaign.pk} (send it with: python manage.py send_campaign {campaign.pk})"
        )

    def seed_admin(self, password):
        """Create the admin; its generated password is kept in var/ (never committed) so
        that every `make run` can show the login again."""
        password_file = settings.VAR_DIR / "demo-admin-password.txt"
        User = get_user_model()
        user = User.objects.filter(username="admin").first()
        if user and not password:
            known = (
                password_file.read_text().strip() if password_file.exists() else "(unchanged; reset with --password)"
            )
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

    def seed_content_permissions(self, group):
        page_type = ContentType.objects.get_for_model(Page)
        for codename in PAGE_PERMISSIONS:
            GroupPagePermission.objects.get_or_create(
                group=group,
                page=Page.get_first_root_node(),
                permission=Permission.objects.get(content_type=page_type, codename=codename),
            )
        for codename in IMAGE_PERMISSIONS:
            GroupCollectionPermission.objects.get_or_create(
                group=group,
                collection=Collection.get_first_root_node(),
                permission=Permission.objects.get(content_type__app_label="wagtailimages", codename=codename),
            )

    def seed_catalogue(self):
        for name, price, colour, summary in PRODUCTS:
            if not Product.objects.filter(name=name).exists():
                slug = name.lower().replace(" ", "-")
                product = Product.objects.create(
                    name=name,
                    price=price,
                    summary=summary,
                    image=demo_image(name, colour),
                    url=f"https://example.com/products/{slug}",
                )
                product.save_revision().publish()
        now = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0)
        for title, price, colour, summary in COURSES:
            if Course.objects.filter(title=title).exists():
                continue
            course = Course.objects.create(title=title, price=price, summary=summary, image=demo_image(title, colour))
            # One session already past: the email must not show it.
            for days, mode, location, seats in [
                (-10, "classroom", "London", 0),
                (14, "online", "", 8),
                (35, "classroom", "Berlin", 3),
                (70, "online", "", None),
            ]:
                CourseSession.objects.create(
                    course=course,
                    starts_at=now + timedelta(days=days),
                    duration_days=5,
                    mode=mode,
                    location=location,
                    seats_left=seats,
                    registration_url=f"https://example.com/courses/python-data/{days + 100}",
                )
            course.save_revision().publish()

    def seed_page(self):
        site = Site.objects.get(is_default_site=True)
        sender = SenderSettings.for_site(site)
        if not sender.postal_address:
            sender.postal_address = "1 Example Street\nSpringfield 12345\nUnited States"
            sender.save()
        page = EmailPage.objects.filter(slug="winter-offers").first()
        if page:
            return page
        home = Page.get_first_root_node().get_children().first()
        if home.title.startswith("Welcome to your new Wagtail site"):  # Wagtail's placeholder
            home.title = home.draft_title = "Emails"
            home.save()
        page = EmailPage(
            title="Winter offers",
            slug="winter-offers",
            subject="{first_name|Hello}, our winter offers are here",
            preheader="Courses and software at winter prices.",
            body=[
                ("heading", "Hello {first_name|there}!"),
                (
                    "text",
                    "<p>Our <b>winter offers</b> on software and training courses are open until the end of the month.</p>",
                ),
                (
                    "product_offer",
                    {
                        "product": Product.objects.get(name="DataDesk Pro"),
                        "promo_price": "399.00",
                        "discount_text": "20% off until 31 December",
                        "button_label": "Get DataDesk Pro",
                    },
                ),
                (
                    "product_offer",
                    {"product": Product.objects.get(name="ShipIt CI"), "button_label": "Start a free trial"},
                ),
                ("divider", None),
                (
                    "course_offer",
                    {
                        "course": Course.objects.get(title="Python for Data Analysis"),
                        "sessions_shown": 3,
                        "discount_text": "Early-bird price",
                    },
                ),
                ("button", {"label": "See all offers", "url": "https://example.com/offers"}),
            ],
        )
        home.add_child(instance=page)
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
                f"customer{number:02d}@example.com",
                Channel.EMAIL_MARKETING,
                Source.ADMIN,
                actor="seed_demo",
                note="Demo opt-out",
            )
        return audience


def demo_image(title, colour, size=(800, 520)):
    """A plain branded picture for the demo catalogue, drawn with Pillow (no files to ship)."""
    image = Image.objects.filter(title=title).first()
    if image:
        return image
    picture = PILImage.new("RGB", size, colour)
    draw = ImageDraw.Draw(picture)
    for step in range(0, size[0], 40):  # a light diagonal pattern
        draw.line([(step, 0), (step - size[1], size[1])], fill="#ffffff22", width=2)
    font = ImageFont.load_default(size=84)
    words, lines = title.split(), []
    for word in words:
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) < size[0] - 120:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    y = size[1] // 2 - 50 * len(lines)
    for line in lines:
        draw.text((60, y), line, fill="white", font=font)
        y += 100
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    name = title.lower().replace(" ", "-") + ".png"
    return Image.objects.create(title=title, file=ImageFile(buffer, name=name))
