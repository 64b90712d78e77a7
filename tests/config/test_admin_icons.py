"""Every icon the admin names exists in Wagtail's icon sprite: a missing one renders as
nothing (the Segments menu item and the Divider and Spacer blocks once had none)."""

import re
from pathlib import Path

from wagtail.admin.icons import get_icons

from campaigns.admin.actions import ACTIONS
from cms.blocks import EmailBodyBlock

ROOT = Path(__file__).resolve().parents[2]
ICON_NAME = re.compile(r'\bicon(?:_name)?\s*=\s*"([a-z0-9-]+)"|\{% icon name="([a-z0-9-]+)"')


def named_in_source():
    names = set()
    for folder in ("campaigns", "cms", "suppression", "accountmail", "templates"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".html") and "migrations" not in path.parts:
                names |= {a or b for a, b in ICON_NAME.findall(path.read_text())}
    return names


def block_icons(block):
    yield block.meta.icon
    for child in getattr(block, "child_blocks", {}).values():
        yield from block_icons(child)


def test_every_icon_the_admin_names_is_in_the_sprite():
    sprite = get_icons()
    names = named_in_source() | {action.icon for action in ACTIONS} | set(block_icons(EmailBodyBlock()))
    assert {"filter", "minus", "arrows-up-down", "pause", "play"} <= names  # the scan sees them
    missing = sorted(name for name in names if f'id="icon-{name}"' not in sprite)
    assert missing == []
