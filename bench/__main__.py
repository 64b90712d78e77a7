"""Run every benchmark module; each prints its own JSON lines via bench.report.emit.

`python -m bench [MODULE | MODULE:FUNCTION …]` runs only those, e.g. `sending:crash`.
Needs DATABASE_URL and REDIS_URL (real PostgreSQL and Redis); refuses to run without.
"""

import importlib
import os
import sys

MODULES = [
    "bench.import_contacts",
    "bench.render_email",
    "bench.sending",
    "bench.suppression",
]  # each has run(), prints JSON lines


def main():
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        sys.exit(f"make bench needs real PostgreSQL and Redis: set {', '.join(missing)}.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    from bench import database

    database.prepare()
    only = [name.partition(":") for name in sys.argv[1:]]
    for name in MODULES:
        short = name.rsplit(".", 1)[-1]
        if not only:
            importlib.import_module(name).run()
        for module, _, function in only:
            if module == short:
                getattr(importlib.import_module(name), function or "run")()


if __name__ == "__main__":
    main()
