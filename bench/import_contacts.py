"""Benchmark: import 1,000,000 contacts (email, first, last, company, country) end to end.

The import runs as `manage.py import_contacts` in its own process on a scratch database,
so its wall time includes start-up and its peak RSS is that process's ru_maxrss. The
baseline, measured in the same run, is PostgreSQL COPY of the same file into a plain table.
"""

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.database import recreate
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


def scratch_database(url):
    base, name = url.rsplit("/", 1)
    scratch = f"{name.split('?')[0]}_bench_import"
    return recreate(base, scratch), scratch, f"{base}/postgres"


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
    url, scratch, admin_url = scratch_database(os.environ["DATABASE_URL"])
    env = os.environ | {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    try:
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
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
                    "Bench",
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
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
