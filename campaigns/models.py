from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from templates_app.models import MessageTemplate
from wabas.models import PhoneNumber, Waba


class CampaignActionNotAllowed(Exception):
    """The campaign's status does not allow this action (see Campaign.ALLOWED)."""

    def __init__(self, action: str, status: str) -> None:
        super().__init__(
            f"A {status.lower()} campaign can't be {Campaign.DONE_WORDS.get(action, action)}."
        )
        self.action = action
        self.status = status


class Campaign(models.Model):
    """A send of one approved Flow template to a frozen audience, at the sending number's pace."""

    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        SCHEDULED = "SCHEDULED", "Scheduled"
        SENDING = "SENDING", "Sending"
        PAUSED = "PAUSED", "Paused"
        COMPLETED = "COMPLETED", "Completed"
        CANCELLED = "CANCELLED", "Cancelled"

    class AudienceKind(models.TextChoices):
        SEGMENT = "SEGMENT", "Segment of people"
        UPLOAD = "UPLOAD", "Uploaded list of phone numbers"

    # What each status allows; the campaign page asks the same table which buttons to show.
    ALLOWED = {
        Status.DRAFT: {"edit", "publish", "delete"},
        Status.SCHEDULED: {"pause", "cancel", "start"},
        Status.SENDING: {"pause", "cancel", "finish"},
        Status.PAUSED: {"resume", "cancel"},
        Status.COMPLETED: set(),
        Status.CANCELLED: set(),
    }
    DONE_WORDS = {
        "edit": "edited",
        "publish": "published",
        "delete": "deleted",
        "pause": "paused",
        "cancel": "cancelled",
        "start": "started",
        "resume": "resumed",
        "finish": "finished",
    }

    waba = models.ForeignKey(Waba, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status, default=Status.DRAFT)
    # Why it is paused (Meta paused the template, the flow is throttled, the spam limit, or a person).
    pause_reason = models.TextField(blank=True)
    # Paused because Meta paused the template: it resumes by itself when the template is approved again.
    paused_by_meta = models.BooleanField(default=False)

    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, related_name="campaigns"
    )
    phone_number = models.ForeignKey(
        PhoneNumber, null=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    # Template parameter -> {"field": profile field or custom property, "fallback": text}.
    variables = models.JSONField(default=dict, blank=True)
    # The first screen's data (Navigation buttons): key -> {"value": fixed} or {"field": profile field}.
    flow_action_data = models.JSONField(default=dict, blank=True)

    audience_kind = models.CharField(
        max_length=10, choices=AudienceKind, default=AudienceKind.SEGMENT
    )
    # Segment rules: {"match": "all"|"any", "rules": [{"kind": "property"|"event", ...}]}.
    segment = models.JSONField(default=dict, blank=True)

    send_at = models.DateTimeField(null=True, blank=True)  # None: as soon as it is published
    time_zone = models.CharField(max_length=64, default="UTC")
    send_rate = models.PositiveIntegerField(default=80)  # messages per second, at most the number's
    quiet_start = models.TimeField(null=True, blank=True)  # hold sends from here ...
    quiet_end = models.TimeField(null=True, blank=True)  # ... to here, in time_zone
    frequency_cap_hours = models.PositiveIntegerField(null=True, blank=True)
    control_percent = models.PositiveSmallIntegerField(default=0)  # held out at random, 0-50

    audience_size = models.PositiveIntegerField(default=0)  # frozen when the campaign starts
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def can(self, action: str) -> bool:
        return action in self.ALLOWED[self.status]

    def require(self, action: str) -> None:
        if not self.can(action):
            raise CampaignActionNotAllowed(action, self.status)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.COMPLETED, self.Status.CANCELLED)

    @property
    def is_live(self) -> bool:
        """Its numbers can still change: the campaign page polls its progress."""
        return self.status in (self.Status.SCHEDULED, self.Status.SENDING, self.Status.PAUSED)

    def planned_audience(self) -> int:
        """How many people it would reach if published now (the audience freezes when it starts)."""
        if self.status != self.Status.DRAFT:
            return self.audience_size
        if self.audience_kind == self.AudienceKind.UPLOAD:
            upload = AudienceUpload.objects.filter(campaign=self).only("valid").first()
            return upload.valid if upload else 0
        from .audience import segment_profiles

        return segment_profiles(self.waba, self.segment).count()


class AudienceUpload(models.Model):
    """A CSV of phone numbers for a campaign, parsed: its valid numbers are UploadedNumber rows."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="upload")
    file_name = models.CharField(max_length=255)
    rows = models.PositiveIntegerField(default=0)
    valid = models.PositiveIntegerField(default=0)
    # [{"line": 7, "value": "12ab", "problem": "not a phone number"}, ...], duplicates included.
    problems = models.JSONField(default=list, blank=True)
    # Every problem counted; `problems` keeps only the first MAX_KEPT_PROBLEMS of a huge file.
    problem_count = models.PositiveIntegerField(default=0)
    # Region (ISO 3166 code, "GB") for numbers written without a country code; "" refuses them.
    default_region = models.CharField(max_length=2, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    MAX_KEPT_PROBLEMS = 1000


class UploadedNumber(models.Model):
    upload = models.ForeignKey(AudienceUpload, on_delete=models.CASCADE, related_name="numbers")
    whatsapp_id = models.CharField(max_length=20)  # E.164 digits, no "+"
    line = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["upload", "whatsapp_id"], name="one_upload_number_once")
        ]


class RecipientQuerySet(models.QuerySet):
    def due(self, now: datetime | None = None) -> RecipientQuerySet:
        """Queued recipients whose next attempt has come."""
        now = now or timezone.now()
        return self.filter(status=Recipient.Status.QUEUED).filter(
            models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now)
        )


class Recipient(models.Model):
    """One person of a campaign's frozen audience: at most one message, and how far it got."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"  # claimed by a worker; the send may or may not have left
        # Meta's own status strings from here on.
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"
        # Ours: never sent on purpose.
        SUPPRESSED = "suppressed", "Suppressed by Meta"  # 131049, not a failure
        OPTED_OUT = "opted_out", "Opted out"  # 131050
        CONTROL = "control", "Control group"
        SKIPPED = "skipped", "Skipped (frequency cap)"
        CANCELLED = "cancelled", "Cancelled"

    # Webhooks can arrive out of order (read before delivered): a status never moves backwards.
    PROGRESS = {
        Status.QUEUED: 0,
        Status.SENDING: 1,
        Status.SENT: 2,
        Status.DELIVERED: 3,
        Status.READ: 4,
    }
    # Held out or stopped: these never get a message.
    NOT_SENT = (
        Status.SUPPRESSED,
        Status.OPTED_OUT,
        Status.CONTROL,
        Status.SKIPPED,
        Status.CANCELLED,
    )

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    whatsapp_id = models.CharField(max_length=20)
    profile = models.ForeignKey(
        "audience.Profile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flow_token = models.CharField(max_length=300, blank=True)
    wamid = models.CharField("Meta message id", max_length=200, null=True, blank=True, unique=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    error_code = models.CharField(max_length=12, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)  # first endpoint request with its token
    completed_at = models.DateTimeField(null=True, blank=True)  # its nfm_reply

    objects = RecipientQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "whatsapp_id"], name="one_message_per_person_per_campaign"
            )
        ]
        indexes = [models.Index(fields=["campaign", "status"], name="recipient_campaign_status")]

    def __str__(self) -> str:
        return f"{self.whatsapp_id} ({self.status})"

    def apply_status(self, status: str, *, error: str = "") -> bool:
        """Take a status Meta reported; False when it is unknown or older than what we have."""
        if status == self.Status.FAILED:
            self.error = error
        elif status not in self.PROGRESS or self.PROGRESS[status] <= self.PROGRESS.get(
            self.status, 99
        ):
            return False
        self.status = status
        self.status_at = timezone.now()
        self.save(update_fields=["status", "error", "status_at"])
        return True

    def retry_in(self, delay: timedelta) -> None:
        """Back to the queue, not before `delay` from now."""
        self.status = self.Status.QUEUED
        self.next_attempt_at = timezone.now() + delay
        self.save(update_fields=["status", "next_attempt_at"])
