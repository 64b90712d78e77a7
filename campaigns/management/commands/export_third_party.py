"""`export_third_party FILE`: CSV for affiliated companies, without sharing opt-outs (audited)."""

from campaigns.audiences import exporting

from .export_postal import Command as ExportCommand


class Command(ExportCommand):
    help = "Export contacts for affiliated companies, leaving out third-party-sharing opt-outs."
    kind, label, columns = "third_party", "affiliated companies", exporting.THIRD_PARTY_COLUMNS

    def contacts(self):
        return exporting.third_party_contacts()
