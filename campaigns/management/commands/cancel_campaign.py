"""`cancel_campaign ID`: stop a campaign for good."""

from campaigns import sending
from campaigns.management.lifecycle import LifecycleCommand


class Command(LifecycleCommand):
    help = "Cancel a campaign; nothing more is sent."
    done = "cancelled"

    def change(self, campaign_id):
        return sending.cancel(campaign_id)
