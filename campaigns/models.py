"""Contacts, audiences, campaigns and their deliveries."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from suppression.addresses import address_hash, normalise_address


class Contact(models.Model):
    """A customer we may mail. Only the fields the privacy policy needs."""

    email = models.CharField(max_length=320)
    # Keyed hash of the address: how the suppression ledger matches this contact.
    email_hash = models.CharField(max_length=64, db_index=True, editable=False)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    external_id = models.CharField("customer id", max_length=100, blank=True, db_index=True)
    company = models.CharField(max_length=255, blank=True)
    country = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=35, blank=True)
    postal_address = models.TextField(blank=True, help_text="Only for postal offers.")
    tags = models.JSONField(default=list, blank=True)
    # Only fields an admin mapped explicitly at import; nothing collected by default.
    attributes = models.JSONField(default=dict, blank=True)
    consent_basis = models.CharField(max_length=64, blank=True)
    consent_date = models.DateTimeField(null=True, blank=True)
    consent_source = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="contact_email_ci_unique")]

    def __str__(self):
        return self.email

    def save(self, *args, **kwargs):
        self.email = normalise_address(self.email)
        self.email_hash = address_hash(self.email)
        super().save(*args, **kwargs)


class Audience(models.Model):
    """A list of contacts that campaigns target."""

    name = models.CharField(max_length=255, unique=True)
    contacts = models.ManyToManyField(Contact, through="Membership", related_name="audiences")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class Membership(models.Model):
    audience = models.ForeignKey(Audience, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audience", "contact"], name="one_membership")]


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled"

    name = models.CharField(max_length=255)
    page = models.ForeignKey("cms.EmailPage", on_delete=models.PROTECT, related_name="campaigns")
    audiences = models.ManyToManyField(Audience, related_name="campaigns")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Why a campaign was paused, e.g. by the failure-rate guard; shown in the admin.
    pause_reason = models.CharField(max_length=255, blank=True)
    # Running totals the workers keep (one UPDATE per chunk) for progress and auto-pause.
    audience_count = models.PositiveIntegerField(default=0, editable=False)
    sent_count = models.PositiveIntegerField(default=0, editable=False)
    failed_count = models.PositiveIntegerField(default=0, editable=False)
    suppressed_count = models.PositiveIntegerField(default=0, editable=False)
    last_activity_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Frozen when sending starts (DESIGN invariant 5): later page edits change nothing.
    frozen_subject = models.CharField(max_length=255, blank=True, editable=False)
    frozen_html = models.TextField(blank=True, editable=False)
    frozen_text = models.TextField(blank=True, editable=False)
    frozen_from_email = models.CharField(max_length=320, blank=True, editable=False)
    frozen_reply_to = models.CharField(max_length=320, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    def frozen(self):
        """The content frozen when sending started."""
        from cms.rendering import FrozenEmail

        return FrozenEmail(
            subject=self.frozen_subject,
            preheader="",
            html=self.frozen_html,
            text=self.frozen_text,
            from_email=self.frozen_from_email,
            reply_to=self.frozen_reply_to,
        )


class Delivery(models.Model):
    """One campaign × contact (DESIGN invariant 6), and what became of it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Suppressed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="deliveries")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deliveries")
    email_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The suppression channel for a suppressed delivery, the error for a failed one.
    reason = models.CharField(max_length=255, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    esp_message_id = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="one_delivery_per_contact"),
        ]
        indexes = [
            # Claiming stays fast only with this partial index (DESIGN, measured).
            models.Index(
                fields=["campaign", "id"],
                condition=models.Q(status="pending"),
                name="delivery_pending_idx",
            ),
            models.Index(
                fields=["campaign", "claimed_until"],
                condition=models.Q(status="claimed"),
                name="delivery_claimed_idx",
            ),
        ]
