"""Account-service messages waiting for their hand-off (accountmail.outbox)."""

from django.db import models


class AccountMessage(models.Model):
    """One account-service message, from queueing until the backend accepted it.

    The row is deleted in the transaction that hands it off, and locked while that runs:
    a worker killed with it in hand leaves it unlocked, and beat queues it again.
    """

    to = models.JSONField()
    subject = models.CharField(max_length=998)
    body = models.TextField()
    html = models.TextField(blank=True)
    from_email = models.CharField(max_length=320, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a task for it was last queued: beat queues another once this is a lease old.
    queued_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["queued_at"], name="account_message_queued_idx")]
