"""Shared shape of the pause / resume / cancel commands."""

from django.core.management.base import BaseCommand, CommandError


class LifecycleCommand(BaseCommand):
    """Subclasses set `done` (past tense for messages) and implement `change(campaign_id)`."""

    done = ""

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)

    def change(self, campaign_id):
        raise NotImplementedError

    def handle(self, *args, campaign_id, **options):
        if not self.change(campaign_id):
            raise CommandError(f"Campaign {campaign_id} cannot be {self.done} from its current status.")
        self.stdout.write(f"Campaign {campaign_id}: {self.done}.")
