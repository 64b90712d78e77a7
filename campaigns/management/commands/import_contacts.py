"""`import_contacts FILE --audience NAME`: import a CSV or XLSX file of contacts into an audience.

A progress bar goes to stderr on a terminal; the last stdout line is one JSON object with
rows, created, updated, unchanged, invalid, duplicates, suppressed, seconds, error_report.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from campaigns.audiences.importing import ImportFileError, default_report_path, import_file


class Command(BaseCommand):
    help = "Import contacts from a CSV or XLSX file into an audience (suppressed addresses stay suppressed)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--audience", required=True)
        parser.add_argument("--dry-run", action="store_true", help="Count the outcome, write nothing.")
        parser.add_argument("--update-existing", action="store_true", help="Update contacts that already exist.")
        parser.add_argument("--error-report", help="Where to write the CSV of rejected rows.")

    def handle(self, *args, **options):
        bar = tqdm(total=0, unit="rows", file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True)

        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        try:
            summary = import_file(
                options["file"],
                audience_name=options["audience"],
                update_existing=options["update_existing"],
                dry_run=options["dry_run"],
                report_path=options["error_report"] or default_report_path(options["file"]),
                progress=progress,
            )
        except (ImportFileError, OSError) as error:
            raise CommandError(str(error)) from error
        finally:
            bar.close()
        self.stdout.write(json.dumps(summary.as_dict()))
