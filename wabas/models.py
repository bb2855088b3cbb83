from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import available_timezones

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .crypto import generate_key_pair, public_key_fingerprint
from .fields import EncryptedTextField

meta_id_validator = RegexValidator(r"^[0-9]{5,25}$", "Meta ids are numbers, 5 to 25 digits long.")
graph_version_validator = RegexValidator(
    r"^v[0-9]{1,3}\.[0-9]{1,2}$", "Write the Graph API version like v23.0."
)


def mask(secret: str) -> str:
    """Show at most the last 4 characters of a secret, and none of a short one."""
    if not secret:
        return ""
    return "••••" + (secret[-4:] if len(secret) >= 12 else "")


# IANA time zones a person can choose (the account's default, a campaign's schedule).
TIME_ZONES = sorted(available_timezones() - {"localtime", "Factory"})


class Waba(models.Model):
    """A WhatsApp Business Account and the credentials we use to act for it on Meta."""

    name = models.CharField("display name", max_length=120)
    meta_waba_id = models.CharField(
        "Meta WABA id", max_length=25, unique=True, validators=[meta_id_validator]
    )
    graph_base_url = models.URLField(
        "Graph API base URL", default="https://graph.facebook.com", max_length=200
    )
    graph_api_version = models.CharField(
        "Graph API version", max_length=8, default="v23.0", validators=[graph_version_validator]
    )
    # The Meta app the token belongs to: resumable uploads (template media samples) go to /{app-id}/uploads.
    meta_app_id = models.CharField(
        "Meta app id", max_length=25, blank=True, validators=[meta_id_validator]
    )
    access_token = EncryptedTextField("system-user access token")
    app_secret = EncryptedTextField("app secret")
    webhook_verify_token = EncryptedTextField("webhook verify token")
    # The last time we talked to Meta for this account, and what went wrong if it did.
    meta_checked_at = models.DateTimeField(null=True, blank=True)
    meta_error = models.TextField(blank=True)
    # When Meta last confirmed our app is subscribed to this WABA's webhooks (subscribed_apps),
    # and what Meta said when it refused.
    subscribed_at = models.DateTimeField(null=True, blank=True)
    subscription_error = models.TextField(blank=True)
    # Where the business works: a new campaign is scheduled in it unless its author picks another.
    # One of TIME_ZONES, checked by the form (as choices here, each tzdata update would be a migration).
    time_zone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "WABA"
        permissions = [
            ("view_keys", "Can see a WABA's encryption keys"),
            ("reveal_private_key", "Can reveal or download a WABA's private key"),
        ]

    def __str__(self) -> str:
        return self.name

    def mark_connected(self) -> None:
        self.meta_checked_at = timezone.now()
        self.meta_error = ""
        self.save(update_fields=["meta_checked_at", "meta_error"])

    def mark_connection_failed(self, message: str) -> None:
        self.meta_checked_at = timezone.now()
        self.meta_error = message
        self.save(update_fields=["meta_checked_at", "meta_error"])

    def mark_subscribed(self) -> None:
        self.subscribed_at = timezone.now()
        self.subscription_error = ""
        self.save(update_fields=["subscribed_at", "subscription_error"])

    def mark_subscription_failed(self, message: str) -> None:
        self.subscribed_at = None
        self.subscription_error = message
        self.save(update_fields=["subscribed_at", "subscription_error"])

    @property
    def subscribed(self) -> bool:
        return self.subscribed_at is not None

    def masked_access_token(self) -> str:
        return mask(self.access_token)

    def masked_app_secret(self) -> str:
        return mask(self.app_secret)

    def masked_webhook_verify_token(self) -> str:
        return mask(self.webhook_verify_token)


class PhoneNumber(models.Model):
    """A business phone number of a WABA, with the state of its public-key registration on Meta."""

    class Quality(models.TextChoices):
        # Meta's own strings, so syncing needs no translation.
        GREEN = "GREEN", "High"
        YELLOW = "YELLOW", "Medium"
        RED = "RED", "Low"
        UNKNOWN = "UNKNOWN", "Unknown"

    class KeyStatus(models.TextChoices):
        PENDING = "PENDING", "Pending"
        REGISTERED = "REGISTERED", "Registered"
        FAILED = "FAILED", "Failed"

    waba = models.ForeignKey(Waba, on_delete=models.CASCADE, related_name="phone_numbers")
    meta_phone_number_id = models.CharField(
        "Meta phone number id", max_length=25, unique=True, validators=[meta_id_validator]
    )
    display_phone_number = models.CharField(
        "display number",
        max_length=25,
        validators=[
            RegexValidator(r"^\+?[0-9][0-9 ()-]{5,22}$", "Write the number like +1 555 0100.")
        ],
    )
    verified_name = models.CharField(max_length=120, blank=True)
    quality_rating = models.CharField(max_length=8, choices=Quality, default=Quality.UNKNOWN)
    throughput_mps = models.PositiveIntegerField(
        "messaging throughput (messages per second)", default=80
    )
    key_status = models.CharField(
        "public key registration", max_length=10, choices=KeyStatus, default=KeyStatus.PENDING
    )
    key_error = models.TextField("Meta's message", blank=True)
    key_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["display_phone_number"]

    def __str__(self) -> str:
        return self.display_phone_number

    def mark_key_registered(self) -> None:
        self.key_status = self.KeyStatus.REGISTERED
        self.key_error = ""
        self.key_checked_at = timezone.now()
        self.save(update_fields=["key_status", "key_error", "key_checked_at"])

    def mark_key_failed(self, message: str) -> None:
        self.key_status = self.KeyStatus.FAILED
        self.key_error = message
        self.key_checked_at = timezone.now()
        self.save(update_fields=["key_status", "key_error", "key_checked_at"])

    def mark_key_pending(self) -> None:
        self.key_status = self.KeyStatus.PENDING
        self.key_error = ""
        self.save(update_fields=["key_status", "key_error"])


class KeyPairImmutable(Exception):
    """A WABA's key pair never changes once created: Meta and live flows depend on it."""


class KeyPairQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise KeyPairImmutable("A key pair cannot be changed after it is created.")


class KeyPair(models.Model):
    """The RSA-2048 pair Meta uses to encrypt data-exchange requests for one WABA."""

    waba = models.OneToOneField(Waba, on_delete=models.CASCADE, related_name="key_pair")
    public_pem = models.TextField("public key")
    private_pem = EncryptedTextField("private key")
    fingerprint = models.CharField("SHA-256 fingerprint", max_length=95)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = KeyPairQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Key pair of {self.waba}"

    @classmethod
    def generate_for(cls, waba: Waba) -> KeyPair:
        pair = generate_key_pair()
        return cls.objects.create(
            waba=waba,
            public_pem=pair.public_pem,
            private_pem=pair.private_pem,
            fingerprint=public_key_fingerprint(pair.public_pem),
        )

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise KeyPairImmutable("A key pair cannot be changed after it is created.")
        super().save(*args, **kwargs)


class KeyAccessLog(models.Model):
    """Every attempt to reveal or download a private key: who, when, from where, and whether it worked."""

    class Action(models.TextChoices):
        REVEAL = "reveal", "Revealed"
        DOWNLOAD = "download", "Downloaded"

    waba = models.ForeignKey(Waba, on_delete=models.CASCADE, related_name="key_access_logs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    # Kept as text too, so the record survives the user's deletion.
    username = models.CharField(max_length=150)

    class Refusal(models.TextChoices):
        WRONG_PASSWORD = "wrong_password", "Refused: wrong password"
        TOO_MANY = "too_many", "Refused: too many wrong passwords"

    action = models.CharField(max_length=10, choices=Action)
    succeeded = models.BooleanField()
    # Why a refused attempt was refused; blank when allowed (and on rows from before it was kept).
    refusal = models.CharField(max_length=20, choices=Refusal, blank=True)
    ip_address = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]

    @property
    def what(self) -> str:
        """What happened, for the log: a refused attempt did not reveal or download anything."""
        if self.succeeded:
            return self.get_action_display()
        return "Tried to download" if self.action == self.Action.DOWNLOAD else "Tried to reveal"

    @property
    def result(self) -> str:
        if self.succeeded:
            return "Allowed"
        return self.get_refusal_display() if self.refusal else "Refused"


class SelectedWaba(models.Model):
    """The WABA a user works in, remembered between sessions."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="selected_waba"
    )
    waba = models.ForeignKey(Waba, on_delete=models.CASCADE, related_name="+")

    @classmethod
    def remember(cls, user: object, waba: Waba) -> None:
        cls.objects.update_or_create(user=user, defaults={"waba": waba})


class WebhookDeliveryQuerySet(models.QuerySet):
    def unfinished(self) -> WebhookDeliveryQuerySet:
        """Stored but not yet processed to the end (PROCESSING is only left by older versions)."""
        return self.filter(
            status__in=[WebhookDelivery.Status.RECEIVED, WebhookDelivery.Status.PROCESSING]
        )

    def stuck(self, now: datetime | None = None) -> WebhookDeliveryQuerySet:
        """Unfinished, and last queued longer ago than WEBHOOK_STUCK_SECONDS: its task was lost."""
        since = (now or timezone.now()) - timedelta(seconds=settings.WEBHOOK_STUCK_SECONDS)
        return self.unfinished().filter(
            Q(queued_at__lt=since) | Q(queued_at__isnull=True, received_at__lt=since)
        )

    def needing_attention(self) -> WebhookDeliveryQuerySet:
        """Failed, or stuck: what an admin should look at and may replay."""
        return self.filter(
            Q(status=WebhookDelivery.Status.FAILED) | Q(pk__in=self.stuck().values("pk"))
        )

    def mark_queued(self, pks: list[int]) -> int:
        """Note that a processing task was just queued for these deliveries."""
        return self.filter(pk__in=pks).update(queued_at=timezone.now())


class WebhookDelivery(models.Model):
    """One POST from Meta to our webhook, stored exactly as it came before anything else happens."""

    class Status(models.TextChoices):
        RECEIVED = "RECEIVED", "Received"
        PROCESSING = "PROCESSING", "Processing"
        PROCESSED = "PROCESSED", "Processed"
        FAILED = "FAILED", "Failed"

    waba = models.ForeignKey(Waba, null=True, on_delete=models.SET_NULL, related_name="+")
    # Meta re-delivers the very same body when it didn't get a 200 in time: the hash recognises it.
    body_sha256 = models.CharField(max_length=64, unique=True)
    body = models.BinaryField()
    signature = models.CharField(max_length=80)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.RECEIVED)
    fields = models.JSONField("change fields", default=list)
    result = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # When a processing task was last queued for it: the sweeper re-queues one left unfinished
    # for too long (a worker killed, Redis lost its queue), not one merely waiting in a long queue.
    queued_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"

    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")

    def finish(self, status: str, result: str) -> None:
        self.status = status
        self.result = result
        self.processed_at = timezone.now()
        self.save(update_fields=["status", "result", "processed_at", "fields"])

    def is_unfinished(self) -> bool:
        return self.status in (self.Status.RECEIVED, self.Status.PROCESSING)

    def is_stuck(self) -> bool:
        """Unfinished longer than WEBHOOK_STUCK_SECONDS since it was last queued (as `stuck()`)."""
        since = timezone.now() - timedelta(seconds=settings.WEBHOOK_STUCK_SECONDS)
        return self.is_unfinished() and (self.queued_at or self.received_at) < since

    def needs_attention(self) -> bool:
        return self.status == self.Status.FAILED or self.is_stuck()

    def can_replay(self) -> bool:
        """Failed, or unfinished (stuck): replaying runs it again; its handlers are idempotent."""
        return self.status == self.Status.FAILED or self.is_unfinished()

    def mark_for_replay(self) -> None:
        """Back to RECEIVED, about to be queued again; the earlier result is kept until it runs."""
        self.status = self.Status.RECEIVED
        self.queued_at = timezone.now()
        self.save(update_fields=["status", "queued_at"])
