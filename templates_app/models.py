from __future__ import annotations

from django.db import models

from wabas.models import Waba


class MessageTemplateQuerySet(models.QuerySet):
    def awaiting_review(self) -> MessageTemplateQuerySet:
        """Templates on Meta whose review hasn't ended yet (the beat schedule polls them)."""
        return self.exclude(meta_template_id="").filter(
            status__in=[MessageTemplate.Status.PENDING, MessageTemplate.Status.IN_APPEAL]
        )


class MessageTemplate(models.Model):
    """A WhatsApp message template of one WABA, optionally carrying a Flow button.

    Only what Meta's reviews and the Flow lifecycle need so far; the template form arrives with the
    templates issue.
    """

    class Status(models.TextChoices):
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

    waba = models.ForeignKey(Waba, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=15, default="en_US")
    category = models.CharField(max_length=20, default="MARKETING")
    meta_template_id = models.CharField(max_length=25, blank=True, db_index=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    status_reason = models.TextField(blank=True)
    # The Flow its button opens; cleared when that flow is deprecated.
    flow = models.ForeignKey(
        "flowsadmin.Flow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="templates",
    )
    components = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MessageTemplateQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["waba", "name", "language"], name="one_template_per_name_and_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    def apply_review(self, status: str, *, reason: str = "") -> bool:
        """Take Meta's verdict; False (and nothing saved) for a status Meta doesn't have."""
        if status not in self.Status.values:
            return False
        self.status = status
        self.status_reason = "" if reason in ("", "NONE", None) else str(reason)
        self.save(update_fields=["status", "status_reason", "updated_at"])
        return True
