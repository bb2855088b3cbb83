"""The `flows` field of Meta's webhooks: status changes and health alerts of our flows."""

from __future__ import annotations

from wabas.models import Waba

from .models import Flow
from .signals import flow_deprecated


def handle_flows_change(waba: Waba, value: dict) -> str:
    """Apply one flows webhook to the flow it names; returns what was done, for the delivery log."""
    event = value.get("event", "")
    flow_id = str(value.get("flow_id", ""))
    flow = Flow.objects.filter(waba=waba, meta_flow_id=flow_id).first() if flow_id else None
    if flow is None:
        return f"{event or 'event'} for unknown flow {flow_id!r}, kept and not applied."
    if event == "FLOW_STATUS_CHANGE":
        new_status = value.get("new_status", "")
        was = flow.status
        if value.get("warning"):
            # Meta may add a warning to a status change (what will happen next, e.g. a version
            # being frozen): a health alert the flow's page shows, even if the status is unknown.
            flow.record_alert(event, value)
        if not flow.apply_status_change(new_status, message=value.get("message", "")):
            return f"unknown status {new_status!r} for {flow.name}, kept and not applied."
        if new_status == Flow.Status.DEPRECATED and was != Flow.Status.DEPRECATED:
            # Deprecated on Meta (WhatsApp Manager, another tool): templates must drop it as when
            # it is deprecated from here (services.deprecate_flow sends the same signal).
            flow_deprecated.send(sender=Flow, flow=flow)
            return f"{flow.name} is now {new_status} and was removed from its templates."
        return f"{flow.name} is now {new_status}."
    if event:
        flow.record_alert(event, value)
        return f"{event} alert recorded on {flow.name}."
    return "no event in the change, kept and not applied."
