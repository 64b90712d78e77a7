"""`suppress EMAIL --channel CHANNEL --source SOURCE [--note TEXT]`: record an opt-out or
a suppression from the command line (e.g. a letter, or a list from an old system)."""

from django.core.management.base import BaseCommand, CommandError

from suppression import policy
from suppression.addresses import InvalidAddress, check_address
from suppression.models import Channel, Source


class Command(BaseCommand):
    help = "Close a channel for one address at once; logged as a consent event."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--channel", required=True, choices=Channel.values)
        parser.add_argument("--source", required=True, choices=Source.values)
        parser.add_argument("--note", default="")
        parser.add_argument("--actor", default="command line")

    def handle(self, *args, email, channel, source, note, actor, **options):
        try:
            email = check_address(email)
        except InvalidAddress as error:
            raise CommandError(f"{email!r} is not an email address: {error}") from error
        created = policy.record_opt_out(email, channel, source, actor=actor, note=note)
        self.stdout.write(f"{email}: {channel} {'closed now' if created else 'was already closed'}.")
