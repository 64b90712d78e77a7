"""`cancel_campaign ID`: stop a campaign for good."""

from campaigns.management.lifecycle import LifecycleCommand
from campaigns.sending import lifecycle


class Command(LifecycleCommand):
    help = "Cancel a campaign; nothing more is sent."
    done = "cancelled"

    def change(self, campaign_id):
        return lifecycle.cancel(campaign_id)
