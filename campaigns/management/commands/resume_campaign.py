"""`resume_campaign ID`: continue a paused campaign."""

from campaigns.management.lifecycle import LifecycleCommand
from campaigns.sending import lifecycle
from campaigns.tasks import queue_chains


class Command(LifecycleCommand):
    help = "Resume a paused campaign."
    done = "resumed"

    def change(self, campaign_id):
        if not lifecycle.resume(campaign_id):
            return False
        queue_chains(campaign_id)
        return True
