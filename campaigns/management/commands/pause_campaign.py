"""`pause_campaign ID`: stop sending after the batches in flight; resumable."""

from campaigns import sending
from campaigns.management.lifecycle import LifecycleCommand


class Command(LifecycleCommand):
    help = "Pause a sending campaign."
    done = "paused"

    def change(self, campaign_id):
        return sending.pause(campaign_id, reason="paused from the command line")
