"""`person EMAIL --export [--output FILE]` or `person EMAIL --erase [--noinput]`: the issue's
single entry point; the same as export_person / erase_person."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Export (--export) or erase (--erase) everything held about one email address."

    def add_arguments(self, parser):
        parser.add_argument("email")
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--export", action="store_true")
        action.add_argument("--erase", action="store_true")
        parser.add_argument("--output")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(self, *args, email, export, erase, output, interactive, **options):
        if export:
            call_command(
                "export_person",
                email,
                *(["--output", output] if output else []),
                stdout=self.stdout,
                stderr=self.stderr,
            )
        else:
            call_command("erase_person", email, *([] if interactive else ["--noinput"]), stdout=self.stdout)
