"""The suppression ledger (who must not get what), the append-only consent log and the proof
behind a confirmed signup (the wording shown, the page, when it was asked and confirmed)."""

from django.db import models


class Channel(models.TextChoices):
    EMAIL_MARKETING = "email_marketing", "Email offers"
    POSTAL_MARKETING = "postal_marketing", "Postal offers"
    THIRD_PARTY_SHARING = "third_party_sharing", "Sharing with affiliated companies"
    UNDELIVERABLE = "undeliverable", "Undeliverable address"
    COMPLAINT = "complaint", "Spam complaint"


class Source(models.TextChoices):
    LINK = "link", "Unsubscribe link"
    ONE_CLICK = "one_click", "One-click (RFC 8058)"
    PREFERENCE_CENTRE = "preference_centre", "Preference centre"
    PHONE = "phone", "Phone call"
    LETTER = "letter", "Letter"
    EMAIL = "email", "Email from the person"
    ADMIN = "admin", "Admin"
    BOUNCE = "bounce", "Bounce"
    COMPLAINT = "complaint", "Complaint"
    ESP = "esp", "Email provider (unsubscribe there)"
    IMPORT = "import", "Import"
    ERASURE = "erasure", "Erasure"
    SIGNUP = "signup", "Confirmed signup (double opt-in)"


class Stream(models.TextChoices):
    PROMOTIONAL = "promotional", "Promotional"
    ACCOUNT = "account", "Account service"


class Suppression(models.Model):
    """One row per address × channel: while it exists, that channel is closed."""

    # Blank once the person is erased: the hash alone keeps blocking.
    address = models.CharField(max_length=320, blank=True)
    address_hash = models.CharField(max_length=64)
    channel = models.CharField(max_length=32, choices=Channel.choices)
    source = models.CharField(max_length=32, choices=Source.choices)
    reason = models.CharField(max_length=255, blank=True)
    actor = models.CharField(max_length=255, blank=True)
    note = models.TextField(blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Lookups by hash alone (the send-time check: 1,000 per batch) use suppression_by_hash,
        # which migration 0003 makes a hash index on PostgreSQL; this one leads with the
        # channel so the planner does not prefer it for them.
        constraints = [
            models.UniqueConstraint(fields=["channel", "address_hash"], name="one_suppression_per_channel"),
        ]
        indexes = [models.Index(fields=["channel", "source"])]
        permissions = [
            ("export_suppression", "Can export the suppression list"),
            ("manage_personal_data", "Can export or erase a person's data"),
            ("view_personal_data", "Can see whole addresses and staff notes, and search by address"),
        ]

    def __str__(self):
        return f"{self.address or '(hash only)'}: {self.get_channel_display()}"


class AppendOnly(models.Model):
    """Rows that are written once and never changed or deleted (the consent record)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{type(self).__name__} rows are append-only.")


class ConsentWording(AppendOnly):
    """One version of the consent wording a signup page showed, kept once (by its SHA-256)
    for as long as any confirmation points at it."""

    version = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the text.")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)


class SignupConfirmation(AppendOnly):
    """Proof of one confirmed signup (double opt-in): the person asked on a signup page and
    then confirmed from the link mailed to them. The opt-in events it caused point at it.

    Holds no address: the keyed hash, the page as it was and the wording shown.
    """

    address_hash = models.CharField(max_length=64)
    channels = models.JSONField(default=list)
    page_id = models.BigIntegerField()
    page_title = models.CharField(max_length=255)
    page_url = models.CharField(max_length=2000, blank=True)
    wording = models.ForeignKey(ConsentWording, on_delete=models.PROTECT, related_name="confirmations")
    requested_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Hashes are only ever matched whole: a plain index (db_index would add a LIKE index).
        indexes = [models.Index(fields=["address_hash"], name="signup_confirmation_hash_idx")]


class ConsentEvent(AppendOnly):
    """Append-only: every opt-out, opt-in and lifting, with who, when, channel and source.

    The one rewrite allowed is erasure blanking the free-text note (policy.erase).
    """

    class Action(models.TextChoices):
        OPT_OUT = "opt_out", "Opted out"
        OPT_IN = "opt_in", "Opted in"
        LIFTED = "lifted", "Suppression lifted"
        ERASED = "erased", "Personal data erased"

    address_hash = models.CharField(max_length=64)
    channel = models.CharField(max_length=32, choices=Channel.choices)
    action = models.CharField(max_length=16, choices=Action.choices)
    source = models.CharField(max_length=32, choices=Source.choices)
    actor = models.CharField(max_length=255, blank=True)
    note = models.TextField(blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    # A confirmed signup's opt-in: the proof (page, wording shown, when asked and confirmed).
    confirmation = models.ForeignKey(
        SignupConfirmation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,  # consent_event_confirmation_idx
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Every one-click writes one event, and each index is one more write: hashes get a
        # plain index (db_index would add a LIKE index no query uses), and only events that
        # cite a campaign or a signup are indexed by it.
        indexes = [
            models.Index(fields=["address_hash"], name="consent_event_hash_idx"),
            # A campaign's opt-outs and hard bounces (its report, its deliverability guard,
            # at every bounce or complaint webhook).
            models.Index(
                fields=["campaign_id", "channel"],
                condition=models.Q(campaign_id__isnull=False),
                name="consent_event_campaign_idx",
            ),
            models.Index(
                fields=["confirmation"],
                condition=models.Q(confirmation__isnull=False),
                name="consent_event_confirmation_idx",
            ),
        ]


class DroppedMessage(models.Model):
    """A message (or one recipient of it) the gateway refused to hand on, and why."""

    address_hash = models.CharField(max_length=64)
    stream = models.CharField(max_length=16, choices=Stream.choices)
    channel = models.CharField(max_length=32, choices=Channel.choices)
    subject = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["address_hash"], name="dropped_message_hash_idx")]  # no LIKE index


class EspEvent(models.Model):
    """An ESP tracking event that changed (or counted towards) the ledger: the idempotency key.

    ESPs retry webhooks; one (esp, event id, address) is applied once. Only the hash of
    the address is kept. Soft bounces are counted from these rows.
    """

    class Kind(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", "Hard bounce"
        SOFT_BOUNCE = "soft_bounce", "Soft bounce"
        COMPLAINT = "complaint", "Complaint"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribed at the ESP"
        REJECTED = "rejected", "Rejected: mailbox"

    esp = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255)
    address_hash = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["esp", "event_id", "address_hash"], name="one_esp_event_per_address"),
        ]
        indexes = [models.Index(fields=["address_hash", "kind", "occurred_at"])]
