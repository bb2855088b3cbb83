"""Writes about flows: local checks first, Meta outside any transaction, then the local change and its audit row."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from wabas.graph import GraphClient, MetaError, SentMessage

from . import flowjson
from .models import Flow, FlowActionNotAllowed, FlowChange, FlowRevision
from .signals import flow_deprecated
from .tokens import issue_flow_token


class StaleFlow(Exception):
    """Someone else saved the flow after this copy was opened; nothing was overwritten."""


class FlowNotReady(Exception):
    """The flow can't go to Meta as it is; the message says what to fix."""


@dataclass(frozen=True)
class FlowFields:
    name: str
    categories: list[str]
    endpoint: str
    custom_endpoint_url: str
    customer_endpoint_url: str
    flow_json: str
    requires_our_token: bool = False


def report_messages(report: flowjson.Report) -> list[dict]:
    """Our validation messages in text order, as stored on the flow and drawn under the editor."""
    return [m.as_dict() for m in report.messages]


def save_flow(
    flow: Flow, fields: FlowFields, *, by: object, lock_version: int | None, client: GraphClient
) -> Flow:
    """Save a new or draft flow locally (with a revision), then create or update it on Meta.

    The local save always happens, so nothing typed is lost; a Meta failure is recorded on the flow
    (meta_sync_error) and the flow is only marked as on Meta once Meta gave it an id.
    Raises StaleFlow when lock_version is not the flow's current one.
    """
    if flow.pk:
        flow.require("update_json")
    report = flowjson.validate(fields.flow_json)
    creating = not flow.pk
    json_changed = creating or fields.flow_json != flow.flow_json
    with transaction.atomic():
        if not creating:
            # Claim the edit: only one save based on this version can win.
            won = Flow.objects.filter(pk=flow.pk, lock_version=lock_version).update(
                lock_version=F("lock_version") + 1
            )
            if not won:
                if _already_saved(flow.pk, fields):
                    # The very content was saved a moment ago (a double-clicked Save, a resent
                    # form): that is not someone else's change, and there is nothing more to do.
                    flow.refresh_from_db()
                    return flow
                raise StaleFlow(
                    "This flow was changed by someone else since you opened it. Your text is below; reload to see theirs."
                )
            flow.lock_version = lock_version + 1
        for field in dataclasses.fields(fields):
            setattr(flow, field.name, getattr(fields, field.name))
        flow.local_messages = report_messages(report)
        flow.has_validation_errors = bool(report.errors or flow.meta_validation_errors)
        if creating:
            flow.created_by = by
        flow.save()
        if json_changed:
            number = (
                flow.revisions.order_by("-number").values_list("number", flat=True).first() or 0
            ) + 1
            FlowRevision.objects.create(
                flow=flow, number=number, flow_json=flow.flow_json, created_by=by
            )
        FlowChange.objects.create(flow=flow, user=by, action="create" if creating else "update")
    _push_to_meta(flow, report, client=client)
    return flow


def _already_saved(pk: int, fields: FlowFields) -> bool:
    current = Flow.objects.get(pk=pk)
    return all(
        getattr(current, f.name) == getattr(fields, f.name) for f in dataclasses.fields(fields)
    )


def _push_to_meta(flow: Flow, report: flowjson.Report, *, client: GraphClient) -> None:
    """Create the flow on Meta if it isn't there yet, then send its metadata and JSON."""
    if report.data is None:
        _record_sync(flow, "the JSON has a syntax error; fix it and save again.")
        return
    endpoint_uri = flow.data_exchange_url() if report.data.get("data_api_version") else None
    try:
        if not flow.meta_flow_id:
            created = client.create_flow(
                flow.waba.meta_waba_id,
                name=flow.name,
                categories=flow.categories,
                endpoint_uri=endpoint_uri,
            )
            flow.meta_flow_id = created["id"]
            flow.save(update_fields=["meta_flow_id"])
        else:
            client.update_flow_metadata(
                flow.meta_flow_id,
                name=flow.name,
                categories=flow.categories,
                endpoint_uri=endpoint_uri,
            )
        meta_errors = client.upload_flow_json(flow.meta_flow_id, flow.flow_json)
    except MetaError as exc:
        _record_sync(flow, str(exc))
        return
    flow.meta_validation_errors = meta_errors
    flow.has_validation_errors = bool(report.errors or meta_errors)
    flow.meta_sync_error = ""
    flow.save(update_fields=["meta_validation_errors", "has_validation_errors", "meta_sync_error"])


def _record_sync(flow: Flow, message: str) -> None:
    flow.meta_sync_error = message
    flow.save(update_fields=["meta_sync_error"])


def publish_flow(flow: Flow, *, by: object, client: GraphClient) -> Flow:
    """Publish on Meta. Raises FlowActionNotAllowed, FlowNotReady or MetaError; nothing changes then."""
    flow.require("publish")
    report = flowjson.validate(flow.flow_json)
    if not flow.meta_flow_id or flow.meta_sync_error:
        raise FlowNotReady(
            "Save the flow to Meta first: " + (flow.meta_sync_error or "it is not on Meta yet.")
        )
    if report.errors:
        raise FlowNotReady(f"Fix the {len(report.errors)} validation error(s) before publishing.")
    if report.version and not flowjson.is_publishable(report.version):
        raise FlowNotReady(
            f"Flow JSON version {report.version} is frozen by Meta: move to a current version to publish."
        )
    client.publish_flow(flow.meta_flow_id)
    with transaction.atomic():
        flow.mark_published()
        FlowChange.objects.create(flow=flow, user=by, action="publish")
    return flow


def deprecate_flow(flow: Flow, *, by: object, client: GraphClient) -> Flow:
    """Deprecate on Meta (irreversible), then detach the flow from every template that uses it."""
    flow.require("deprecate")
    client.deprecate_flow(flow.meta_flow_id)
    # Meta's FLOW_STATUS_CHANGE webhook may have beaten its answer here and detached the templates
    # already (flowsadmin/webhooks.py): then the signal has been sent once, and once is enough.
    heard = Flow.objects.filter(pk=flow.pk, status=Flow.Status.DEPRECATED).exists()
    with transaction.atomic():
        flow.mark_deprecated()
        FlowChange.objects.create(flow=flow, user=by, action="deprecate")
    if not heard:
        flow_deprecated.send(sender=Flow, flow=flow)
    return flow


def delete_flow(flow: Flow, *, by: object, client: GraphClient) -> None:
    """Delete a draft on Meta and here."""
    flow.require("delete")
    if flow.meta_flow_id:
        client.delete_flow(flow.meta_flow_id)
    flow.delete()


def refresh_flow(flow: Flow, *, client: GraphClient) -> Flow:
    """Pull status, validation errors, preview link and health from Meta onto the flow."""
    if flow.meta_flow_id:
        was = flow.status
        flow.apply_meta_state(client.get_flow(flow.meta_flow_id))
        if flow.status == Flow.Status.DEPRECATED and was != Flow.Status.DEPRECATED:
            # Deprecated on Meta and we missed the webhook: detach it from templates all the same.
            flow_deprecated.send(sender=Flow, flow=flow)
    return flow


def update_endpoint_settings(
    flow: Flow, *, customer_endpoint_url: str, requires_our_token: bool, by: object
) -> Flow:
    """Change what our hosted endpoint does for the flow (ours only: Meta never sees it)."""
    flow.require("update_endpoint")
    with transaction.atomic():
        flow.customer_endpoint_url = customer_endpoint_url
        flow.requires_our_token = requires_our_token
        flow.save(update_fields=["customer_endpoint_url", "requires_our_token", "updated_at"])
        tokens = "only our flow tokens" if requires_our_token else "any flow token"
        detail = f"{customer_endpoint_url or 'no customer endpoint'}; {tokens}"
        FlowChange.objects.create(flow=flow, user=by, action="update_endpoint", detail=detail)
    return flow


def clone_flow(flow: Flow, *, by: object, client: GraphClient) -> Flow:
    """Copy a flow into a new draft, here and on Meta."""
    flow.require("clone")
    fields = FlowFields(
        name=f"Copy of {flow.name}"[:200],
        categories=flow.categories,
        endpoint=flow.endpoint,
        custom_endpoint_url=flow.custom_endpoint_url,
        customer_endpoint_url=flow.customer_endpoint_url,
        flow_json=flow.flow_json,
        requires_our_token=flow.requires_our_token,
    )
    return save_flow(Flow(waba=flow.waba), fields, by=by, lock_version=None, client=client)


__all__ = ["FlowActionNotAllowed", "FlowFields", "FlowNotReady", "StaleFlow"]


class CannotSend(Exception):
    """A flow message we won't ask Meta to send, with the reason in words."""


def send_flow_message(
    flow: Flow, *, to: str, by: object, client: GraphClient, cta: str = "Open the flow"
) -> SentMessage:
    """Send the flow to one number as an interactive Flow message, for testing before publishing.

    A DRAFT goes in mode draft (the only way Meta sends one). A flow with an endpoint opens with
    data_exchange (the endpoint's INIT answers the first screen); a static one on its first screen
    with the __example__ values that screen declares. The token is ours, naming the number.
    Raises CannotSend before any Meta call, MetaError when Meta refuses.
    """
    if not flow.meta_flow_id:
        raise CannotSend("The flow is not on Meta yet: save it first.")
    if flow.status not in (Flow.Status.DRAFT, Flow.Status.PUBLISHED, Flow.Status.THROTTLED):
        raise CannotSend(f"A {flow.get_status_display().lower()} flow can't be sent.")
    phone = flow.waba.phone_numbers.order_by("pk").first()
    if phone is None:
        raise CannotSend("The WABA has no phone number to send from: add one in Settings › WABAs.")
    report = flowjson.validate(flow.flow_json)
    document = report.data or {}
    endpoint = "data_api_version" in document
    screen, data = (None, None) if endpoint else _first_screen_examples(document)
    sent = client.send_flow_message(
        phone.meta_phone_number_id,
        to=to,
        flow_id=flow.meta_flow_id,
        flow_cta=cta,
        body=f"Test of {flow.name}"[:1024],
        flow_token=issue_flow_token(whatsapp_id=to, flow=flow),
        mode="draft" if flow.status == Flow.Status.DRAFT else "published",
        flow_action="data_exchange" if endpoint else "navigate",
        screen=screen,
        data=data,
    )
    FlowChange.objects.create(flow=flow, user=by, action="send_message", detail=f"to {to}")
    return sent


def _first_screen_examples(document: dict) -> tuple[str | None, dict | None]:
    """The first screen's id and its declared data filled with the __example__ values."""
    screens = document.get("screens")
    first = screens[0] if isinstance(screens, list) and screens else None
    if not isinstance(first, dict):
        return None, None
    declared = first.get("data") if isinstance(first.get("data"), dict) else {}
    data = {
        key: decl["__example__"]
        for key, decl in declared.items()
        if isinstance(decl, dict) and "__example__" in decl
    }
    return first.get("id"), data or None
