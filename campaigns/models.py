from __future__ import annotations

from django.db import models
from django.utils import timezone

from templates_app.models import MessageTemplate
from wabas.models import Waba


class Campaign(models.Model):
    """A send of one approved template to an audience. Scheduling and the send pipeline arrive with the
    campaigns issue; the delivery record below is what Meta's status webhooks already update."""

    waba = models.ForeignKey(Waba, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, related_name="campaigns"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Recipient(models.Model):
    """One message of a campaign to one WhatsApp user, and how far it got."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        # Meta's own status strings from here on.
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"

    # Webhooks can arrive out of order (read before delivered): a status never moves backwards.
    PROGRESS = {
        Status.QUEUED: 0,
        Status.SENDING: 1,
        Status.SENT: 2,
        Status.DELIVERED: 3,
        Status.READ: 4,
    }

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    whatsapp_id = models.CharField(max_length=20)
    wamid = models.CharField("Meta message id", max_length=200, null=True, blank=True, unique=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    error = models.TextField(blank=True)
    status_at = models.DateTimeField(null=True, blank=True)

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
