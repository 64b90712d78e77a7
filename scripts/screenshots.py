"""Take the README's screenshots: the demo email's admin preview (desktop and mobile), and a
signup page in the Wagtail editor beside the form it publishes.

Runs the real admin on a throwaway SQLite database: seeds the demo (plus a signup page),
starts the dev server, logs in with headless Chromium and captures into docs/.
Usage: .venv/bin/python scripts/screenshots.py
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = {"desktop": {"width": 760, "height": 900}, "mobile": {"width": 375, "height": 800}}
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


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")} | {
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "MAILROOM_VAR_DIR": tempfile.mkdtemp(prefix="mailroom-shots-"),
        "MAILROOM_BASE_URL": base,
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    seeded = subprocess.run(
        [*manage, "seed_demo", "--password", "screenshots-only"], env=env, check=True, capture_output=True, text=True
    ).stdout
    lookup = "from cms.models import EmailPage as E; p = E.objects.get(slug='winter-offers'); print(p.pk, p.latest_revision_id)"
    page_id, revision_id = subprocess.run(
        [*manage, "shell", "--no-imports", "-c", lookup], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    signup_id = subprocess.run(
        [*manage, "shell", "--no-imports", "-c", SIGNUP_PAGE], env=env, check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    print(seeded.strip())
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        shoot(f"{base}/admin/pages/{page_id}/revisions/{revision_id}/view/")
        shoot_signup(base, signup_id)
    finally:
        server.terminate()
        server.wait()


def wait_for(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("the dev server did not start")


def log_in(page, base):
    page.goto(f"{base}/admin/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "screenshots-only")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/$"))


def shoot(preview_url):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for mode, viewport in SHOTS.items():
            context = browser.new_context(viewport=viewport)
            page = context.new_page()
            log_in(page, preview_url.split("/admin/")[0])
            page.goto(f"{preview_url}?mode={mode}")
            page.frame_locator("iframe.frame").locator("table.offer").first.wait_for()
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)  # the frame resizes itself once its images are in
            target = ROOT / "docs" / f"email-preview-{mode}.png"
            target.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(target), full_page=True)
            print(f"wrote {target.relative_to(ROOT)}")
            context.close()
        browser.close()


def shoot_signup(base, page_id):
    """The signup page's editor (its fields) and, beside it, the public form on a phone."""
    target = ROOT / "docs" / "signup-page.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        log_in(page, base)
        page.goto(f"{base}/admin/pages/{page_id}/edit/")
        page.wait_for_selector("text=Consent wording")
        page.wait_for_load_state("networkidle")
        editor = page.screenshot(full_page=False)
        phone = browser.new_context(viewport={"width": 390, "height": 700}).new_page()
        phone.goto(f"{base}/join/")
        form = phone.screenshot(full_page=True)
        side_by_side(editor, form, target)
        print(f"wrote {target.relative_to(ROOT)}")
        browser.close()


def side_by_side(left_png, right_png, target):
    import io

    from PIL import Image

    left, right = Image.open(io.BytesIO(left_png)), Image.open(io.BytesIO(right_png))
    gap = 24
    canvas = Image.new("RGB", (left.width + gap + right.width, max(left.height, right.height)), (203, 213, 225))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + gap, 0))
    canvas.save(target, optimize=True)


if __name__ == "__main__":
    main()
