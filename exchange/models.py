"""The endpoint's problem records: what went wrong on a flow's hosted endpoint, kept for its page."""

from __future__ import annotations

from django.db import models

from flowsadmin.models import Flow


class EndpointError(models.Model):
    """Something that went wrong on a flow's hosted endpoint, for the flow's health.

    Recorded only after the request's signature checked out, so strangers can't fill the table.
    """

    class Kind(models.TextChoices):
        CLIENT_ERROR = "client_error", "Error reported by WhatsApp"
        UNDECRYPTABLE = "undecryptable", "Request could not be decrypted"
        INVALID_TOKEN = "invalid_token", "Invalid flow token"
        UNKNOWN_ACTION = "unknown_action", "Unknown action"
        NAVIGATION = "navigation", "Missing or unknown next screen"
        CUSTOMER_REFUSED = "customer_refused", "Customer endpoint address refused"
        CUSTOMER_UNREACHABLE = "customer_unreachable", "Customer endpoint unreachable"
        CUSTOMER_TIMEOUT = "customer_timeout", "Customer endpoint timed out"
        CUSTOMER_STATUS = "customer_status", "Customer endpoint answered with an error"
        CUSTOMER_INVALID = "customer_invalid", "Customer endpoint answer unusable"
        DATA_CONTRACT = "data_contract", "Data does not match the next screen's declaration"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="endpoint_errors")
    kind = models.CharField(max_length=20, choices=Kind)
    message = models.TextField()
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # Moved here from the audience app without moving its rows: the table keeps its name.
        db_table = "audience_endpointerror"
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"
