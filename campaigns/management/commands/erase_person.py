"""`erase_person EMAIL`: delete a person's data, keeping them suppressed by keyed hash."""

import getpass

from django.core.management.base import BaseCommand, CommandError

from campaigns.privacy import erase_person


class Command(BaseCommand):
    help = "Erase one person's data (contact, lists, deliveries); they stay suppressed in every channel."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive", help="Do not ask for confirmation"
        )
        parser.add_argument("--actor", default="", help="Who asked for it (kept in the consent log)")

    def handle(self, *args, email, interactive, actor, **options):
        if interactive and input(f"Erase all data about {email}? This cannot be undone. [y/N] ").lower() != "y":
            raise CommandError("Nothing erased.")
        counts = erase_person(email, actor=actor or f"erase_person ({getpass.getuser()})")
        self.stdout.write(
            f"Erased {counts['contacts']} contact(s), {counts['memberships']} list membership(s), "
            f"{counts['deliveries']} deliveries. The address stays suppressed by its keyed hash."
        )
