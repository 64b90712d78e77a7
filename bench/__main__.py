"""Run every benchmark module; each prints its own JSON lines via bench.report.emit.

Needs DATABASE_URL and REDIS_URL (real PostgreSQL and Redis); refuses to run without.
"""

import importlib
import os
import sys

MODULES = []  # e.g. "bench.import_contacts"; each module has run()
MODULES.append("bench.suppression")


def main():
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        sys.exit(f"make bench needs real PostgreSQL and Redis: set {', '.join(missing)}.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    only = sys.argv[1:]
    for name in MODULES:
        if not only or name.rsplit(".", 1)[-1] in only:
            importlib.import_module(name).run()


if __name__ == "__main__":
    main()
