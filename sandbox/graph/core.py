"""The Graph API stand-in's request plumbing: errors, the call, auth, routing, parameters and paging.

One view (`graph`) takes every request under /sandbox/graph/<version>/ and answers JSON only, never a
500 of its own: it applies the fault knobs, checks the Bearer token, finds the object the first path
segment names, checks the token may use it, and routes (object kind, edge, method) to a handler that
one of the sibling modules registered with `@route`. Errors are raised as `GraphError` and answered in
Meta's error shape (https://developers.facebook.com/docs/graph-api/guides/error-handling).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from ..models import Account, Faults, Flow, PhoneNumber, Template, UploadSession

logger = logging.getLogger(__name__)


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


def refusal(title: str, user_msg: str, *, subcode: int | None = None) -> GraphError:
    """A template refused as Meta refuses one: code 100 "Invalid parameter", the subcode Meta documents
    for the rule (when it documents one), and a title and sentence meant for the person fixing it."""
    return GraphError(100, "Invalid parameter", subcode=subcode, title=title, user_msg=user_msg)


def send_error(code: int, title: str, details: str, *, status: int = 400) -> GraphError:
    """A message refused as the Cloud API refuses one: "(#code) title", the reason in error_data."""
    return GraphError(code, f"(#{code}) {title}", status=status, details=details)


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


def required(call: Call, name: str) -> str:
    value = call.params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid(f"The parameter {name} is required.")
    if not isinstance(value, str):
        raise invalid(f"The parameter {name} must be a string.")
    return value.strip()


def as_list(value: object, name: str) -> list:
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


def as_bool(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def requested_fields(call: Call, default: list[str]) -> dict[str, dict[str, str]]:
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


def select(
    call: Call, kind: str, getters: dict[str, Callable[[dict], object]], default: list[str]
) -> dict:
    """Render the requested fields of a node; `id` always comes first, as on Meta."""
    selected = requested_fields(call, default)
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


def page(call: Call, queryset: object, render: Callable[[object], dict]) -> dict:
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
