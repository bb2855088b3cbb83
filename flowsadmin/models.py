from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from wabas.models import Waba


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
    has_validation_errors = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name

    def data_exchange_url(self) -> str:
        """The URL Meta calls: ours for hosted flows, the user's own for a custom endpoint."""
        if self.endpoint == self.Endpoint.CUSTOM:
            return self.custom_endpoint_url
        # The endpoint itself is served under /meta/flows/ (DESIGN.md, public contracts).
        return f"{settings.PUBLIC_BASE_URL}/meta/flows/{self.public_id}/"
