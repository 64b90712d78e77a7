"""`export_person EMAIL [--output FILE]`: everything held about one address, as JSON."""

import json

from django.core.management.base import BaseCommand

from campaigns.privacy import export_person


class Command(BaseCommand):
    help = "Export everything held about one email address as JSON (contact, lists, deliveries, consent)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--output", help="Write to this file instead of standard output")

    def handle(self, *args, email, output=None, **options):
        text = json.dumps(export_person(email), indent=2, ensure_ascii=False)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            self.stderr.write(f"Written to {output}")
        else:
            self.stdout.write(text)
