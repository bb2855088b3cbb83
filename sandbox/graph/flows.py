"""The Graph API stand-in: Flows (create, clone, read, update, JSON assets, publish, deprecate, delete)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError
from django.urls import reverse

from .. import services
from ..models import Account, Flow, FlowStateError, meta_time
from ..services import move_flow, save_new_flow
from ..validation import FlowJsonSyntaxError, validate, version_tuple
from .core import (
    Call,
    GraphError,
    as_bool,
    as_list,
    flow_error,
    invalid,
    page,
    required,
    route,
    select,
)
from .numbers import waba_summary

FLOW_CATEGORIES = {
    "SIGN_UP", "SIGN_IN", "APPOINTMENT_BOOKING", "LEAD_GENERATION",
    "CONTACT_US", "CUSTOMER_SUPPORT", "SURVEY", "OTHER",
}  # fmt: skip
DEFAULT_FLOW_FIELDS = ["id", "name", "status", "categories", "validation_errors"]


def _categories(call: Call, *, required: bool) -> list[str] | None:
    value = call.params.get("categories")
    if value is None:
        if required:
            raise invalid("The parameter categories is required.")
        return None
    categories = as_list(value, "categories")
    if not categories:
        raise invalid("The parameter categories must list at least one category.")
    wrong = [c for c in categories if not isinstance(c, str) or c not in FLOW_CATEGORIES]
    if wrong:
        raise invalid(f"Invalid categories {wrong}; use {', '.join(sorted(FLOW_CATEGORIES))}.")
    return list(dict.fromkeys(categories))


def _endpoint_uri(call: Call) -> str | None:
    value = call.params.get("endpoint_uri")
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("The parameter endpoint_uri must be a URL.")
    try:
        # Meta wants HTTPS; the sandbox also takes http so a local endpoint can be used.
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise invalid("The parameter endpoint_uri must be an http(s) URL.") from None
    return value


# --- Flows ----------------------------------------------------------------------------------------


def _check_json(text: object) -> tuple[str, object]:
    """Flow JSON as text and Meta's verdict on it; syntax errors are refused with 139001."""
    if isinstance(text, dict | list):
        text = json.dumps(text, indent=2)
    if not isinstance(text, str):
        raise invalid("The parameter flow_json must be a string.")
    try:
        return text, validate(text)
    except FlowJsonSyntaxError as exc:
        raise GraphError(
            139001,
            "(#139001) Error while processing Flow JSON",
            title="Invalid Flow JSON",
            user_msg=f"The Flow JSON is not valid JSON: {exc}.",
            details=f"Invalid JSON: {exc}",
        ) from None


@route("waba", "flows", "POST")
def create_flow(call: Call, account: Account) -> dict:
    """POST /{waba-id}/flows: a new DRAFT, optionally with JSON (given or cloned) and published."""
    name = required(call, "name")
    categories = _categories(call, required=True)
    endpoint_uri = _endpoint_uri(call)
    given_json = call.params.get("flow_json")
    clone_id = call.params.get("clone_flow_id")
    if account.flows.filter(name=name).exists():
        raise _name_taken()
    source = None
    if clone_id:
        source = Flow.objects.filter(flow_id=str(clone_id)).select_related("account").first()
        if source is None or not call.owns(source.account):
            raise invalid(f"The flow {clone_id} to clone does not exist.")
    checked = None
    if given_json is not None:
        checked = _check_json(given_json)
    elif source is not None and source.flow_json:
        checked = _check_json(source.flow_json)
    flow = Flow(account=account, name=name, categories=categories, endpoint_uri=endpoint_uri or "")
    if source is not None and endpoint_uri is None:
        flow.endpoint_uri = source.endpoint_uri
    if checked:
        text, result = checked
        flow.set_json(
            text,
            errors=result.errors,
            version=result.version,
            data_api_version=result.data_api_version,
        )
    try:
        save_new_flow(flow)
    except IntegrityError:
        raise _name_taken() from None
    if as_bool(call.params.get("publish")) and checked:
        # Meta publishes only a flow that passes every check; otherwise it stays a draft.
        with contextlib.suppress(GraphError):
            publish_flow(call, flow)
    response: dict[str, object] = {"id": flow.flow_id}
    if given_json is not None:
        response |= {"success": True, "validation_errors": flow.validation_errors}
    return response


def _name_taken() -> GraphError:
    return GraphError(
        100,
        "(#100) Invalid parameter",
        title="Flow name is not unique",
        user_msg="Use a different name for your Flow.",
        details="Flow name is not unique",
    )


@route("waba", "flows", "GET")
def list_flows(call: Call, account: Account) -> dict:
    return page(
        call, account.flows.all(), lambda flow: _flow_fields(call, flow, DEFAULT_FLOW_FIELDS)
    )


@route("flow", "", "GET")
def get_flow(call: Call, flow: Flow) -> dict:
    return _flow_fields(call, flow, DEFAULT_FLOW_FIELDS)


def _flow_fields(call: Call, flow: Flow, default: list[str]) -> dict:
    account = flow.account
    endpoint_field = "endpoint_uri" if call.major_version >= 18 else "data_channel_uri"
    getters: dict[str, Callable[[dict], object]] = {
        "id": lambda m: flow.flow_id,
        "name": lambda m: flow.name,
        "status": lambda m: flow.status,
        "categories": lambda m: flow.categories,
        "validation_errors": lambda m: flow.validation_errors,
        "json_version": lambda m: flow.json_version or None,
        "data_api_version": lambda m: flow.data_api_version or None,
        endpoint_field: lambda m: flow.endpoint_uri or None,
        "preview": lambda m: flow.preview(
            call.absolute("/").rstrip("/"), invalidate=m.get("invalidate") == "true"
        ),
        "whatsapp_business_account": lambda m: waba_summary(account),
        "application": lambda m: (
            {"id": account.app_id, "name": "Sandbox app"} if account.app_id else None
        ),
        "health_status": lambda m: flow.health_status(),
        "updated_at": lambda m: meta_time(flow.updated_at),
    }
    return select(call, "flow", getters, default)


def _require(flow: Flow, action: str, code: int, title: str) -> None:
    try:
        flow.require(action)
    except FlowStateError:
        raise flow_error(code, title, _REFUSALS[action].format(status=flow.status)) from None


_REFUSALS = {
    "update": "Only draft flows can be updated; this flow is {status}.",
    "upload_json": "Only draft flows can be updated; this flow is {status}.",
    "publish": "Only draft flows can be published; this flow is {status}.",
    "deprecate": "Only published flows can be deprecated; this flow is {status}.",
    "delete": "Only draft flows can be deleted; this flow is {status}.",
}


@route("flow", "", "POST")
def update_flow(call: Call, flow: Flow) -> dict:
    """POST /{flow-id}: name, categories, endpoint_uri of a draft."""
    _require(flow, "update", 139001, "Flow can't be updated")
    name = call.params.get("name")
    categories = _categories(call, required=False)
    endpoint_uri = _endpoint_uri(call)
    if name is not None:
        name = required(call, "name")
        if flow.account.flows.filter(name=name).exclude(pk=flow.pk).exists():
            raise _name_taken()
        flow.name = name
    if categories is not None:
        flow.categories = categories
    if endpoint_uri is not None:
        if flow.json_version and version_tuple(flow.json_version) < (3, 0):
            raise flow_error(
                139001,
                "Flow can't be updated",
                "endpoint_uri can only be set for Flow JSON version 3.0 or newer.",
            )
        flow.endpoint_uri = endpoint_uri
    try:
        flow.save()
    except IntegrityError:
        raise _name_taken() from None
    return {"success": True}


@route("flow", "assets", "POST")
def upload_flow_json(call: Call, flow: Flow) -> dict:
    """POST /{flow-id}/assets: multipart file flow.json, asset_type FLOW_JSON; drafts only."""
    _require(flow, "upload_json", 139001, "Flow can't be updated")
    if call.params.get("asset_type") != "FLOW_JSON":
        raise invalid("The parameter asset_type must be FLOW_JSON.")
    if call.params.get("name", "flow.json") != "flow.json":
        raise invalid("The parameter name must be flow.json.")
    upload = call.request.FILES.get("file")
    if upload is None:
        raise invalid("The parameter file is required.")
    try:
        text = upload.read().decode("utf-8")
    except UnicodeDecodeError:
        raise flow_error(
            139001, "Invalid Flow JSON", "The Flow JSON file is not UTF-8 text."
        ) from None
    text, result = _check_json(text)
    flow.set_json(
        text, errors=result.errors, version=result.version, data_api_version=result.data_api_version
    )
    flow.save()
    return {"success": True, "validation_errors": result.errors}


@route("flow", "assets", "GET")
def list_flow_assets(call: Call, flow: Flow) -> dict:
    if not flow.flow_json:
        return {"data": []}
    url = call.absolute(reverse("sandbox:asset", args=[flow.asset_token]))
    return {"data": [{"name": "flow.json", "asset_type": "FLOW_JSON", "download_url": url}]}


@route("flow", "publish", "POST")
def publish_flow(call: Call, flow: Flow) -> dict:
    """POST /{flow-id}/publish: Meta's checks (services.publish_flow), refusals answered as 139002."""
    _require(flow, "publish", 139002, "Flow can't be published")
    try:
        services.publish_flow(flow)
    except services.PublishRefused as exc:
        raise flow_error(139002, "Flow can't be published", str(exc)) from None
    return {"success": True}


@route("flow", "deprecate", "POST")
def deprecate_flow(call: Call, flow: Flow) -> dict:
    _require(flow, "deprecate", 139003, "Flow can't be deprecated")
    move_flow(flow, Flow.Status.DEPRECATED)
    return {"success": True}


@route("flow", "", "DELETE")
def delete_flow(call: Call, flow: Flow) -> dict:
    _require(flow, "delete", 139004, "Flow can't be deleted")
    flow.delete()
    return {"success": True}
