"""`export_postal FILE`: CSV of contacts with a postal address, without postal opt-outs (audited)."""

from django.core.management.base import BaseCommand

from campaigns.audiences import exporting


class Command(BaseCommand):
    help = "Export contacts with a postal address, leaving out postal-marketing opt-outs."
    kind, label, columns = "postal", "postal offers", exporting.POSTAL_COLUMNS

    def add_arguments(self, parser):
        parser.add_argument("file")

    def contacts(self):
        return exporting.postal_contacts()

    def handle(self, *args, file, **options):
        with open(file, "w", newline="", encoding="utf-8-sig") as handle:
            rows = exporting.export(self.kind, self.label, self.contacts(), handle, self.columns)
        self.stdout.write(f"{rows} contacts written to {file}")
