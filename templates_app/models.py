from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from wabas.models import PhoneNumber, Waba

from .variables import Variable


class TemplateActionNotAllowed(Exception):
    """The template's status (or Meta's edit limits, or its flow) does not allow this now."""


class MessageTemplateQuerySet(models.QuerySet):
    def awaiting_review(self) -> MessageTemplateQuerySet:
        """Templates on Meta whose review hasn't ended yet (the beat schedule polls them)."""
        return self.exclude(meta_template_id="").filter(
            status__in=[MessageTemplate.Status.PENDING, MessageTemplate.Status.IN_APPEAL]
        )

    def named(self, waba: Waba, name: str) -> MessageTemplateQuerySet:
        """Every language of a template name in a WABA (what Meta deletes together)."""
        return self.filter(waba=waba, name=name)


class MessageTemplate(models.Model):
    """A WhatsApp message template of one WABA with a Flow button, and what Meta says of it."""

    class Status(models.TextChoices):
        # Ours: kept here, not (yet) on Meta because Meta refused it or did not answer.
        NOT_SUBMITTED = "NOT_SUBMITTED", "Not submitted"
        # Meta's own strings (the template status webhook's `event` values).
        PENDING = "PENDING", "Pending review"
        APPROVED = "APPROVED", "Approved"
        REJECTED = "REJECTED", "Rejected"
        PAUSED = "PAUSED", "Paused"
        DISABLED = "DISABLED", "Disabled"
        FLAGGED = "FLAGGED", "Flagged"
        IN_APPEAL = "IN_APPEAL", "In appeal"
        REINSTATED = "REINSTATED", "Reinstated"
        DELETED = "DELETED", "Deleted"
        PENDING_DELETION = "PENDING_DELETION", "Pending deletion"
        LIMIT_EXCEEDED = "LIMIT_EXCEEDED", "Limit exceeded"
        ARCHIVED = "ARCHIVED", "Archived"
        UNARCHIVED = "UNARCHIVED", "Unarchived"
        LOCKED = "LOCKED", "Locked"

    class Category(models.TextChoices):
        MARKETING = "MARKETING", "Marketing"
        UTILITY = "UTILITY", "Utility"
        AUTHENTICATION = (
            "AUTHENTICATION",
            "Authentication",
        )  # Meta may answer with it; we don't offer it

    class Quality(models.TextChoices):
        GREEN = "GREEN", "High"
        YELLOW = "YELLOW", "Medium"
        RED = "RED", "Low"
        UNKNOWN = "UNKNOWN", "Not rated yet"

    class HeaderFormat(models.TextChoices):
        NONE = "", "None"
        TEXT = "TEXT", "Text"
        IMAGE = "IMAGE", "Media: Image"
        VIDEO = "VIDEO", "Media: Video"
        DOCUMENT = "DOCUMENT", "Media: Document"
        LOCATION = "LOCATION", "Media: Location"

    class FlowAction(models.TextChoices):
        NAVIGATE = "navigate", "Navigation"
        DATA_EXCHANGE = "data_exchange", "Data Exchange"

    # What each status allows, after Meta's rules: edit only APPROVED, REJECTED or PAUSED (and ours
    # that never reached Meta); delete anything but DISABLED; send only APPROVED. "submit" is the
    # "Try again" of a template Meta refused or did not answer.
    ALLOWED = {
        Status.NOT_SUBMITTED: {"edit", "delete", "submit"},
        Status.PENDING: {"delete", "refresh"},
        Status.APPROVED: {"edit", "delete", "send_test", "refresh"},
        Status.REJECTED: {"edit", "delete", "refresh"},
        Status.PAUSED: {"edit", "delete", "refresh"},
        Status.DISABLED: {"refresh"},
    }
    OTHERWISE = {"delete", "refresh"}
    # An approved template may be edited at most this often (Meta's limits).
    EDIT_LIMITS = (
        (timedelta(hours=24), 1, "once in 24 hours"),
        (timedelta(days=30), 10, "10 times in 30 days"),
    )
    MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")

    waba = models.ForeignKey(Waba, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=15, default="en_US")
    category = models.CharField(max_length=20, choices=Category, default=Category.MARKETING)
    # Set when Meta moved the template to another category (template_category_update)...
    previous_category = models.CharField(max_length=20, blank=True)
    # ...and, the day before, the category Meta announced and when it will move it.
    announced_category = models.CharField(max_length=20, blank=True)
    category_change_at = models.DateTimeField(null=True, blank=True)
    meta_template_id = models.CharField(max_length=25, blank=True, db_index=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    # Meta's reason code (INVALID_FORMAT...), its rejection_info in words, and pause notes.
    status_reason = models.TextField(blank=True)
    rejection_reason = models.TextField(blank=True)
    rejection_recommendation = models.TextField(blank=True)
    status_detail = models.TextField(blank=True)
    quality = models.CharField(max_length=8, choices=Quality, default=Quality.UNKNOWN)
    quality_updated_at = models.DateTimeField(null=True, blank=True)

    header_format = models.CharField(max_length=10, choices=HeaderFormat, blank=True)
    header_text = models.CharField(max_length=60, blank=True)
    # The handle Meta's resumable upload gave the sample; empty until it is uploaded.
    header_handle = models.TextField(blank=True)
    body = models.TextField(max_length=1024, blank=True)
    footer = models.CharField(max_length=60, blank=True)
    button_text = models.CharField(max_length=25, blank=True)
    # The Flow its button opens; cleared when that flow is deprecated or deleted. flow_label keeps
    # its name and Flow ID so the page can say which flow is gone.
    flow = models.ForeignKey(
        "flowsadmin.Flow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="templates",
    )
    flow_label = models.CharField(max_length=250, blank=True)
    flow_action = models.CharField(max_length=15, choices=FlowAction, default=FlowAction.NAVIGATE)
    navigate_screen = models.CharField(max_length=100, blank=True)
    # [{"variable": "user.name", "param": "user_name", "example": "Ana"}]: Meta's NAMED parameter
    # of each personalisation variable, for review examples now and campaign values later.
    variables = models.JSONField(default=list, blank=True)
    # The components as last sent to Meta.
    components = models.JSONField(default=list, blank=True)

    # Meta's words when it refused the template or could not be reached; empty once it took it.
    submission_error = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    last_edited_at = models.DateTimeField(null=True, blank=True)
    # ISO times of the edits made while approved: Meta's edit limits count them.
    approved_edits = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MessageTemplateQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-pk"]
        permissions = [("send_test_messagetemplate", "Can send a test of a message template")]
        constraints = [
            models.UniqueConstraint(
                fields=["waba", "name", "language"], name="one_template_per_name_and_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    # --- what may be done ---------------------------------------------------------------------

    def refusal(self, action: str, *, now: datetime | None = None) -> str:
        """Why the action can't be done now, in words for the page; "" when it can."""
        allowed = self.ALLOWED.get(self.status, self.OTHERWISE)
        label = self.get_status_display().lower()
        if action not in allowed:
            words = {
                "edit": "Only approved, rejected or paused templates can be edited",
                "delete": "A disabled template can't be deleted (Meta's rule)",
                "send_test": "Only an approved template can be sent",
                "submit": "It is already on Meta",
                "refresh": "It is not on Meta yet",
            }.get(action, f"Not allowed for a {label} template")
            return f"{words}; this one is {label}."
        if action == "edit" and (limit := self.edit_limit_reached(now or timezone.now())):
            return f"Meta lets an approved template be edited at most {limit}: try again later."
        if action == "send_test" and self.flow_gone:
            return "It can no longer be sent: its flow is gone. Edit it to choose a published flow."
        if action == "refresh" and not self.meta_template_id:
            return "It is not on Meta yet."
        return ""

    def can(self, action: str) -> bool:
        return not self.refusal(action)

    def require(self, action: str) -> None:
        if reason := self.refusal(action):
            raise TemplateActionNotAllowed(reason)

    def allowed_actions(self) -> set[str]:
        return {a for a in ("edit", "delete", "send_test", "submit", "refresh") if self.can(a)}

    def edit_limit_reached(self, now: datetime) -> str:
        """The limit an edit now would break ("once in 24 hours"), or "" when it may be edited."""
        if self.status != self.Status.APPROVED:
            return ""
        times = [datetime.fromisoformat(at) for at in self.approved_edits]
        for window, most, words in self.EDIT_LIMITS:
            if sum(1 for at in times if at > now - window) >= most:
                return words
        return ""

    @property
    def flow_gone(self) -> bool:
        """Its flow was deprecated or deleted: Meta would refuse to send it (132068)."""
        return self.flow_id is None or self.flow.status != self.flow.Status.PUBLISHED

    @property
    def is_on_meta(self) -> bool:
        return bool(self.meta_template_id)

    @property
    def has_media_header(self) -> bool:
        return self.header_format in self.MEDIA_FORMATS

    def variable_list(self) -> list[Variable]:
        return [
            Variable(name=v["variable"], param=v["param"], example=v.get("example", ""))
            for v in self.variables
        ]

    def examples(self) -> dict[str, str]:
        """Example value by variable name ({"user.name": "Ana"}), for the preview."""
        return {v["variable"]: v.get("example", "") for v in self.variables}

    def language_label(self) -> str:
        return LANGUAGE_NAMES.get(self.language, self.language)

    # --- what Meta says -----------------------------------------------------------------------

    def mark_submitted(self, *, meta_id: str, status: str, category: str | None) -> None:
        """Meta took the template: its id, the status its review reached and the category it gave.

        Meta's review webhook can arrive before its answer to the create (a fast review): a verdict
        already stored then stands, rather than going back to the create's PENDING.
        """
        current = type(self).objects.select_for_update().filter(pk=self.pk).values("status").first()
        reviewed = current and current["status"] != self.Status.NOT_SUBMITTED
        if reviewed:
            self.refresh_from_db(
                fields=[
                    "status", "status_reason", "rejection_reason", "rejection_recommendation",
                    "status_detail", "quality", "quality_updated_at",
                ]
            )  # fmt: skip
        else:
            self.status = status if status in self.Status.values else self.Status.PENDING
        self.meta_template_id = meta_id
        if category and category != self.category:
            self.previous_category, self.category = self.category, category
        self.submission_error = ""
        self.submitted_at = timezone.now()
        self.save()

    def mark_not_submitted(self, reason: str) -> None:
        """Meta refused it or did not answer: it stays here, with Meta's words, to try again."""
        self.submission_error = reason
        self.save(update_fields=["submission_error", "updated_at"])

    def mark_edited(self, now: datetime) -> None:
        """Meta took an edit: back to PENDING for review, and count it if it was approved."""
        if self.status == self.Status.APPROVED:
            self.approved_edits = [*self.approved_edits, now.isoformat()][-10:]
        self.status = self.Status.PENDING
        self.status_reason = self.rejection_reason = self.rejection_recommendation = ""
        self.status_detail = self.submission_error = ""
        self.last_edited_at = now

    def apply_review(
        self,
        status: str,
        *,
        reason: str = "",
        rejection_info: dict | None = None,
        other_info: dict | None = None,
    ) -> bool:
        """Take Meta's verdict; False (and nothing saved) for a status Meta doesn't have."""
        if status not in self.Status.values or status == self.Status.NOT_SUBMITTED:
            return False
        self.status = status
        self.status_reason = "" if reason in ("", "NONE", None) else str(reason)
        info = rejection_info if isinstance(rejection_info, dict) else {}
        self.rejection_reason = str(info.get("reason") or "")
        self.rejection_recommendation = str(info.get("recommendation") or "")
        other = other_info if isinstance(other_info, dict) else {}
        self.status_detail = str(other.get("description") or other.get("title") or "")
        self.save()
        return True

    def apply_quality(self, score: str) -> bool:
        if score not in self.Quality.values:
            return False
        self.quality = score
        self.quality_updated_at = timezone.now()
        self.save(update_fields=["quality", "quality_updated_at", "updated_at"])
        return True

    def announce_category(self, category: str, at: datetime | None) -> None:
        """Meta's notice, a day ahead, that it will move the template to another category."""
        self.announced_category = category
        self.category_change_at = at
        self.save(update_fields=["announced_category", "category_change_at", "updated_at"])

    def apply_category(self, new: str, *, previous: str = "") -> None:
        """Meta moved the template (a Utility one it judged to be marketing)."""
        self.previous_category = previous or self.category
        self.category = new
        self.announced_category = ""
        self.category_change_at = None
        self.save()

    def apply_meta_state(self, data: dict) -> None:
        """What GET /{template-id} says: status, reason, quality and category."""
        if data.get("status") in self.Status.values:
            self.status = data["status"]
            reason = data.get("rejected_reason")
            self.status_reason = "" if reason in (None, "", "NONE") else str(reason)
        if data.get("quality_score") in self.Quality.values:
            if data["quality_score"] != self.quality:
                self.quality_updated_at = timezone.now()
            self.quality = data["quality_score"]
        if data.get("category") and data["category"] != self.category:
            self.previous_category = data.get("previous_category") or self.category
            self.category = data["category"]
        self.save()


class TemplateSample(models.Model):
    """The header media sample a template was reviewed with: kept to show on its page."""

    template = models.OneToOneField(
        MessageTemplate, on_delete=models.CASCADE, related_name="sample"
    )
    content = models.BinaryField()
    content_type = models.CharField(max_length=50)
    filename = models.CharField(max_length=255)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    uploaded_at = models.DateTimeField(auto_now=True)

    @property
    def header_format(self) -> str:
        return {"image": "IMAGE", "video": "VIDEO"}.get(self.content_type.split("/")[0], "DOCUMENT")


class TestSend(models.Model):
    """One test of a template sent from its page: who, to whom, and what Meta answered."""

    template = models.ForeignKey(
        MessageTemplate, on_delete=models.CASCADE, related_name="test_sends"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    phone_number = models.ForeignKey(
        PhoneNumber, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    to = models.CharField(max_length=32)
    wamid = models.CharField("Meta message id", max_length=200, blank=True)
    message_status = models.CharField(max_length=40, blank=True)
    flow_token = models.TextField(blank=True)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]

    @property
    def ok(self) -> bool:
        return bool(self.wamid)


# The languages the form offers (Meta's locale codes); Meta has more, these cover most businesses.
LANGUAGE_NAMES = {
    "en_US": "English (US)",
    "en_GB": "English (UK)",
    "en": "English",
    "es": "Spanish",
    "es_ES": "Spanish (Spain)",
    "es_MX": "Spanish (Mexico)",
    "pt_BR": "Portuguese (Brazil)",
    "pt_PT": "Portuguese (Portugal)",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "nl": "Dutch",
    "hi": "Hindi",
    "id": "Indonesian",
    "ar": "Arabic",
    "tr": "Turkish",
}
