"""The marketer's journey after `make run`, in a browser, one step after another: log in,
compose an email page with a product and a course, publish it, create a campaign while
watching the live count, send a test, schedule it a minute ahead, watch the report reach
sent, then open an outbox message's unsubscribe link and the preference centre.

tests/e2e/test_journey.py runs it and scripts/screenshots.py photographs it: each step
asserts what a newcomer should see (Playwright's expect) and calls `shot(name)` where the
README has a picture. Steps follow links and buttons a newcomer would, not URLs from the
README.
"""

import email
import email.policy
import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from playwright.sync_api import expect

EMAIL_TITLE = "Spring offers"
CAMPAIGN_NAME = "Spring offers to our customers"
TEST_ADDRESS = "admin@example.com"
SEND_WAIT_MS = 150_000  # a minute ahead, then the workers


def log_in(page, mailroom):
    page.goto(f"{mailroom.url}/admin/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", mailroom.password)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()


def dashboard_says_what_to_do(page, mailroom, shot):
    counts = page.locator(".w-summary")
    expect(counts).to_contain_text("50 Contacts")
    expect(counts).to_contain_text("47 Deliverable")
    expect(counts).to_contain_text("3 Suppressed")
    expect(page.locator("[data-first-steps]")).to_contain_text("Compose an email and publish it")
    shot("dashboard-first-steps")


def compose_and_publish_email(page, mailroom, shot):
    page.get_by_role("link", name="Compose an email and publish it").click()
    page.fill("#id_title", EMAIL_TITLE)
    page.fill("#id_subject", "{first_name|Hello}, spring offers on software and training")
    page.fill("#id_preheader", "DataDesk Pro and our Python course at spring prices.")
    add_block(page, "Heading")
    page.locator("[data-contentpath=body] input[type=text]").last.fill("Hello {first_name|there}, spring is here")
    add_block(page, "Product offer")
    choose_in_modal(page, "Choose Product", "DataDesk Pro")
    page.get_by_label("Discount text").last.fill("20% off until the end of April")
    page.get_by_label("Promo price").last.fill("399")
    add_block(page, "Course offer")
    choose_in_modal(page, "Choose Course", "Python for Data Analysis")
    # Wagtail saves a new page as a draft by itself within a second of an edit and turns the
    # form into the page's edit form; publishing before that would create the page a second
    # time. An autosave tried while a chooser block was still empty pauses until the next
    # edit, so the title gets one last keystroke (typed and taken back) once all is filled.
    page.locator("#id_title").press("End")
    page.locator("#id_title").press_sequentially(" ")
    page.locator("#id_title").press("Backspace")
    expect(page).to_have_url(re.compile(r"/admin/pages/\d+/edit/"), timeout=20_000)
    page_id = int(re.search(r"/pages/(\d+)/", page.url).group(1))
    shot("email-compose")
    page.locator("footer [data-w-dropdown-target=toggle]").first.click()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".messages")).to_contain_text("published")
    return page_id


def add_block(page, label):
    page.locator("[data-contentpath=body] button[title='Insert a block']").last.click()
    page.get_by_role("option", name=label).click()


def choose_in_modal(page, button, item):
    page.locator("[data-contentpath=body]").get_by_role("button", name=button).last.click()
    modal = page.locator(".modal-dialog")
    modal.get_by_role("link", name=item).click()
    expect(modal).to_be_hidden()


def preview_email(page, mailroom, shot, page_id):
    """The published email in the editor's desktop and mobile previews."""
    for mode, width in (("desktop", 760), ("mobile", 375)):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{mailroom.url}/admin/pages/{page_id}/view_draft/?mode={mode}")
        expect(page.frame_locator("iframe.frame").locator("table.offer").first).to_be_visible()
        shot(f"email-preview-{mode}")
    page.set_viewport_size({"width": 1280, "height": 900})


def create_campaign_watching_the_count(page, mailroom, shot):
    page.goto(f"{mailroom.url}/admin/")
    page.get_by_role("link", name="New campaign").click()
    page.fill("#id_name", CAMPAIGN_NAME)
    page.get_by_role("button", name="Choose an email").click()
    page.locator(".modal-dialog").get_by_role("link", name=EMAIL_TITLE).click()
    expect(page.locator("[data-email-thumbnail]")).to_be_visible()
    thumbnail = page.frame_locator("[data-email-thumbnail] iframe")
    expect(thumbnail.get_by_role("heading", name="DataDesk Pro")).to_be_visible()
    reach = page.locator("[data-campaign-reach]")
    expect(reach).to_have_text("Choose audiences or segments to see who gets it.")
    page.get_by_label("Demo customers (50 contacts)").first.check()
    expect(reach).to_have_text("47 will get it, 3 suppressed")
    page.fill("#id_utm_source", "mailroom")
    page.fill("#id_utm_campaign", "spring")
    shot("campaign-new")
    page.get_by_role("button", name="Save and review").click()
    review = page.locator("[data-review]")
    expect(review.locator("[data-checklist-ok]")).to_be_visible()
    expect(review).to_contain_text("goes to 47 of 50 contacts")


def send_a_test(page, mailroom, shot):
    before = set(mailroom.outbox())
    page.fill("#review-test-addresses", TEST_ADDRESS)
    page.get_by_role("button", name="Send test").click()
    expect(page.locator(".messages")).to_contain_text(f"{TEST_ADDRESS}: sent")
    [test_message] = [parse(path) for path in set(mailroom.outbox()) - before]
    assert test_message["X-Mailroom-Test"] == "1" and test_message["Subject"].startswith("[Test] ")


def schedule_a_minute_ahead(page, mailroom, shot):
    """Schedule for the next whole minute at least 8 s away, typed in the user's time zone;
    the report opens and waits for it."""
    when = page.locator("#review-when")
    zone = zoneinfo.ZoneInfo(when.get_attribute("data-time-zone"))
    at = (datetime.now(UTC) + timedelta(seconds=68)).replace(second=0, microsecond=0)
    when.fill(at.astimezone(zone).strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("[data-schedule-utc-value]")).to_have_text(at.strftime("%Y-%m-%d %H:%M"))
    shot("campaign-review")
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("is scheduled for")
    expect(page.locator(".campaign-report")).to_contain_text("Waiting for the scheduled time")
    return at


def report_reaches_sent(page, mailroom, shot):
    """The report polls while scheduled and sending, and reloads itself as the status moves."""
    expect(page.locator("[data-progress-text]")).to_have_text("50 of 50 handled (100%)", timeout=SEND_WAIT_MS)
    expect(page.locator(".campaign-report .w-status")).to_have_text("Sent", timeout=10_000)
    expect(page.locator('[data-count="sent"]')).to_have_text("47")
    shot("campaign-report")


def campaign_messages(mailroom, campaign_id):
    return [message for message in map(parse, mailroom.outbox()) if message["X-Mailroom-Campaign"] == campaign_id]


def unsubscribe_from_an_outbox_message(page, mailroom, shot):
    campaign_id = re.search(r"/campaign/inspect/(\d+)/", page.url).group(1)  # the report's
    messages = campaign_messages(mailroom, campaign_id)
    assert len(messages) == 47
    message = next(m for m in messages if m["To"] == "customer00@example.com")
    assert message["List-Id"] == '"Mailroom Demo" <offers.example.com>'
    assert message["Reply-To"] == "Mailroom Demo <offers@example.com>"
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_content()
    link = re.search(r"\[Unsubscribe from offers\]\((\S+)\)", text).group(1)
    assert f"<{link}>" == message["List-Unsubscribe"] and urlparse(link).netloc == urlparse(mailroom.url).netloc
    page.goto(link)
    expect(page.get_by_role("heading", name="Unsubscribe from offers?")).to_be_visible()
    page.get_by_role("button", name="Unsubscribe from offers").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    page.get_by_role("link", name="Postal offers and sharing with affiliated companies").click()
    expect(page.get_by_role("heading", name="You are unsubscribed from email offers")).to_be_visible()
    expect(page.get_by_label("Email offers")).not_to_be_checked()
    page.get_by_label("Postal offers").uncheck()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("status")).to_contain_text("Your choices are saved")
    expect(page.get_by_label("Postal offers")).not_to_be_checked()
    shot("preference-centre")


def dashboard_after_the_send(page, mailroom, shot):
    page.goto(f"{mailroom.url}/admin/")
    recent = page.locator("[data-recent-campaigns]")
    expect(recent).to_contain_text(CAMPAIGN_NAME)
    expect(recent.locator("tr", has_text=CAMPAIGN_NAME)).to_contain_text("2.1%")  # 1 of 47 unsubscribed
    expect(page.locator("[data-first-steps]")).to_have_count(0)
    shot("dashboard")


def parse(path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def until_scheduled(page, mailroom, shot=lambda name: None):
    """From logging in to a campaign scheduled a minute ahead; returns when it is due."""
    log_in(page, mailroom)
    dashboard_says_what_to_do(page, mailroom, shot)
    page_id = compose_and_publish_email(page, mailroom, shot)
    preview_email(page, mailroom, shot, page_id)
    create_campaign_watching_the_count(page, mailroom, shot)
    send_a_test(page, mailroom, shot)
    return schedule_a_minute_ahead(page, mailroom, shot)


def after_scheduled(page, mailroom, shot=lambda name: None):
    """From the report of the scheduled campaign to the preference centre and the dashboard."""
    report_reaches_sent(page, mailroom, shot)
    unsubscribe_from_an_outbox_message(page, mailroom, shot)
    dashboard_after_the_send(page, mailroom, shot)


def run(page, mailroom, shot=lambda name: None):
    """The whole journey; raises at the first step that does not hold."""
    until_scheduled(page, mailroom, shot)
    after_scheduled(page, mailroom, shot)
