"""The sandbox's own state: what Meta would hold for the accounts it plays.

None of these tables belong to the product. The sandbox keeps them so that it answers like Meta over
HTTP: ids it made up, statuses it moves, webhooks it sent.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from wabas.fields import EncryptedTextField

from .validation import entry_screens, screen_ids

# Flow JSON versions Meta no longer accepts for publishing (Meta's Flow JSON changelog freezes them).
FROZEN_JSON_VERSIONS = {"2.1", "3.0", "3.1", "4.0", "5.0"}
# How long a preview link stays valid, like Meta's.
PREVIEW_LIFETIME = timedelta(days=30)
# A throttled flow may still be sent this many times an hour (132069 after that).
THROTTLED_SENDS_PER_HOUR = 10


def new_meta_id() -> str:
    """A fresh id in Meta's style: a 15 or 16 digit decimal string."""
    return str(10**14 + secrets.randbelow(9 * 10**15))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def meta_time(value: object) -> str:
    """Meta's timestamp format: 2026-07-01T10:00:00+0000."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def default_webhook_url() -> str:
    return settings.PUBLIC_BASE_URL + "/meta/webhook/"


class Account(models.Model):
    """A WhatsApp Business Account as Meta knows it, with the credentials Meta would check."""

    waba_id = models.CharField("WABA id", max_length=25, unique=True)
    name = models.CharField(max_length=120)
    # Meta's side of the secrets, encrypted at rest like every secret in the project.
    access_token = EncryptedTextField()
    app_secret = EncryptedTextField()
    app_id = models.CharField("app id", max_length=25, blank=True)
    webhook_url = models.URLField("webhook callback URL", max_length=500)
    # Whether the app is subscribed to the WABA (POST /{waba-id}/subscribed_apps). Meta delivers
    # no webhook and publishes no endpoint Flow for an unsubscribed WABA. Accounts made before this
    # was modelled stay subscribed; a test (or DELETE subscribed_apps) makes one unsubscribed.
    subscribed = models.BooleanField("app subscribed", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "waba_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.waba_id})"

    @property
    def template_namespace(self) -> str:
        return f"sandbox_{self.waba_id}"


class PhoneNumber(models.Model):
    """A business phone number of an account, and the Flows public key uploaded for it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="phone_numbers")
    phone_number_id = models.CharField("phone number id", max_length=25, unique=True)
    display_phone_number = models.CharField(max_length=25)
    verified_name = models.CharField(max_length=120, blank=True)
    quality_rating = models.CharField(max_length=8, default="GREEN")
    throughput_level = models.CharField(max_length=10, default="STANDARD")
    business_public_key = models.TextField(blank=True)
    key_uploaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["display_phone_number"]

    def __str__(self) -> str:
        return self.display_phone_number

    @property
    def digits(self) -> str:
        """The number as Meta writes it in webhooks: digits only."""
        return "".join(ch for ch in self.display_phone_number if ch.isdigit())

    def store_public_key(self, pem: str) -> None:
        """Keep the business public key Meta encrypts with for this number; callers check it first."""
        self.business_public_key = pem
        self.key_uploaded_at = timezone.now()
        self.save(update_fields=["business_public_key", "key_uploaded_at"])


class FlowStateError(Exception):
    """An action the flow's status does not allow; the Graph API answers it with a 13900x code."""

    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"{action} is not allowed for a {status} flow")
        self.action = action
        self.status = status


class Flow(models.Model):
    class Status(models.TextChoices):
        DRAFT = "DRAFT"
        PUBLISHED = "PUBLISHED"
        DEPRECATED = "DEPRECATED"
        THROTTLED = "THROTTLED"
        BLOCKED = "BLOCKED"

    # Which Graph API action each status allows, as Meta's Flows API refuses the rest. Only drafts change; the
    # health moves (throttle, block, recover) are the sandbox operator's, standing in for Meta's monitor.
    ALLOWED = {
        Status.DRAFT: {"update", "upload_json", "publish", "delete"},
        Status.PUBLISHED: {"deprecate", "throttle", "block"},
        Status.THROTTLED: {"deprecate", "block", "recover"},
        Status.BLOCKED: {"deprecate", "throttle", "recover"},
        Status.DEPRECATED: set(),
    }
    # The status each health action leads to.
    HEALTH_ACTIONS = {
        Status.THROTTLED: "throttle",
        Status.BLOCKED: "block",
        Status.PUBLISHED: "recover",
    }

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="flows")
    flow_id = models.CharField("flow id", max_length=25, unique=True, default=new_meta_id)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status, default=Status.DRAFT)
    categories = models.JSONField(default=list)
    endpoint_uri = models.URLField(max_length=1000, blank=True)
    flow_json = models.TextField(blank=True)
    json_version = models.CharField(max_length=10, blank=True)
    data_api_version = models.CharField(max_length=10, blank=True)
    validation_errors = models.JSONField(default=list)
    # Why the operator throttled or blocked it: shown in the webhook and health_status.
    status_reason = models.TextField(blank=True)
    # Unguessable tokens in the public preview and asset download links.
    preview_token = models.CharField(max_length=64, unique=True, default=new_token)
    preview_expires_at = models.DateTimeField(null=True, blank=True)
    asset_token = models.CharField(max_length=64, unique=True, default=new_token)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"], name="sandbox_flow_name_per_account"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def can(self, action: str) -> bool:
        return action in self.ALLOWED[self.status]

    def require(self, action: str) -> None:
        if not self.can(action):
            raise FlowStateError(action, self.status)

    def health_moves(self) -> list[tuple[str, str]]:
        """The health changes the sandbox page offers for this flow: (new status, button label)."""
        labels = {
            self.Status.THROTTLED: "Throttle",
            self.Status.BLOCKED: "Block",
            self.Status.PUBLISHED: "Unblock",
        }
        return [
            (status, labels[status])
            for status, action in self.HEALTH_ACTIONS.items()
            if self.can(action)
        ]

    def set_json(
        self, text: str, *, errors: list[dict], version: str, data_api_version: str
    ) -> None:
        """Store a new Flow JSON asset with Meta's verdict on it; old download links stop working."""
        self.flow_json = text
        self.validation_errors = errors
        self.json_version = version
        self.data_api_version = data_api_version
        self.asset_token = new_token()

    def move_to(self, status: str, *, reason: str = "") -> str:
        """Change the status and return the old one; callers check `can` first."""
        old = self.status
        self.status = status
        self.status_reason = (
            reason if status in (self.Status.THROTTLED, self.Status.BLOCKED) else ""
        )
        self.save(update_fields=["status", "status_reason", "updated_at"])
        return old

    def preview(self, base_url: str, *, invalidate: bool = False) -> dict:
        """The `preview` field of GET /{flow-id}: the same link until it expires, or a new one on request."""
        if invalidate or not self.preview_is_valid():
            self.renew_preview()
        return {
            "preview_url": base_url + reverse("sandbox:preview", args=[self.preview_token]),
            "expires_at": meta_time(self.preview_expires_at),
        }

    def health_status(self) -> dict:
        """The `health_status` field of GET /{flow-id}: the flow's entry, its account's and its app's."""
        account = self.account
        flow_entity: dict[str, object] = {
            "entity_type": "FLOW",
            "id": self.flow_id,
            "can_send_message": self.can_send_message,
        }
        if self.status in (self.Status.THROTTLED, self.Status.BLOCKED):
            code, title = (
                (132069, "Flow is throttled")
                if self.status == self.Status.THROTTLED
                else (132068, "Flow is blocked")
            )
            flow_entity["errors"] = [
                {
                    "error_code": code,
                    "error_description": self.status_reason or title,
                    "possible_solution": "Check the flow endpoint's health (errors, latency, availability).",
                }
            ]
        entities = [
            flow_entity,
            {"entity_type": "WABA", "id": account.waba_id, "can_send_message": "AVAILABLE"},
        ]
        if account.app_id:
            entities.append(
                {"entity_type": "APP", "id": account.app_id, "can_send_message": "AVAILABLE"}
            )
        worst = next(
            (
                level
                for level in ("BLOCKED", "LIMITED")
                if any(e["can_send_message"] == level for e in entities)
            ),
            "AVAILABLE",
        )
        return {"can_send_message": worst, "entities": entities}

    def preview_is_valid(self) -> bool:
        return self.preview_expires_at is not None and self.preview_expires_at > timezone.now()

    def renew_preview(self) -> None:
        self.preview_token = new_token()
        self.preview_expires_at = timezone.now() + PREVIEW_LIFETIME
        self.save(update_fields=["preview_token", "preview_expires_at"])

    @property
    def is_frozen_version(self) -> bool:
        return self.json_version in FROZEN_JSON_VERSIONS

    @property
    def can_send_message(self) -> str:
        """The flow's own entry in health_status."""
        return {
            self.Status.THROTTLED: "LIMITED",
            self.Status.BLOCKED: "BLOCKED",
            self.Status.DEPRECATED: "BLOCKED",
        }.get(self.status, "AVAILABLE")

    def screen_ids(self) -> list[str]:
        return screen_ids(self.flow_json)

    def entry_screens(self) -> list[str]:
        """The screens its Flow JSON can be opened at (a template's navigate_screen must be one)."""
        return entry_screens(self.flow_json)


class TemplateStateError(Exception):
    """An action the template's status does not allow (editing a pending one, sending a paused one)."""

    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"{action} is not allowed for a {status} template")
        self.action = action
        self.status = status


class Template(models.Model):
    """A message template, Meta's review of it, and what Meta's quality monitor did to it since."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        APPROVED = "APPROVED"
        REJECTED = "REJECTED"
        PAUSED = "PAUSED"
        DISABLED = "DISABLED"

    class Quality(models.TextChoices):
        GREEN = "GREEN"
        YELLOW = "YELLOW"
        RED = "RED"
        UNKNOWN = "UNKNOWN"

    # What each status allows, after Meta's template rules: only approved templates are sent; approved,
    # rejected and paused ones can be edited; disabled ones not even deleted. Pausing, unpausing and
    # disabling are the sandbox operator's, standing in for Meta's quality monitor.
    ALLOWED = {
        Status.PENDING: {"delete"},
        Status.APPROVED: {"send", "edit", "delete", "pause", "disable"},
        Status.REJECTED: {"edit", "delete"},
        Status.PAUSED: {"edit", "delete", "unpause", "disable"},
        Status.DISABLED: set(),
    }
    # An approved template may be edited at most once in 24 hours and 10 times in 30 days.
    EDIT_LIMITS = (
        (timedelta(hours=24), 1, "once in 24 hours"),
        (timedelta(days=30), 10, "10 times in 30 days"),
    )
    # A low-quality template is paused twice (3 hours, then 6) and disabled the third time.
    PAUSES = ("FIRST_PAUSE", "SECOND_PAUSE")
    # What the sandbox's reviewer says when it rejects (the webhook's rejection_info), by reason.
    REJECTION_INFO = {
        "INVALID_FORMAT": {
            "reason": "The message template's format is not valid: its content doesn't follow the "
            "template guidelines.",
            "recommendation": "Check the variables, their example values and the text around them, "
            "then edit the template and submit it again.",
        },
    }

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="templates")
    template_id = models.CharField("template id", max_length=25, unique=True, default=new_meta_id)
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=15)
    category = models.CharField(max_length=20)
    # Set when Meta moved the template to another category (template_category_update).
    previous_category = models.CharField(max_length=20, blank=True)
    parameter_format = models.CharField(max_length=12, default="POSITIONAL")
    components = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    rejected_reason = models.CharField(max_length=40, default="NONE")
    quality_score = models.CharField(max_length=8, choices=Quality, default=Quality.UNKNOWN)
    quality_updated_at = models.DateTimeField(null=True, blank=True)
    pause_count = models.PositiveSmallIntegerField(default=0)
    # Unix times of the edits made while the template was approved: the edit limits count them.
    approved_edits = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name", "language"], name="sandbox_template_name_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    def can(self, action: str) -> bool:
        return action in self.ALLOWED[self.status]

    def require(self, action: str) -> None:
        if not self.can(action):
            raise TemplateStateError(action, self.status)

    def monitor_moves(self) -> list[tuple[str, str]]:
        """What the sandbox page offers to do to it as Meta's monitors would: (action, button label)."""
        moves = [
            (action, label)
            for action, label in (
                ("pause", "Pause"),
                ("unpause", "Unpause"),
                ("disable", "Disable"),
            )
            if self.can(action)
        ]
        if self.category == "UTILITY" and self.status != self.Status.DISABLED:
            moves.append(("recategorize", "Move to Marketing"))
        return moves

    def review_verdict(self) -> tuple[str, str]:
        """The sandbox's review rule: a name containing "reject" is rejected, anything else approved."""
        if "reject" in self.name:
            return self.Status.REJECTED, "INVALID_FORMAT"
        return self.Status.APPROVED, "NONE"

    def edit_limit_reached(self, now: datetime) -> str:
        """The limit an edit now would break ("once in 24 hours"), or "" when it may be edited."""
        if self.status != self.Status.APPROVED:
            return ""
        for window, most, words in self.EDIT_LIMITS:
            since = (now - window).timestamp()
            if sum(1 for at in self.approved_edits if at > since) >= most:
                return words
        return ""

    def replace_content(
        self, *, components: list[dict], category: str, parameter_format: str, now: datetime
    ) -> None:
        """Take an edit: new content, back to PENDING for review; callers check `can("edit")` first."""
        if self.status == self.Status.APPROVED:
            self.approved_edits = [*self.approved_edits, now.timestamp()]
        self.components = components
        self.category = category
        self.parameter_format = parameter_format
        self.status = self.Status.PENDING
        self.rejected_reason = "NONE"
        self.save()

    def move_to(self, status: str) -> str:
        """Change the status (pause, unpause, disable) and return the old one; callers check first."""
        old = self.status
        if status == self.Status.PAUSED:
            self.pause_count += 1
        self.status = status
        self.save(update_fields=["status", "pause_count", "updated_at"])
        return old

    def set_quality(self, score: str) -> str:
        """Record a new quality score and return the old one."""
        old = self.quality_score
        self.quality_score = score
        self.quality_updated_at = timezone.now()
        self.save(update_fields=["quality_score", "quality_updated_at", "updated_at"])
        return old

    def recategorize(self, category: str) -> str:
        """Meta moved the template to another category; return the old one."""
        old = self.category
        self.previous_category = old
        self.category = category
        self.save(update_fields=["category", "previous_category", "updated_at"])
        return old

    def component(self, kind: str) -> dict | None:
        """The template's HEADER, BODY, FOOTER or BUTTONS component, if it has one."""
        for component in self.components:
            if str(component.get("type", "")).upper() == kind:
                return component
        return None

    def flow_button(self) -> tuple[int, dict] | None:
        """The FLOW button and its index among the template's buttons (what a send must name)."""
        buttons = (self.component("BUTTONS") or {}).get("buttons") or []
        for index, button in enumerate(buttons):
            if str(button.get("type", "")).upper() == "FLOW":
                return index, button
        return None

    def flow_ids(self) -> list[str]:
        """Ids of the flows its FLOW buttons open."""
        found = self.flow_button()
        return [str(found[1]["flow_id"])] if found and found[1].get("flow_id") else []


class UploadSession(models.Model):
    """A resumable upload (POST /{app-id}/uploads) and the bytes received so far."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="uploads")
    token = models.CharField(max_length=64, unique=True, default=new_token)
    # Meta's session ids end in ?sig=...; clients must send it back untouched.
    signature = models.CharField(max_length=64, default=new_token)
    file_name = models.CharField(max_length=255)
    file_length = models.PositiveBigIntegerField()
    file_type = models.CharField(max_length=100)
    data = models.BinaryField(default=b"")
    handle = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def session_id(self) -> str:
        return f"upload:{self.token}?sig={self.signature}"

    @property
    def file_offset(self) -> int:
        return len(self.data)


class Message(models.Model):
    """A template message sent through the sandbox, how far its delivery has got, and what it shows."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted"
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"

    # The path every message takes, one webhook per step (see `next_status`).
    PROGRESSION = {
        Status.ACCEPTED: Status.SENT,
        Status.SENT: Status.DELIVERED,
        Status.DELIVERED: Status.READ,
    }

    phone = models.ForeignKey(PhoneNumber, on_delete=models.CASCADE, related_name="messages")
    wamid = models.CharField(max_length=100, unique=True)
    to = models.CharField(max_length=20)
    template = models.ForeignKey(Template, null=True, on_delete=models.SET_NULL, related_name="+")
    template_name = models.CharField(max_length=512)
    flow = models.ForeignKey(Flow, null=True, on_delete=models.SET_NULL, related_name="messages")
    payload = models.JSONField(default=dict)
    # What the phone shows, as WhatsApp renders it: the variables already filled in.
    header_format = models.CharField(max_length=10, blank=True)  # TEXT, IMAGE, VIDEO, DOCUMENT...
    header_text = models.TextField(blank=True)
    # The header's media or location as sent: {"id"} or {"link"} (and "filename"), or the location.
    header_media = models.JSONField(default=dict, blank=True)
    body_text = models.TextField(blank=True)
    footer_text = models.TextField(blank=True)
    # The FLOW button and what tapping it opens.
    button_text = models.CharField(max_length=25, blank=True)
    button_flow_id = models.CharField("flow id", max_length=25, blank=True)
    flow_action = models.CharField(max_length=15, blank=True)  # navigate or data_exchange
    navigate_screen = models.CharField(max_length=100, blank=True)
    flow_token = models.TextField(blank=True)
    flow_action_data = models.JSONField(default=dict, blank=True)
    # Echoed in every status webhook of the message, as Meta does.
    biz_opaque_callback_data = models.CharField(max_length=512, blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.ACCEPTED)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    @property
    def sent_in_draft_mode(self) -> bool:
        """An interactive Flow message sent with mode draft: the phone opens its DRAFT flow."""
        interactive = self.payload.get("interactive") if isinstance(self.payload, dict) else None
        action = interactive.get("action") if isinstance(interactive, dict) else None
        parameters = action.get("parameters") if isinstance(action, dict) else None
        return isinstance(parameters, dict) and parameters.get("mode") == "draft"

    @staticmethod
    def new_wamid() -> str:
        return "wamid." + secrets.token_urlsafe(36)

    @property
    def undeliverable(self) -> bool:
        """The sandbox's delivery rule: numbers ending in 0000 cannot receive Flows (131026)."""
        return self.to.endswith("0000")

    def next_status(self) -> str | None:
        if self.status == self.Status.SENT and self.undeliverable:
            return self.Status.FAILED
        return self.PROGRESSION.get(self.status)


class SentWebhook(models.Model):
    """One webhook the sandbox sent (or tried to send) to an account's callback URL."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhooks")
    field = models.CharField(max_length=60)
    target = models.URLField(max_length=500)
    # The exact bytes that are signed and sent, kept as text.
    body = models.TextField()
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    delivered = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    attempted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def record_attempt(self, *, status_code: int | None, error: str) -> None:
        self.attempts += 1
        self.status_code = status_code
        self.error = error
        self.delivered = status_code == 200
        self.attempted_at = timezone.now()
        self.save(update_fields=["attempts", "status_code", "error", "delivered", "attempted_at"])

    @property
    def result(self) -> str:
        if self.attempts == 0:
            return "queued"
        if self.status_code is not None:
            return f"HTTP {self.status_code}"
        return self.error


class Faults(models.Model):
    """The fault knobs, one row: how often Graph calls fail or throttle, and how slow they are."""

    error_rate = models.FloatField(default=0)
    throttle_rate = models.FloatField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    # Message sends only: answer this Meta error code (131049, 132015...) to this share of sends,
    # to everyone or only to one WhatsApp id.
    error_code = models.PositiveIntegerField(null=True, blank=True)
    error_code_rate = models.FloatField(default=0)
    error_code_to = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name_plural = "faults"

    @classmethod
    def current(cls) -> Faults:
        return cls.objects.get_or_create(pk=1)[0]
