"""Take the README's screenshots from the marketer's journey (tests/e2e/journey.py).

Starts `make run`'s embedded default in a throwaway folder (tests.services.EmbeddedMailroom:
migrate, seed the demo, web + worker + beat on a free port), walks the journey in headless
Chromium, and writes each picture the README shows into docs/.
Usage: .venv/bin/python scripts/screenshots.py
"""

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
        journey.run(page, mailroom, shot=lambda name: shoot(page, name))
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


if __name__ == "__main__":
    main()
