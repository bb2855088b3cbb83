"""The Graph API stand-in: Meta's calls for Flows, keys, phone numbers, templates, uploads and messages.

One view (`graph`) takes every request under /sandbox/graph/<version>/ and answers JSON only, never a
500 of its own: it applies the fault knobs, checks the Bearer token, finds the object the first path
segment names, checks the token may use it, and routes (object kind, edge, method) to a handler.
Errors are raised as `GraphError` and answered in Meta's error shape (graph-api.md, section 2).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from . import services, tasks
from .models import (
    THROTTLED_SENDS_PER_HOUR,
    Account,
    Faults,
    Flow,
    FlowStateError,
    Message,
    PhoneNumber,
    Template,
    UploadSession,
    meta_time,
)
from .services import REVIEW_DELAY, STATUS_DELAY, move_flow, save_new_flow
from .validation import FlowJsonSyntaxError, validate, version_tuple

logger = logging.getLogger(__name__)

FLOW_CATEGORIES = {
    "SIGN_UP", "SIGN_IN", "APPOINTMENT_BOOKING", "LEAD_GENERATION",
    "CONTACT_US", "CUSTOMER_SUPPORT", "SURVEY", "OTHER",
}  # fmt: skip
TEMPLATE_CATEGORIES = {"MARKETING", "UTILITY", "AUTHENTICATION"}
UPLOAD_TYPES = {"application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4"}
TEMPLATES_PER_ACCOUNT = 250
DEFAULT_FLOW_FIELDS = ["id", "name", "status", "categories", "validation_errors"]


class GraphError(Exception):
    """A refusal in Meta's error shape; `code` is what clients build on, never the message."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        subcode: int | None = None,
        title: str = "",
        user_msg: str = "",
        details: str = "",
        transient: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.subcode = subcode
        self.title = title
        self.user_msg = user_msg
        self.details = details
        self.transient = transient
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        error: dict[str, object] = {
            "message": self.message,
            "type": "OAuthException",
            "code": self.code,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["is_transient"] = self.transient
        if self.title:
            error["error_user_title"] = self.title
        if self.user_msg:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
        response = JsonResponse({"error": error}, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def invalid(
    details: str, *, code: int = 100, status: int = 400, subcode: int | None = None
) -> GraphError:
    """A bad parameter: Meta names it in the message and in error_data.details."""
    return GraphError(
        code,
        f"(#{code}) {details}",
        status=status,
        subcode=subcode,
        title="Invalid parameter",
        user_msg=details,
        details=details,
    )


def flow_error(code: int, title: str, user_msg: str) -> GraphError:
    return GraphError(code, f"(#{code}) {title}", title=title, user_msg=user_msg, details=user_msg)


def unsupported(method: str, object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        subcode=33,
    )


# --- one call -------------------------------------------------------------------------------------


@dataclass
class Call:
    """One Graph request: who is calling, with what parameters, and what object it names."""

    request: HttpRequest
    version: str
    token: str
    accounts: list[Account] = field(default_factory=list)

    @property
    def method(self) -> str:
        return self.request.method or "GET"

    @cached_property
    def params(self) -> dict:
        """Query string and body together; JSON, form and multipart bodies are all accepted."""
        params: dict[str, object] = dict(self.request.GET.items())
        content_type = self.request.content_type or ""
        if content_type == "application/json" and self.request.body:
            try:
                body = json.loads(self.request.body)
            except ValueError:
                raise invalid("The request body is not valid JSON.") from None
            if not isinstance(body, dict):
                raise invalid("The request body must be a JSON object.")
            params.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            params.update(self.request.POST.items())
        params.pop("access_token", None)
        return params

    def owns(self, account: Account) -> bool:
        return constant_time_compare(account.access_token, self.token)

    def absolute(self, path: str) -> str:
        return self.request.build_absolute_uri(path)

    @property
    def major_version(self) -> int:
        return int(self.version[1:].split(".")[0])


def _token_of(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    # Meta's upload guide uses the OAuth scheme; everything else sends Bearer.
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    token = request.GET.get("access_token", "")
    if not token and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        token = request.POST.get("access_token", "")
    return token


def _authenticate(request: HttpRequest, version: str) -> Call:
    token = _token_of(request)
    if not token:
        raise GraphError(
            190, "An active access token must be used to query information.", status=401
        )
    call = Call(request=request, version=version, token=token)
    call.accounts = [account for account in Account.objects.all() if call.owns(account)]
    if not call.accounts:
        raise GraphError(190, "Invalid OAuth access token - Cannot parse access token", status=401)
    return call


# --- the view -------------------------------------------------------------------------------------


@csrf_exempt
@login_not_required
def graph(request: HttpRequest, version: str, path: str) -> JsonResponse:
    """Every Graph API call: knobs, token, object, access, handler; JSON in and out."""
    try:
        _apply_faults()
        call = _authenticate(request, version)
        return JsonResponse(_route(call, path))
    except GraphError as exc:
        return exc.response()
    except Exception:
        # A bug in the sandbox must still look like Meta to the client under test.
        logger.exception("Sandbox Graph API failed on %s %s", request.method, request.path)
        return GraphError(1, "An unknown error occurred", status=400).response()


@csrf_exempt
@login_not_required
def unknown_version(request: HttpRequest, path: str) -> JsonResponse:
    return GraphError(2500, f"Unknown path components: /{path}").response()


def _apply_faults() -> None:
    faults = Faults.current()
    if faults.latency_ms:
        time.sleep(faults.latency_ms / 1000)
    if random.random() < faults.error_rate:  # a knob, not a secret: no need for secrets
        raise GraphError(
            2,
            "An unexpected error has occurred. Please retry your request later.",
            status=500,
            transient=True,
        )
    if random.random() < faults.throttle_rate:
        raise GraphError(
            80007,
            "(#80007) Rate limit hit for this WhatsApp Business Account. Try again later.",
            status=429,
            transient=True,
            headers={"Retry-After": "1"},
        )


Handler = Callable[[Call, object], dict]
ROUTES: dict[tuple[str, str, str], Handler] = {}
NODE_TYPES = {
    "waba": "WhatsAppBusinessAccount",
    "phone": "WhatsAppBusinessPhoneNumber",
    "flow": "WhatsAppFlow",
    "template": "WhatsAppMessageTemplate",
    "app": "Application",
    "upload": "UploadSession",
}


def route(kind: str, edge: str, method: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES[(kind, edge, method)] = handler
        return handler

    return register


def _route(call: Call, path: str) -> dict:
    parts = [part for part in path.split("/") if part]
    if not parts:
        raise unsupported(call.method, "")
    object_id = parts[0]
    if len(parts) > 2:
        raise GraphError(2500, f"Unknown path components: /{'/'.join(parts[1:])}")
    edge = parts[1] if len(parts) == 2 else ""
    kind, node = _find(call, object_id)
    handler = ROUTES.get((kind, edge, call.method))
    if handler is None:
        if edge and not any(k == kind and e == edge for k, e, _ in ROUTES):
            raise GraphError(
                100,
                f"(#100) Tried accessing nonexisting field ({edge}) on node type ({NODE_TYPES[kind]})",
            )
        raise unsupported(call.method, object_id)
    return handler(call, node)


def _find(call: Call, object_id: str) -> tuple[str, object]:
    """The object an id names, checked against the caller's token (403 when it is someone else's)."""
    found: tuple[str, object, Account] | None = None
    if object_id.startswith("upload:"):
        session = (
            UploadSession.objects.select_related("account")
            .filter(token=object_id.removeprefix("upload:"))
            .first()
        )
        # The ?sig= part of the session id arrives as a query parameter.
        signed = session and constant_time_compare(
            call.request.GET.get("sig", ""), session.signature
        )
        found = ("upload", session, session.account) if signed else None
    elif account := Account.objects.filter(waba_id=object_id).first():
        found = ("waba", account, account)
    elif (
        phone := PhoneNumber.objects.select_related("account")
        .filter(phone_number_id=object_id)
        .first()
    ):
        found = ("phone", phone, phone.account)
    elif flow := Flow.objects.select_related("account").filter(flow_id=object_id).first():
        found = ("flow", flow, flow.account)
    elif (
        template := Template.objects.select_related("account").filter(template_id=object_id).first()
    ):
        found = ("template", template, template.account)
    elif app_accounts := list(Account.objects.filter(app_id=object_id)):
        # One Meta app may serve several WABAs: the caller's own one, if any.
        mine = [a for a in app_accounts if call.owns(a)]
        found = ("app", (mine or app_accounts)[0], (mine or app_accounts)[0])
    if found is None:
        raise unsupported(call.method, object_id)
    kind, node, account = found
    if not call.owns(account):
        if kind in ("phone", "upload"):
            raise GraphError(
                10, "(#10) Application does not have permission for this action", status=403
            )
        raise GraphError(200, "(#200) Permissions error", status=403)
    return kind, node


# --- parameters -----------------------------------------------------------------------------------


def _required(call: Call, name: str) -> str:
    value = call.params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid(f"The parameter {name} is required.")
    if not isinstance(value, str):
        raise invalid(f"The parameter {name} must be a string.")
    return value.strip()


def _list(value: object, name: str) -> list:
    """A list parameter: a JSON array, a JSON-encoded string (form bodies) or comma-separated text."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                raise invalid(f"The parameter {name} is not a valid JSON array.") from None
            if isinstance(parsed, list):
                return parsed
        return [part.strip() for part in text.split(",") if part.strip()]
    raise invalid(f"The parameter {name} must be an array.")


def _categories(call: Call, *, required: bool) -> list[str] | None:
    value = call.params.get("categories")
    if value is None:
        if required:
            raise invalid("The parameter categories is required.")
        return None
    categories = _list(value, "categories")
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


def _bool(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _fields(call: Call, default: list[str]) -> dict[str, dict[str, str]]:
    """?fields=a,b,preview.invalidate(true) as {name: {modifier: argument}}."""
    raw = call.params.get("fields")
    if not isinstance(raw, str) or not raw.strip():
        return {name: {} for name in default}
    items, depth, current = [], 0, ""
    for ch in raw:
        depth += ch in "({"
        depth -= ch in ")}"
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    items.append(current)
    selected: dict[str, dict[str, str]] = {}
    for item in items:
        match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)(.*)", item)
        if match:
            selected[match.group(1)] = dict(re.findall(r"\.(\w+)\(([^)]*)\)", match.group(2)))
    return selected


def _select(
    call: Call, kind: str, getters: dict[str, Callable[[dict], object]], default: list[str]
) -> dict:
    """Render the requested fields of a node; `id` always comes first, as on Meta."""
    selected = _fields(call, default)
    result = {"id": getters["id"]({})}
    for name, modifiers in selected.items():
        getter = getters.get(name)
        if getter is None:
            raise GraphError(
                100,
                f"(#100) Tried accessing nonexisting field ({name}) on node type ({NODE_TYPES[kind]})",
            )
        value = getter(modifiers)
        if value is not None:
            result[name] = value
    return result


def _encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"sandbox:{pk}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, pk = text.partition(":")
        if prefix != "sandbox":
            raise ValueError(cursor)
        return int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("Invalid cursor.") from None


def _page(call: Call, queryset: object, render: Callable[[object], dict]) -> dict:
    """Meta's paging: limit, after and before cursors, and a `next` link while more items exist."""
    try:
        limit = min(max(int(call.params.get("limit", 25)), 1), 100)
    except (TypeError, ValueError):
        raise invalid("The parameter limit must be a number.") from None
    after, before = call.params.get("after"), call.params.get("before")
    queryset = queryset.order_by("pk")
    if isinstance(after, str) and after:
        items = list(queryset.filter(pk__gt=_decode_cursor(after))[: limit + 1])
        more_after, more_before = len(items) > limit, True
        items = items[:limit]
    elif isinstance(before, str) and before:
        items = list(queryset.filter(pk__lt=_decode_cursor(before)).order_by("-pk")[: limit + 1])
        more_after, more_before = True, len(items) > limit
        items = list(reversed(items[:limit]))
    else:
        items = list(queryset[: limit + 1])
        more_after, more_before = len(items) > limit, False
        items = items[:limit]
    result: dict[str, object] = {"data": [render(item) for item in items]}
    if items:
        cursors = {"before": _encode_cursor(items[0].pk), "after": _encode_cursor(items[-1].pk)}
        paging: dict[str, object] = {"cursors": cursors}
        query = {
            k: v
            for k, v in call.request.GET.items()
            if k not in ("after", "before", "access_token")
        }
        base = call.absolute(call.request.path)
        if more_after:
            paging["next"] = (
                f"{base}?{urlencode(query | {'limit': limit, 'after': cursors['after']})}"
            )
        if more_before:
            paging["previous"] = (
                f"{base}?{urlencode(query | {'limit': limit, 'before': cursors['before']})}"
            )
        result["paging"] = paging
    return result


# --- WABA -----------------------------------------------------------------------------------------


def _waba_summary(account: Account) -> dict:
    return {
        "id": account.waba_id,
        "name": account.name,
        "timezone_id": "1",
        "message_template_namespace": account.template_namespace,
    }


@route("waba", "", "GET")
def get_waba(call: Call, account: Account) -> dict:
    summary = _waba_summary(account)
    getters = {name: (lambda m, v=value: v) for name, value in summary.items()}
    return _select(call, "waba", getters, list(summary))


@route("waba", "phone_numbers", "GET")
def list_phone_numbers(call: Call, account: Account) -> dict:
    return _page(call, account.phone_numbers.all(), lambda phone: _phone_fields(call, phone))


def _phone_fields(call: Call, phone: PhoneNumber) -> dict:
    full = {
        "id": phone.phone_number_id,
        "display_phone_number": phone.display_phone_number,
        "verified_name": phone.verified_name,
        "code_verification_status": "VERIFIED",
        "quality_rating": phone.quality_rating,
        "platform_type": "CLOUD_API",
        "throughput": {"level": phone.throughput_level},
    }
    getters = {name: (lambda m, v=value: v) for name, value in full.items()}
    return _select(call, "phone", getters, list(full))


@route("waba", "subscribed_apps", "GET")
def list_subscribed_apps(call: Call, account: Account) -> dict:
    app = {
        "id": account.app_id or "0",
        "name": "Sandbox app",
        "link": call.absolute(reverse("sandbox:home")),
    }
    return {"data": [{"whatsapp_business_api_data": app}]}


@route("waba", "subscribed_apps", "POST")
@route("waba", "subscribed_apps", "DELETE")
def change_subscription(call: Call, account: Account) -> dict:
    # Every account's webhooks go to its callback URL; the subscription itself is not modelled.
    return {"success": True}


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
    name = _required(call, "name")
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
    if _bool(call.params.get("publish")) and checked:
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
    return _page(
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
        "whatsapp_business_account": lambda m: _waba_summary(account),
        "application": lambda m: (
            {"id": account.app_id, "name": "Sandbox app"} if account.app_id else None
        ),
        "health_status": lambda m: flow.health_status(),
        "updated_at": lambda m: meta_time(flow.updated_at),
    }
    return _select(call, "flow", getters, default)


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
        name = _required(call, "name")
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


# --- Encryption key -------------------------------------------------------------------------------


@route("phone", "", "GET")
def get_phone(call: Call, phone: PhoneNumber) -> dict:
    return _phone_fields(call, phone)


@route("phone", "whatsapp_business_encryption", "POST")
def set_public_key(call: Call, phone: PhoneNumber) -> dict:
    """POST /{phone-number-id}/whatsapp_business_encryption with business_public_key (PEM, RSA-2048)."""
    _required(call, "business_public_key")
    pem = call.params["business_public_key"]
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:
        raise invalid("Param business_public_key is an invalid 2048-bit PEM key.")
    phone.store_public_key(pem)
    return {"success": True}


@route("phone", "whatsapp_business_encryption", "GET")
def get_public_key(call: Call, phone: PhoneNumber) -> dict:
    if not phone.business_public_key:
        return {"data": []}
    return {
        "data": [
            {
                "business_public_key": phone.business_public_key,
                "business_public_key_signature_status": "VALID",
            }
        ]
    }


# --- Templates ------------------------------------------------------------------------------------


def _template_fields(call: Call, template: Template) -> dict:
    full = {
        "id": template.template_id,
        "name": template.name,
        "status": template.status,
        "category": template.category,
        "language": template.language,
        "parameter_format": template.parameter_format,
        "components": template.components,
        "rejected_reason": template.rejected_reason,
    }
    getters = {name: (lambda m, v=value: v) for name, value in full.items()}
    return _select(call, "template", getters, list(full))


@route("waba", "message_templates", "GET")
def list_templates(call: Call, account: Account) -> dict:
    templates = account.templates.all()
    for name in ("name", "status", "category", "language"):
        if value := call.params.get(name):
            templates = templates.filter(**{name: value})
    return _page(call, templates, lambda template: _template_fields(call, template))


@route("template", "", "GET")
def get_template(call: Call, template: Template) -> dict:
    return _template_fields(call, template)


@route("waba", "message_templates", "POST")
def create_template(call: Call, account: Account) -> dict:
    """POST /{waba-id}/message_templates: checked, stored PENDING, reviewed by a task shortly after."""
    name = _required(call, "name")
    if not re.fullmatch(r"[a-z0-9_]{1,512}", name):
        raise invalid(
            "The template name may contain only lowercase letters, numbers and underscores."
        )
    category = _required(call, "category").upper()
    if category not in TEMPLATE_CATEGORIES:
        raise invalid(f"Invalid category {category}; use MARKETING, UTILITY or AUTHENTICATION.")
    language = _required(call, "language")
    if not re.fullmatch(r"[a-z]{2,3}(_[A-Za-z]{2,4})?", language):
        raise invalid(f"Invalid language code {language}.")
    parameter_format = str(call.params.get("parameter_format") or "POSITIONAL").upper()
    if parameter_format not in ("POSITIONAL", "NAMED"):
        raise invalid("The parameter parameter_format must be POSITIONAL or NAMED.")
    components = _template_components(call, account)
    if account.templates.filter(name=name, language=language).exists():
        raise invalid(
            f"Content in {language} already exists for the template {name}.", subcode=2388024
        )
    if account.templates.count() >= TEMPLATES_PER_ACCOUNT:
        raise invalid("Template count limit of 250 reached.", subcode=2388019)
    try:
        with transaction.atomic():
            template = Template.objects.create(
                account=account,
                name=name,
                language=language,
                category=category,
                parameter_format=parameter_format,
                components=components,
            )
            tasks.review_template_task.apply_async_on_commit((template.pk,), countdown=REVIEW_DELAY)
    except IntegrityError:
        raise invalid(
            f"Content in {language} already exists for the template {name}.", subcode=2388024
        ) from None
    return {"id": template.template_id, "status": template.status, "category": template.category}


def _template_components(call: Call, account: Account) -> list[dict]:
    """Meta's basic component rules: one BODY, text limits, and FLOW buttons that name a live flow."""
    components = call.params.get("components")
    if isinstance(components, str):
        components = _list(components, "components")
    if not isinstance(components, list) or not components:
        raise invalid("The parameter components is required.")
    kinds = [str(c.get("type", "")).upper() if isinstance(c, dict) else "" for c in components]
    if any(kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS") for kind in kinds):
        raise invalid("Each component needs a type: HEADER, BODY, FOOTER or BUTTONS.")
    if kinds.count("BODY") != 1:
        raise invalid("A template needs exactly one BODY component.")
    for kind, component in zip(kinds, components, strict=True):
        limit = {"BODY": 1024, "FOOTER": 60, "HEADER": 60}.get(kind)
        text = component.get("text")
        if kind == "BODY" and (not isinstance(text, str) or not text.strip()):
            raise invalid("The BODY component needs text.")
        if limit and isinstance(text, str) and len(text) > limit:
            raise invalid(f"The {kind} text is longer than {limit} characters.", subcode=2388040)
        if kind == "BUTTONS":
            buttons = component.get("buttons")
            if not isinstance(buttons, list) or not buttons or len(buttons) > 10:
                raise invalid("BUTTONS needs between 1 and 10 buttons.")
            for button in buttons:
                if isinstance(button, dict) and str(button.get("type", "")).upper() == "FLOW":
                    _check_flow_button(button, account)
    return components


def _check_flow_button(button: dict, account: Account) -> None:
    """A FLOW button names a published flow of this WABA (by id or name, resolved to the id)."""
    text = button.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > 25:
        raise invalid("A FLOW button needs text of at most 25 characters.")
    if button.get("flow_json"):
        return  # Meta would create the flow itself; the sandbox takes it as given.
    if button.get("flow_id"):
        flow = account.flows.filter(flow_id=str(button["flow_id"])).first()
    elif button.get("flow_name"):
        flow = account.flows.filter(name=str(button["flow_name"])).first()
    else:
        raise invalid("A FLOW button needs flow_id, flow_name or flow_json.")
    if flow is None:
        raise invalid(
            "The FLOW button names a flow that does not exist in this WhatsApp Business Account."
        )
    if flow.status not in (Flow.Status.PUBLISHED, Flow.Status.THROTTLED):
        raise invalid(
            f"The FLOW button's flow is {flow.status}; only published flows can be attached."
        )
    button["flow_id"] = flow.flow_id


@route("waba", "message_templates", "DELETE")
def delete_templates(call: Call, account: Account) -> dict:
    """DELETE /{waba-id}/message_templates?name=..: every language of it, or one with hsm_id."""
    name = _required(call, "name")
    templates = account.templates.filter(name=name)
    if hsm_id := call.params.get("hsm_id"):
        templates = templates.filter(template_id=str(hsm_id))
    if not templates.exists():
        raise invalid(f"Message template {name} was not found.", subcode=2593002)
    templates.delete()
    return {"success": True}


# --- Resumable upload -----------------------------------------------------------------------------


@route("app", "uploads", "POST")
def create_upload(call: Call, account: Account) -> dict:
    """POST /{app-id}/uploads?file_name&file_length&file_type: a new session id."""
    file_name = _required(call, "file_name")
    try:
        file_length = int(call.params.get("file_length", ""))
    except (TypeError, ValueError):
        raise invalid("The parameter file_length must be a number of bytes.") from None
    if file_length <= 0:
        raise invalid("The parameter file_length must be positive.")
    file_type = _required(call, "file_type")
    if file_type not in UPLOAD_TYPES:
        raise invalid(f"The parameter file_type must be one of {', '.join(sorted(UPLOAD_TYPES))}.")
    session = UploadSession.objects.create(
        account=account, file_name=file_name, file_length=file_length, file_type=file_type
    )
    return {"id": session.session_id}


@route("upload", "", "GET")
def get_upload(call: Call, session: UploadSession) -> dict:
    return {"id": session.session_id, "file_offset": session.file_offset}


@route("upload", "", "POST")
def continue_upload(call: Call, session: UploadSession) -> dict:
    """POST /upload:<id> with the file_offset header and raw bytes; the handle once all arrived.

    Django's server and gunicorn drop header names with underscores, so `file_offset` is also read
    as `file-offset` or from the query string; without any, the bytes continue where the session is.
    """
    raw = (
        call.request.headers.get("file_offset")
        or call.request.headers.get("file-offset")
        or call.request.GET.get("file_offset")
    )
    try:
        offset = int(raw) if raw is not None else session.file_offset
    except ValueError:
        raise invalid("The file_offset header must be a number.") from None
    if offset != session.file_offset:
        raise invalid(f"The file_offset must be {session.file_offset}, where the upload stands.")
    # Read the stream directly: request.body caps bodies at DATA_UPLOAD_MAX_MEMORY_SIZE.
    chunk = call.request.read(session.file_length - offset + 1)
    if offset + len(chunk) > session.file_length:
        raise invalid("More bytes were sent than file_length announced.")
    session.data = bytes(session.data) + chunk
    if session.file_offset == session.file_length and not session.handle:
        kind = base64.b64encode(session.file_type.encode()).decode()
        session.handle = f"4::{kind}:{secrets.token_urlsafe(32)}"
    session.save(update_fields=["data", "handle"])
    if session.handle:
        return {"h": session.handle}
    return {"id": session.session_id, "file_offset": session.file_offset}


# --- Messages -------------------------------------------------------------------------------------


@route("phone", "messages", "POST")
def send_message(call: Call, phone: PhoneNumber) -> dict:
    """POST /{phone-number-id}/messages: template messages; statuses follow by webhook."""
    params = call.params
    if params.get("messaging_product") != "whatsapp":
        raise invalid("The parameter messaging_product is required and must be whatsapp.")
    to = params.get("to")
    if not to:
        raise invalid("The parameter to is required.", code=131008)
    wa_id = re.sub(r"[\s()+-]", "", str(to))
    if not re.fullmatch(r"[0-9]{6,15}", wa_id):
        raise invalid(f"The recipient {to} is not a valid phone number.", code=131009)
    if params.get("type", "text") != "template":
        raise invalid("The sandbox sends template messages only (type template).", code=131009)
    spec = params.get("template")
    name = spec.get("name") if isinstance(spec, dict) else None
    if not isinstance(name, str) or not name:
        raise invalid("The parameter template.name is required.", code=131008)
    language = spec.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    code = code if isinstance(code, str) else ""
    template = phone.account.templates.filter(name=name, language=code).first()
    if template is None or template.status != Template.Status.APPROVED:
        raise GraphError(
            132001,
            "(#132001) Template name does not exist in the translation",
            status=404,
            details=f"template name ({name}) does not exist in {code or 'the given language'}"
            if template is None
            else f"template name ({name}) is {template.status}, not APPROVED",
        )
    flow = _check_sendable_flow(template)
    with transaction.atomic():
        message = Message.objects.create(
            phone=phone,
            wamid=Message.new_wamid(),
            to=wa_id,
            template=template,
            template_name=template.name,
            flow=flow,
            payload=params,
        )
        tasks.advance_message_task.apply_async_on_commit((message.pk,), countdown=STATUS_DELAY)
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": str(to), "wa_id": wa_id}],
        "messages": [{"id": message.wamid, "message_status": "accepted"}],
    }


def _check_sendable_flow(template: Template) -> Flow | None:
    """The flow behind a template's FLOW button, if it may still be sent (132068, 132069)."""
    flow = Flow.objects.filter(flow_id__in=template.flow_ids()).first()
    if flow is None:
        return None
    if flow.status in (Flow.Status.BLOCKED, Flow.Status.DEPRECATED):
        raise GraphError(
            132068,
            "(#132068) Flow is in blocked state",
            details=f"The flow {flow.flow_id} is {flow.status} and cannot be sent.",
        )
    if flow.status == Flow.Status.THROTTLED:
        since = timezone.now() - timedelta(hours=1)
        if flow.messages.filter(created_at__gte=since).count() >= THROTTLED_SENDS_PER_HOUR:
            raise GraphError(
                132069,
                "(#132069) Flow is in throttled state",
                details="10 messages using this flow were already sent in the last hour",
            )
    return flow
