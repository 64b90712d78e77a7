"""`send_campaign ID [--at ISO8601]`: schedule a campaign now or later; workers send it."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.sending import lifecycle
from campaigns.tasks import start_campaign


class Command(BaseCommand):
    help = "Schedule a campaign to send now (or at --at); Celery workers do the sending."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--at", help="ISO 8601 time, e.g. 2026-12-01T09:00:00+01:00")

    def handle(self, *args, campaign_id, at=None, **options):
        try:
            campaign = Campaign.objects.get(pk=campaign_id)
        except Campaign.DoesNotExist as error:
            raise CommandError(f"No campaign {campaign_id}.") from error
        when = None
        if at:
            when = datetime.fromisoformat(at)
            if timezone.is_naive(when):
                raise CommandError("--at needs a timezone offset, e.g. +00:00.")
        try:
            lifecycle.schedule(campaign, when)
        except lifecycle.CampaignStateError as error:
            raise CommandError(str(error)) from error
        if when is None:
            start_campaign.delay(campaign.pk)
            self.stdout.write(f"Campaign {campaign.pk} queued to send now.")
        else:
            self.stdout.write(f"Campaign {campaign.pk} scheduled for {when.isoformat()}.")
