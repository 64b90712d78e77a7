"""`import_contacts FILE --audience NAME`: import a CSV of contacts into an audience."""

import json
import time

from django.core.management.base import BaseCommand, CommandError

from campaigns.importing import ImportFileError, import_csv_file


class Command(BaseCommand):
    help = "Import contacts from a CSV file (email, first_name, last_name) into an audience."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--audience", required=True)
        parser.add_argument("--update-existing", action="store_true")

    def handle(self, *args, **options):
        started = time.monotonic()
        try:
            summary = import_csv_file(
                options["file"], options["audience"], update_existing=options["update_existing"]
            )
        except (ImportFileError, OSError, UnicodeDecodeError) as error:
            raise CommandError(str(error)) from error
        for line, _row, reason in summary.errors:
            self.stderr.write(f"line {line}: {reason}")
        result = summary.as_dict() | {"seconds": round(time.monotonic() - started, 3)}
        self.stdout.write(json.dumps(result))
