"""Benchmark: import 1,000,000 contacts (email, first, last, company, country) end to end.

The import runs as `manage.py import_contacts` in its own process on the bench database
(bench.database.prepare(), shared by every module), so its wall time includes start-up and
its peak RSS is that process's ru_maxrss. Afterwards its audience, contacts and baseline
table are deleted, leaving the database as the other modules expect it. The baseline,
measured in the same run, is PostgreSQL COPY of the same file into a plain table.
"""

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.report import emit

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
ROOT = Path(__file__).resolve().parent.parent
FIRST = ["Ada", "Grace", "Linus", "Guido", "Barbara", "Ken", "Margaret", "Dennis", "Radia", "Zoë"]
LAST = ["Lovelace", "Hopper", "Torvalds", "van Rossum", "Liskov", "Thompson", "Hamilton", "Ritchie", "Perlman"]
COUNTRIES = ["GB", "DE", "FR", "US", "NL", "SE", "ES", "IT"]


def write_file(path, rows):
    generator = random.Random(4)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("email,first,last,company,country\n")
        for number in range(rows):
            handle.write(
                f"customer{number}@shop{number % 997}.example.com,{generator.choice(FIRST)},"
                f"{generator.choice(LAST)},Company {number % 5000} Ltd,{generator.choice(COUNTRIES)}\n"
            )


AUDIENCE = "Bench import"


def clean_up(url):
    """Delete what the import and the baseline made."""
    from campaigns.models import Audience, Contact, Membership

    contact, membership, audience = Contact._meta.db_table, Membership._meta.db_table, Audience._meta.db_table
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS plain_copy")
        members = (
            f"SELECT contact_id FROM {membership} WHERE audience_id IN (SELECT id FROM {audience} WHERE name = %s)"
        )
        conn.execute(f"DELETE FROM {contact} WHERE id IN ({members})", [AUDIENCE])
        conn.execute(
            f"DELETE FROM {membership} WHERE audience_id IN (SELECT id FROM {audience} WHERE name = %s)", [AUDIENCE]
        )
        conn.execute(f"DELETE FROM {audience} WHERE name = %s", [AUDIENCE])


def copy_baseline(url, path):
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE plain_copy (email text, first text, last text, company text, country text)")
        started = time.monotonic()
        with (
            conn.cursor() as cursor,
            open(path, "rb") as handle,
            cursor.copy("COPY plain_copy FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        return time.monotonic() - started


def run():
    url = os.environ["DATABASE_URL"]  # the bench database, migrated
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "config.settings.test"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "contacts.csv"
            write_file(path, ROWS)
            baseline_seconds = copy_baseline(url, path)
            started = time.monotonic()
            process = subprocess.Popen(
                [
                    *manage,
                    "import_contacts",
                    str(path),
                    "--audience",
                    AUDIENCE,
                    "--error-report",
                    str(Path(folder) / "rejected.csv"),
                ],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
            )
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.monotonic() - started
            output = process.stdout.read().decode()
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode:
                raise SystemExit(f"import_contacts failed ({process.returncode}): {output}")
        emit(
            "import",
            ROWS / seconds,
            "rows/s",
            ROWS / baseline_seconds,
            peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
            rows=ROWS,
            seconds=round(seconds, 2),
            summary=output.strip().splitlines()[-1],
        )
    finally:
        clean_up(url)
