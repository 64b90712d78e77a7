"""Small builders for test data: pages, audiences, campaigns."""

from wagtail.models import Page

from campaigns.models import Audience, Campaign, Contact, Membership
from cms.models import EmailPage


def make_page(title="Offers", subject="{first_name|Hello}, new offers", body=None):
    page = EmailPage(
        title=title,
        subject=subject,
        preheader="Software and courses",
        body=body
        or [
            ("heading", "Hello {first_name|there}!"),
            ("text", "<p>Our new offers.</p>"),
            ("button", {"label": "See offers", "url": "https://example.com/offers"}),
        ],
    )
    Page.get_first_root_node().get_children().first().add_child(instance=page)
    return page


def make_audience(name, people):
    """people: iterable of (email, first_name) pairs."""
    audience = Audience.objects.create(name=name)
    for email, first_name in people:
        contact, _ = Contact.objects.get_or_create(email=email, defaults={"first_name": first_name})
        Membership.objects.create(audience=audience, contact=contact)
    return audience


def make_campaign(page, *audiences, name="Campaign"):
    campaign = Campaign.objects.create(name=name, page=page)
    campaign.audiences.add(*audiences)
    return campaign


def make_image(title="Picture", width=800, height=500, colour=(29, 78, 216)):
    """A real image in Wagtail's image library (PNG made with Pillow)."""
    import io

    from django.core.files.images import ImageFile
    from PIL import Image as PILImage
    from wagtail.images.models import Image

    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(buffer, "PNG")
    return Image.objects.create(title=title, file=ImageFile(buffer, name=f"{title.lower().replace(' ', '-')}.png"))


def make_product(name="Team Licence", price="499.00", **fields):
    from cms.models import Product

    fields.setdefault("summary", f"{name}: everything your team needs.")
    fields.setdefault("url", "https://example.com/products/team-licence")
    product = Product.objects.create(name=name, price=price, **fields)
    product.save_revision().publish()
    return product


def make_course(title="Python in a Week", sessions=(), price="1200.00", **fields):
    """sessions: (starts_at, mode, location, seats_left) tuples."""
    from cms.models import Course, CourseSession

    fields.setdefault("summary", "Five days from first script to tested package.")
    course = Course.objects.create(title=title, price=price, **fields)
    for starts_at, mode, location, seats in sessions:
        CourseSession.objects.create(
            course=course,
            starts_at=starts_at,
            duration_days=5,
            mode=mode,
            location=location,
            seats_left=seats,
            registration_url=f"https://example.com/register/{starts_at:%Y%m%d}",
        )
    course.save_revision().publish()
    return course


def make_big_audience(name, count, domain="example.com"):
    """`count` contacts person00000@domain … in one audience, created in bulk."""
    from suppression.addresses import address_hash

    audience = Audience.objects.create(name=name)
    contacts = Contact.objects.bulk_create(
        Contact(email=f"person{n:05d}@{domain}", email_hash=address_hash(f"person{n:05d}@{domain}"), first_name=f"P{n}")
        for n in range(count)
    )
    Membership.objects.bulk_create(Membership(audience=audience, contact=contact) for contact in contacts)
    return audience


def stored_without_checks(audience, email, first_name="Eve"):
    """A contact as old data or a direct database write could hold it: past the validator."""
    from suppression.addresses import address_hash

    [contact] = Contact.objects.bulk_create(
        [Contact(email=email, email_hash=address_hash(email), first_name=first_name)]
    )
    Membership.objects.create(audience=audience, contact=contact)


def start(campaign):
    """Schedule `campaign` for now and begin it: frozen, snapshotted and sending, with no
    batch queued (the test sends in this process, or starts workers)."""
    from campaigns.sending import lifecycle

    lifecycle.schedule(campaign)
    assert lifecycle.begin(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def started_campaign(people):
    """A campaign to `people` (email, first name), frozen and snapshotted, ready to send."""
    return start(make_campaign(make_page(), make_audience("Customers", people)))


def send_until_idle(campaign):
    """Work the campaign in this process, batch after batch, until nothing is claimable."""
    from campaigns.sending import pipeline

    while pipeline.send_next_batch(campaign.pk):
        pass


def in_hand(campaign_id):
    """The ids of the campaign's deliveries that workers hold without an outcome yet:
    claimed row by row, or pending inside a chain's range (campaigns.sending.claims)."""
    from django.db.models import Exists, OuterRef, Q

    from campaigns.models import Delivery, SendChain

    ranges = SendChain.objects.filter(
        campaign_id=OuterRef("campaign_id"), range_from__lte=OuterRef("pk"), range_to__gte=OuterRef("pk")
    )
    return set(
        Delivery.objects.filter(
            Q(status=Delivery.Status.CLAIMED) | Q(Exists(ranges), status=Delivery.Status.PENDING),
            campaign_id=campaign_id,
        ).values_list("pk", flat=True)
    )


def without_outcome(ids):
    """Those of the deliveries `ids` that are still pending or claimed."""
    from campaigns.models import Delivery

    return Delivery.objects.filter(pk__in=ids, status__in=[Delivery.Status.PENDING, Delivery.Status.CLAIMED])


def import_csv(text, audience_name):
    """Run the real import pipeline on CSV `text`; returns its ImportSummary."""
    import tempfile
    from pathlib import Path

    from campaigns.audiences.importing import import_file

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.csv"
        path.write_text(text, encoding="utf-8")
        return import_file(path, audience_name=audience_name, report_path=Path(folder) / "rejected.csv")
