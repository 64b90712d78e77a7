"""`pause_campaign ID`: stop sending after the batches in flight; resumable."""

from campaigns.management.lifecycle import LifecycleCommand
from campaigns.sending import lifecycle


class Command(LifecycleCommand):
    help = "Pause a sending campaign."
    done = "paused"

    def change(self, campaign_id):
        return lifecycle.pause(campaign_id, reason="paused from the command line")
