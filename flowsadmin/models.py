from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from wabas.models import Waba

from .routing import entry_screens


class FlowActionNotAllowed(Exception):
    """The flow's status does not allow this action (see Flow.ALLOWED)."""

    def __init__(self, action: str, status: str) -> None:
        self.action, self.status = action, status
        label = Flow.Status(status).label if status in Flow.Status.values else status
        super().__init__(f"A {label.lower()} flow can't be {ACTION_WORDS.get(action, action)}.")


ACTION_WORDS = {
    "update_json": "edited",
    "update_endpoint": "given a new customer endpoint",
    "delete": "deleted",
    "publish": "published",
    "deprecate": "deprecated",
    "refresh": "refreshed",
    "preview": "previewed",
    "clone": "cloned",
}


class FlowQuerySet(models.QuerySet):
    def published(self) -> FlowQuerySet:
        """Flows a template may offer: Meta attaches only published flows."""
        return self.filter(status=Flow.Status.PUBLISHED).exclude(meta_flow_id="")

    def needing_refresh(self) -> FlowQuerySet:
        """Flows that exist on Meta and can still change there (deprecation is final)."""
        return self.exclude(meta_flow_id="").exclude(status=Flow.Status.DEPRECATED)


class Flow(models.Model):
    """A WhatsApp Flow of one WABA: its JSON as the user pasted it, and its state on Meta."""

    class Status(models.TextChoices):
        # Meta's own strings, so syncing needs no translation.
        DRAFT = "DRAFT", "Draft"
        PUBLISHED = "PUBLISHED", "Published"
        DEPRECATED = "DEPRECATED", "Deprecated"
        THROTTLED = "THROTTLED", "Throttled"
        BLOCKED = "BLOCKED", "Blocked"

    class Category(models.TextChoices):
        SIGN_UP = "SIGN_UP", "Sign-up"
        SIGN_IN = "SIGN_IN", "Sign-in"
        APPOINTMENT_BOOKING = "APPOINTMENT_BOOKING", "Appointment Booking"
        LEAD_GENERATION = "LEAD_GENERATION", "Lead Generation"
        CONTACT_US = "CONTACT_US", "Contact Us"
        CUSTOMER_SUPPORT = "CUSTOMER_SUPPORT", "Customer Support Survey"
        SURVEY = "SURVEY", "Survey"
        OTHER = "OTHER", "Other"

    class Endpoint(models.TextChoices):
        HOSTED = "HOSTED", "Hosted endpoint"
        CUSTOM = "CUSTOM", "Custom URL"

    # Which action each status allows, as Meta's Flow lifecycle does: the pages ask it which buttons to show
    # and every view and task asks it before doing anything. "clone" makes a new draft from any flow.
    ALLOWED = {
        Status.DRAFT: {
            "preview",
            "update_json",
            "update_endpoint",
            "delete",
            "publish",
            "refresh",
            "clone",
        },
        Status.PUBLISHED: {"preview", "update_endpoint", "refresh", "deprecate", "clone"},
        Status.DEPRECATED: {"preview", "refresh", "clone"},
        Status.THROTTLED: {"preview", "update_endpoint", "refresh", "deprecate", "clone"},
        Status.BLOCKED: {"preview", "update_endpoint", "refresh", "deprecate", "clone"},
    }

    waba = models.ForeignKey(Waba, on_delete=models.CASCADE, related_name="flows")
    # The data-exchange URL Meta calls is built from this, so a flow's URL can't be guessed.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    categories = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status, default=Status.DRAFT)
    meta_flow_id = models.CharField("Flow ID", max_length=25, blank=True)
    flow_json = models.TextField("Flow JSON", blank=True)
    endpoint = models.CharField(max_length=6, choices=Endpoint, default=Endpoint.HOSTED)
    custom_endpoint_url = models.URLField("custom URL", blank=True)
    customer_endpoint_url = models.URLField("customer endpoint", blank=True)
    # On: the hosted endpoint answers only requests whose flow_token we issued (tokens.py), for
    # flows sent only from here; off: tokens from the business's own systems work too.
    requires_our_token = models.BooleanField("only flow tokens we issued", default=False)
    has_validation_errors = models.BooleanField(default=False)
    # Our own checks of flow_json (flowjson.validate), as shown beside Meta's.
    local_messages = models.JSONField(default=list, blank=True)
    # Bumped on every edit: a save based on an older copy is refused instead of overwriting.
    lock_version = models.PositiveIntegerField(default=1)
    # The last Meta call that failed for this flow, in Meta's words; empty when all went through.
    meta_sync_error = models.TextField(blank=True)
    # What Meta last told us (refresh task and webhooks): its validation errors in Meta's shape, the
    # preview link, the health report, why it throttled or blocked the flow, and its latest alerts.
    meta_validation_errors = models.JSONField(default=list, blank=True)
    preview_url = models.URLField(max_length=1000, blank=True)
    preview_expires_at = models.DateTimeField(null=True, blank=True)
    health_status = models.JSONField(default=dict, blank=True)
    status_reason = models.TextField(blank=True)
    health_alerts = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FlowQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name

    def category_labels(self) -> list[str]:
        return [self.Category(c).label if c in self.Category.values else c for c in self.categories]

    def can(self, action: str) -> bool:
        if action == "update_endpoint" and self.endpoint != self.Endpoint.HOSTED:
            return False  # the customer endpoint only exists behind our hosted endpoint
        return action in self.ALLOWED[self.status]

    def require(self, action: str) -> None:
        if not self.can(action):
            raise FlowActionNotAllowed(action, self.status)

    def allowed_actions(self) -> set[str]:
        return {action for action in self.ALLOWED[self.status] if self.can(action)}

    def mark_published(self) -> None:
        self.require("publish")
        self.status = self.Status.PUBLISHED
        self.save(update_fields=["status", "updated_at"])

    def mark_deprecated(self) -> None:
        self.require("deprecate")
        self.status = self.Status.DEPRECATED
        self.status_reason = ""
        self.save(update_fields=["status", "status_reason", "updated_at"])

    def entry_screens(self) -> list[str]:
        """The screens a template's Navigation button may open this flow at (see routing.py)."""
        return entry_screens(self.flow_json)

    def data_exchange_url(self) -> str:
        """The URL Meta calls: ours for hosted flows, the user's own for a custom endpoint."""
        if self.endpoint == self.Endpoint.CUSTOM:
            return self.custom_endpoint_url
        # Served by the exchange app; a public contract: Meta keeps calling the URL it was given.
        return f"{settings.PUBLIC_BASE_URL}/meta/flows/{self.public_id}/"

    def apply_meta_state(self, data: dict) -> None:
        """Take the state Meta reports for this flow (GET /{flow-id}); Meta is the source of truth."""
        if data.get("status") in self.Status.values:
            self.status = data["status"]
        if "validation_errors" in data:
            self.meta_validation_errors = data["validation_errors"] or []
            self.has_validation_errors = bool(self.meta_validation_errors)
        preview = data.get("preview") or {}
        if preview.get("preview_url"):
            self.preview_url = preview["preview_url"]
            self.preview_expires_at = parse_meta_time(preview.get("expires_at"))
        if "health_status" in data:
            self.health_status = data["health_status"] or {}
        self.synced_at = timezone.now()
        self.save()

    def apply_status_change(self, new_status: str, *, message: str = "") -> bool:
        """A FLOW_STATUS_CHANGE webhook: Meta changed the status, with its reason in words."""
        if new_status not in self.Status.values:
            return False
        self.status = new_status
        self.status_reason = (
            message if new_status in (self.Status.THROTTLED, self.Status.BLOCKED) else ""
        )
        self.save(update_fields=["status", "status_reason", "updated_at"])
        return True

    def record_alert(self, event: str, value: dict) -> None:
        """Keep the latest health alert of each kind (error rate, latency, availability...)."""
        self.health_alerts = {
            **self.health_alerts,
            event: value | {"received_at": timezone.now().isoformat()},
        }
        self.save(update_fields=["health_alerts"])


def parse_meta_time(value: str | None) -> datetime | None:
    """Meta writes times like 2026-07-01T10:00:00+0000."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


class FlowRevision(models.Model):
    """Every version of a flow's JSON that was saved, for the history and its diffs."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    flow_json = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "number"], name="one_revision_number_per_flow")
        ]


class FlowChange(models.Model):
    """Who did what to a flow, and when."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="changes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20)
    detail = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]

    # What each recorded action code means, for the History tab.
    LABELS = {
        "create": "Created",
        "update": "Saved the Flow JSON",
        "publish": "Published",
        "deprecate": "Deprecated",
        "delete": "Deleted",
        "clone": "Cloned",
        "refresh": "Refreshed from Meta",
        "update_endpoint": "Changed the endpoint settings",
    }

    @property
    def label(self) -> str:
        """The action in words; an unknown code (a future one) is shown as it is, made readable."""
        return self.LABELS.get(self.action, self.action.replace("_", " ").capitalize())
