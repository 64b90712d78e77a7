"""Take the README's screenshots: the marketer's journey (tests/e2e/journey.py), then a signup
page in the Wagtail editor beside the form it publishes, then an A/B subject test's report.

Starts `make run`'s embedded default in a throwaway folder (tests.services.EmbeddedMailroom:
migrate, seed the demo, web + worker + beat on a free port), walks the journey in headless
Chromium, and writes each picture the README shows into docs/.
Usage: .venv/bin/python scripts/screenshots.py [subject-test]  (a name: that picture only)
"""

import io
import os
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import CHROMIUM_ARGS  # noqa: E402  (the project root is on the path only now)
from tests.e2e import journey  # noqa: E402
from tests.services import EmbeddedMailroom  # noqa: E402

# Journey shot → the viewport it is taken at (None: as the journey left it).
SHOTS = {
    "dashboard": {"width": 1280, "height": 1000},
    "campaign-new": {"width": 1280, "height": 1900},
    "campaign-review": {"width": 1280, "height": 1000},
    "campaign-report": {"width": 1280, "height": 1000},
    "preference-centre": {"width": 430, "height": 900},
    "email-preview-desktop": None,
    "email-preview-mobile": None,
}
# A signup page under the home page, for its screenshot; prints its id.
SIGNUP_PAGE = """
from wagtail.models import Page
from campaigns.models import Audience
from signup.models import SignupPage
page = SignupPage(
    title="Offers by email",
    slug="join",
    intro="<p>Our software and training offers, about twice a month.</p>",
    audience=Audience.objects.get(name="Demo customers"),
    offer_postal=True,
    consent_text="<p>Yes, email me product and course offers. I can unsubscribe in one click from any "
    "of them. How we use your data: <a href='https://example.com/privacy'>privacy policy</a>.</p>",
)
Page.get_first_root_node().get_children().first().add_child(instance=page)
page.save_revision().publish()
print(page.pk)
"""
# An A/B subject test of the demo email to the demo customers: the test share sent in this
# process, then opens and clicks recorded on its deliveries as the ESP's webhooks record
# them (the embedded default mails to the outbox, which reports nothing); prints its id.
SUBJECT_TEST = """
from django.utils import timezone
from campaigns.models import Audience, Campaign, Delivery, DeliveryEvent, SubjectVariant
from campaigns.sending import lifecycle, pipeline
from cms.models import EmailPage
campaign = Campaign.objects.create(
    name="Winter offers: which subject?", page=EmailPage.objects.get(slug="winter-offers"), test_share=60
)
campaign.audiences.add(Audience.objects.get(name="Demo customers"))
subjects = ["{first_name|Hello}, our winter offers", "Last week of winter prices", "New courses for {first_name|you}"]
for label, subject in zip("ABC", subjects):
    SubjectVariant.objects.create(campaign=campaign, label=label, subject=subject)
lifecycle.schedule(campaign)
lifecycle.begin(campaign.pk)
while pipeline.send_next_batch(campaign.pk):
    pass
opens, clicks = {"A": 3, "B": 6, "C": 2}, {"A": 1, "B": 3, "C": 0}
for variant in campaign.variants.all():
    sent = Delivery.objects.filter(campaign=campaign, variant=variant, status="sent")
    for kind, count in (("opened", opens), ("clicked", clicks)):
        for delivery in sent[: count[variant.label]]:
            DeliveryEvent.objects.create(campaign=campaign, delivery=delivery, kind=kind, occurred_at=timezone.now())
print(campaign.pk)
"""


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    with (
        tempfile.TemporaryDirectory(prefix="mailroom-shots-") as folder,
        EmbeddedMailroom(Path(folder) / "var", MAILROOM_SCHEDULER_INTERVAL="1") as mailroom,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        if sys.argv[1:] == ["subject-test"]:
            journey.log_in(page, mailroom)
        else:
            journey.run(page, mailroom, shot=lambda name: shoot(page, name))
            shoot_signup(browser, page, mailroom)
        shoot_subject_test(page, mailroom)
        browser.close()


def shoot(page, name):
    if name not in SHOTS:
        return
    journey_viewport = page.viewport_size
    if SHOTS[name]:
        page.set_viewport_size(SHOTS[name])
    if name == "campaign-review":
        page.locator("[data-review]").evaluate("element => element.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(400)  # layout and images settle after a resize
    target = ROOT / "docs" / f"{name}.png"
    page.screenshot(path=str(target))
    page.set_viewport_size(journey_viewport)
    print(f"wrote {target.relative_to(ROOT)}")


def shoot_signup(browser, page, mailroom):
    """The signup page's editor (its fields) and, beside it, the public form on a phone."""
    page_id = mailroom.manage("shell", "--no-imports", "-c", SIGNUP_PAGE).split()[-1]
    target = ROOT / "docs" / "signup-page.png"
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"{mailroom.url}/admin/pages/{page_id}/edit/")
    page.wait_for_selector("text=Consent wording")
    page.wait_for_load_state("networkidle")
    editor = page.screenshot(full_page=False)
    phone = browser.new_context(viewport={"width": 390, "height": 700}).new_page()
    phone.goto(f"{mailroom.url}/join/")
    form = phone.screenshot(full_page=True)
    side_by_side(editor, form, target)
    print(f"wrote {target.relative_to(ROOT)}")


def shoot_subject_test(page, mailroom):
    """The report of an A/B subject test waiting for its winner: each variant's figures."""
    campaign_id = mailroom.manage("shell", "--no-imports", "-c", SUBJECT_TEST).split()[-1]
    target = ROOT / "docs" / "subject-test.png"
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"{mailroom.url}/admin/campaign/inspect/{campaign_id}/")
    page.locator("#campaign-subject-test").evaluate("element => element.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(400)
    page.screenshot(path=str(target))
    print(f"wrote {target.relative_to(ROOT)}")


def side_by_side(left_png, right_png, target):
    from PIL import Image

    left, right = Image.open(io.BytesIO(left_png)), Image.open(io.BytesIO(right_png))
    gap = 24
    canvas = Image.new("RGB", (left.width + gap + right.width, max(left.height, right.height)), (203, 213, 225))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + gap, 0))
    canvas.save(target, optimize=True)


if __name__ == "__main__":
    main()
