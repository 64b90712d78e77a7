"""Contacts, audiences, campaigns and their deliveries."""

import copy
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import storages
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel

from suppression.addresses import address_hash, normalise_address, validate_address
from suppression.models import Channel


class HashIndex(models.Index):
    """A hash index on PostgreSQL (smaller than a B-tree on 64 hex characters, so an import
    writes fewer index pages); a plain index elsewhere. Serves equality lookups only."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            using = " USING hash"
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class Contact(models.Model):
    """A customer we may mail. Only the fields the privacy policy needs."""

    email = models.CharField(max_length=320, validators=[validate_address])
    # Keyed hash of the address: how the suppression ledger matches this contact.
    email_hash = models.CharField(max_length=64, editable=False)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    external_id = models.CharField("customer id", max_length=100, blank=True)
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
        # Plain indexes only (no LIKE twins): every index costs the million-row import. The
        # hash is only ever matched whole, and a hash index of it is a third of a B-tree's size.
        indexes = [
            HashIndex(fields=["email_hash"], name="contact_email_hash_idx"),
            models.Index(fields=["external_id"], condition=~models.Q(external_id=""), name="contact_external_id_idx"),
        ]
        permissions = [("export_contacts", "Can export contacts in bulk (CSV)")]

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
    # No index of its own: the unique (audience, contact) index serves audience lookups,
    # and each extra index costs every imported row. No database foreign keys either: the
    # checks took a third of an import's merge, rows are only made from an existing audience
    # and contacts, and deleting either removes its memberships (Django's CASCADE).
    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, db_index=False, db_constraint=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, db_constraint=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audience", "contact"], name="one_membership")]


class WinnerMetric(models.TextChoices):
    OPENS = "opens", "Opens (as the ESP reports them)"
    CLICKS = "clicks", "Clicks (as the ESP reports them)"
    MANUAL = "manual", "Picked by hand"


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
    audiences = models.ManyToManyField(Audience, related_name="campaigns", blank=True)
    segments = models.ManyToManyField("Segment", related_name="campaigns", blank=True)
    excluded_audiences = models.ManyToManyField(Audience, related_name="+", blank=True)
    excluded_segments = models.ManyToManyField("Segment", related_name="+", blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # Optional UTM tags added to the marketer's links (never to the unsubscribe link).
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Why a campaign was paused, e.g. by the failure-rate guard; shown in the admin.
    pause_reason = models.CharField(max_length=255, blank=True)
    # Running totals the workers keep (one UPDATE per chunk) for progress and auto-pause.
    audience_count = models.PositiveIntegerField(default=0, editable=False)
    sent_count = models.PositiveIntegerField(default=0, editable=False)
    failed_count = models.PositiveIntegerField(default=0, editable=False)
    suppressed_count = models.PositiveIntegerField(default=0, editable=False)
    # Deliveries up to this id have been handed to a chain as a range (sending.claims): the
    # pending ones above it are the campaign's untouched rest.
    taken_up_to = models.BigIntegerField(default=0, editable=False)
    # Frozen when sending starts (DESIGN invariant 5): later page edits change nothing.
    frozen_subject = models.CharField(max_length=255, blank=True, editable=False)
    frozen_html = models.TextField(blank=True, editable=False)
    frozen_text = models.TextField(blank=True, editable=False)
    frozen_from_email = models.CharField(max_length=320, blank=True, editable=False)
    frozen_reply_to = models.CharField(max_length=320, blank=True, editable=False)
    # A/B subject test (campaigns.sending.ab): with two to four SubjectVariants, this share
    # of the audience gets them at random; after the wait the rest gets the winner.
    test_share = models.PositiveSmallIntegerField(
        "test share (%)",
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Share of the audience that gets the subject variants, at random.",
    )
    test_wait = models.DurationField(
        "wait before picking",
        default=timedelta(hours=4),
        validators=[MinValueValidator(timedelta(0))],
        help_text="How long the test runs, e.g. 4:00:00.",
    )
    test_metric = models.CharField("winner by", max_length=8, choices=WinnerMetric.choices, default=WinnerMetric.OPENS)
    test_ends_at = models.DateTimeField(null=True, blank=True, editable=False)
    test_released_at = models.DateTimeField(null=True, blank=True, editable=False)
    winner = models.ForeignKey(
        "SubjectVariant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("send_test_email", "Can send test emails of an email page")]

    def __str__(self):
        return self.name

    def utm(self):
        return {key: getattr(self, key) for key in ("utm_source", "utm_medium", "utm_campaign") if getattr(self, key)}

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

    def for_variant(self, variant):
        """This campaign as `variant` sends it: frozen() gives the variant's subject, the rest
        as frozen. Builders take it like the campaign and never learn about variants."""
        if variant is None:
            return self
        twin = copy.copy(self)
        twin.frozen_subject = variant.subject
        return twin


class SubjectVariant(models.Model):
    """One subject line of a campaign's A/B test; fixed once the campaign starts (the form
    edits drafts only), and each delivery of the test share names the one it got."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=1)  # A, B, C, D: ties go to the first
    subject = models.CharField(max_length=255)

    class Meta:
        ordering = ["campaign", "label"]
        constraints = [models.UniqueConstraint(fields=["campaign", "label"], name="one_variant_per_label")]

    def __str__(self):
        return f"{self.label}: {self.subject}"


class Delivery(models.Model):
    """One campaign × contact (DESIGN invariant 6), and what became of it."""

    # The reason of a delivery suppressed because its contact had enough promotional mail this week.
    FREQUENCY_CAP = "frequency_cap"
    # What may hold a delivery back, as (reason, label): a ledger channel or the frequency cap.
    SUPPRESSED_BY = [*Channel.choices, (FREQUENCY_CAP, "Frequency cap")]

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Suppressed"
        # Waiting for an A/B test's winner: claims take pending rows only.
        HELD = "held", "Waiting for the subject test"

    # No database-level foreign keys: checking them cost the snapshot 11 s of its commit at
    # 1,000,000 rows (a FOR KEY SHARE lock on every contact). Django still cascades deletes;
    # sending.claim() drops a delivery whose contact was erased while its snapshot ran.
    # The campaign has no index of its own: the unique (campaign, contact) index leads with it.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="deliveries", db_index=False, db_constraint=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deliveries", db_constraint=False)
    email_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The suppression channel for a suppressed delivery (or FREQUENCY_CAP), the error for a failed one.
    reason = models.CharField(max_length=255, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    esp_message_id = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The subject variant it gets (A/B tests only). No index: the report groups a campaign's rows.
    variant = models.ForeignKey(
        SubjectVariant, null=True, blank=True, on_delete=models.SET_NULL, db_index=False, db_constraint=False
    )

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
            # The report's sent-over-time chart. (No index on status for its counts: every
            # status change would update it; the snapshot of 1M rows paid ~1 s for it.)
            models.Index(
                fields=["campaign", "sent_at"],
                condition=models.Q(status="sent"),
                name="delivery_sent_at_idx",
            ),
        ]


class SendChain(models.Model):
    """One chain of batch tasks working a sending campaign, and its lease (campaigns.sending.chains).

    The task that holds the chain renews `lease_until` while it works; a chain waiting out a
    backend outage sets it to when it should try again. Once it has passed, beat queues the
    chain's next task. Every task carries the `run` it was queued with, and only the first
    to start with the current run goes on, so a chain queued twice still sends once.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="chains")
    slot = models.PositiveSmallIntegerField()
    run = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField()
    # Back-offs in a row (a backend outage): the next wait doubles, up to a lease.
    backoffs = models.PositiveSmallIntegerField(default=0)
    # When the outage it is backing off from began (None: the backend answered last time):
    # past MAILROOM_GIVE_UP_AFTER_SECONDS the batch fails and the campaign pauses.
    unavailable_since = models.DateTimeField(null=True, blank=True)
    # The ids of the batch it took last as a range (sending.claims.take_range): its pending
    # rows are the chain's while its lease runs, and anyone's once it has run out.
    range_from = models.BigIntegerField(null=True, blank=True)
    range_to = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "slot"], name="one_chain_per_slot")]


class DeliveryEvent(models.Model):
    """What the ESP reported after a delivery left: bounce, complaint, unsubscribe, open, click.

    One row per delivery × kind: webhooks are retried and many ESP events carry no id,
    and the report counts people, not repeats.
    """

    class Kind(models.TextChoices):
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        OPENED = "opened", "Opened"
        CLICKED = "clicked", "Clicked"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    esp_event_id = models.CharField(max_length=255, blank=True)
    description = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery", "kind"], name="one_event_per_delivery_and_kind"),
        ]
        indexes = [models.Index(fields=["campaign", "kind"], name="delivery_event_campaign_idx")]

    def __str__(self):
        return f"{self.get_kind_display()}: delivery {self.delivery_id}"


class Segment(ClusterableModel):
    """A saved filter over contacts, evaluated when a campaign sends (campaigns.audiences.segments)."""

    class Match(models.TextChoices):
        ALL = "all", "All rules"
        ANY = "any", "Any rule"

    name = models.CharField(max_length=255, unique=True)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class SegmentRule(models.Model):
    """One condition of a segment; campaigns.audiences.segments turns it into a queryset filter."""

    class Field(models.TextChoices):
        AUDIENCE = "audience", "Member of audience (name)"
        TAG = "tag", "Tag"
        COUNTRY = "country", "Country"
        LANGUAGE = "language", "Language"
        COMPANY = "company", "Company"
        ATTRIBUTE = "attribute", "Custom attribute (e.g. a purchase field)"
        LAST_MAILED = "last_mailed", "Last campaign sent to them"
        LAST_OPENED = "last_opened", "Last opened or clicked an email (as the ESP reported)"
        CREATED = "created", "Added"

    class Operator(models.TextChoices):
        IS = "is", "is"
        IS_NOT = "is_not", "is not"
        CONTAINS = "contains", "contains"
        GREATER = "gt", "is greater than / after"
        LESS = "lt", "is less than / before"
        IS_SET = "set", "is set"
        IS_NOT_SET = "not_set", "is not set"
        WITHIN_DAYS = "within_days", "within the last N days"
        NOT_WITHIN_DAYS = "not_within_days", "not within the last N days (or never)"

    segment = ParentalKey(Segment, on_delete=models.CASCADE, related_name="rules")
    field = models.CharField(max_length=16, choices=Field.choices)
    attribute = models.CharField(max_length=100, blank=True, help_text="Only for custom attributes.")
    operator = models.CharField(max_length=16, choices=Operator.choices, default=Operator.IS)
    value = models.CharField(max_length=255, blank=True)

    panels = ["field", "attribute", "operator", "value"]

    def __str__(self):
        return f"{self.get_field_display()} {self.get_operator_display()} {self.value}".strip()


def private_storage():
    """Where uploads and import reports are kept: STORAGES["private"], which no URL serves."""
    return storages["private"]


class ImportJob(models.Model):
    """One uploaded file and what importing it did (campaigns.audiences.importing does the work).

    A worker reads the file, never the upload request: first its header and a few rows
    for the mapping preview, then all of it when the admin runs the import.
    """

    class Kind(models.TextChoices):
        CONTACTS = "contacts", "Contacts into an audience"
        SUPPRESSIONS = "suppressions", "Suppression list (never mail these)"

    class Status(models.TextChoices):
        READING = "reading", "Reading the first rows"
        MAPPING = "mapping", "Waiting for column mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CONTACTS)
    file = models.FileField(upload_to="imports/%Y/%m/", storage=private_storage)
    original_name = models.CharField(max_length=255)
    audience_name = models.CharField(max_length=255, blank=True)
    # Suppression-list imports only: the channel the addresses are closed for.
    channel = models.CharField(max_length=32, blank=True)
    mapping = models.JSONField(default=dict, blank=True)  # column index (str) -> field name
    update_existing = models.BooleanField(default=False)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READING)
    # The header row and the first rows, read once by a worker; the preview goes with the file.
    headers = models.JSONField(default=list, blank=True)
    preview = models.JSONField(default=list, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # Line numbers and reasons only (no cell of any row): campaigns.audiences.importing.ErrorReport.
    error_report = models.FileField(upload_to="imports/reports/", storage=private_storage, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"


class ExportLog(models.Model):
    """Audit log: every bulk export of personal data, who, when, what and how many rows."""

    kind = models.CharField(max_length=32)  # audience, segment, postal, third_party
    label = models.CharField(max_length=255)
    rows = models.PositiveIntegerField(default=0)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, blank=True)  # kept if the user is deleted
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.username}: {self.kind} {self.label} ({self.rows})"
