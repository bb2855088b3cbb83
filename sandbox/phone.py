"""The sandbox phone: plays one of our Flows as the WhatsApp client would, for a WhatsApp id an admin types.

The play state (screen, its data, the flow token, the answers given so far) lives in the Django session,
so the page is server-rendered and works without JavaScript. What each footer does, as on a phone:

- `navigate`: go to the target screen with the resolved payload as its data; no server is called;
- `data_exchange` (and INIT when asked for, or when the first screen needs the endpoint's data): build
  the clear request, encrypt it as Meta does (endpoint-contract.md §3.5: fresh AES-128 key and 16-byte
  IV, RSA-OAEP-SHA256 with the business public key uploaded to the sandbox, signed with the app secret),
  POST it over HTTP to the flow's data-exchange URL, decrypt the answer with the inverted IV and draw the
  screen it names;
- `complete`: send the signed `messages` webhook carrying the `nfm_reply` (webhooks.md §4) from the typed
  WhatsApp id, through `send_webhook`, so it is recorded on the sandbox page and delivered like any other.

This is the sandbox's own client code: it shares nothing with our endpoint's decryption, so a mistake on
one side can't hide behind the same mistake on the other.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import hashlib
import hmac
import json
import os
import re
import time
from typing import Any

import requests
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from flowsadmin.models import Flow as OurFlow
from flowsadmin.preview import Component, Screen, build_preview, walk
from flowsadmin.tokens import issue_flow_token
from wabas.crypto import hub_signature

from .models import Account, Message, PhoneNumber
from .services import send_webhook
from .views import SANDBOX_PERMISSION

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
DEFAULT_WHATSAPP_ID = "15551234567"
SUCCESS = "SUCCESS"
# How long the WhatsApp client waits for the endpoint (endpoint-contract.md §8).
ENDPOINT_TIMEOUT = 10
# Components whose value a footer can send, and the ones that send a list.
INPUT_KINDS = {
    "text_input",
    "text_area",
    "dropdown",
    "radio_group",
    "checkbox_group",
    "chips",
    "date_picker",
    "calendar_picker",
    "opt_in",
}
LIST_KINDS = {"checkbox_group", "chips"}
FIELD_PREFIX = "f."
HTTP_MESSAGES = {
    400: "The endpoint refused the request as malformed (HTTP 400).",
    404: "There is no endpoint at the flow's data-exchange URL (HTTP 404).",
    421: "The endpoint could not decrypt the request, even after fetching the public key again "
    "(HTTP 421). Something went wrong; the user is sent back to the chat.",
    432: "The endpoint did not accept the request signature (HTTP 432).",
}
_REF = re.compile(r"\$\{([^}]*)\}")
_WHOLE_REF = re.compile(r"\s*\$\{([^}]*)\}\s*")
_WHATSAPP_ID = re.compile(r"\d{6,20}")


class PhoneError(Exception):
    """Something the phone shows instead of the next screen."""


# --- the WhatsApp client's side of the encryption ------------------------------------------------


def token_signature(flow_token: str, app_secret: str, *, lifetime: int = 300) -> str:
    """Data API 4.0's flow_token_signature (endpoint-contract.md §5): an HS256 JWT over the flow token,
    signed with the app secret, as integrators describe it; Meta's exact claims are unpublished."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    now = int(time.time())
    claims = {"flow_token": flow_token, "iat": now, "exp": now + lifetime}
    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(json.dumps(claims).encode())
    mac = hmac.new(app_secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + part(mac)


@dataclasses.dataclass
class Sealed:
    body: bytes
    aes_key: bytes
    iv: bytes

    def open(self, text: str) -> dict:
        """Decrypt an answer: the same AES key, every bit of the request IV inverted."""
        flipped = bytes(b ^ 0xFF for b in self.iv)
        clear = AESGCM(self.aes_key).decrypt(flipped, base64.b64decode(text.strip()), None)
        answer = json.loads(clear)
        if not isinstance(answer, dict):
            raise ValueError("the answer is not a JSON object")
        return answer


def seal(request: dict, public_pem: str) -> Sealed:
    """Encrypt a clear request as Meta does: a fresh AES-128 key and 16-byte IV for every request."""
    public_key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    aes_key = os.urandom(16)
    iv = os.urandom(16)
    clear = json.dumps(request).encode("utf-8")
    fields = {
        "encrypted_flow_data": base64.b64encode(AESGCM(aes_key).encrypt(iv, clear, None)).decode(),
        "encrypted_aes_key": base64.b64encode(public_key.encrypt(aes_key, OAEP)).decode(),
        "initial_vector": base64.b64encode(iv).decode(),
    }
    return Sealed(json.dumps(fields).encode("ascii"), aes_key, iv)


# --- who plays Meta for this flow -----------------------------------------------------------------


@dataclasses.dataclass
class Business:
    account: Account | None
    phone: PhoneNumber | None
    public_pem: str
    app_secret: str


def business_of(flow: OurFlow) -> Business:
    """The sandbox account for the flow's WABA, the number whose key Meta would use, and the secrets."""
    account = Account.objects.filter(waba_id=flow.waba.meta_waba_id).first()
    phone = None
    if account is not None:
        phones = list(account.phone_numbers.all())
        phone = next((p for p in phones if p.business_public_key), phones[0] if phones else None)
    public_pem = phone.business_public_key if phone is not None else ""
    if not public_pem:
        key_pair = getattr(flow.waba, "key_pair", None)
        public_pem = key_pair.public_pem if key_pair is not None else ""
    app_secret = account.app_secret if account is not None else flow.waba.app_secret
    return Business(account, phone, public_pem, app_secret)


# --- the flow's JSON, and a screen drawn with real data --------------------------------------------


def flow_json_of(flow: OurFlow) -> dict:
    try:
        data = json.loads((flow.flow_json or "").removeprefix("\ufeff"))
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def raw_screens(flow_json: dict) -> list[dict]:
    screens = flow_json.get("screens")
    return [s for s in screens if isinstance(s, dict)] if isinstance(screens, list) else []


def screen_ids(flow_json: dict) -> list[str]:
    return [s["id"] for s in raw_screens(flow_json) if isinstance(s.get("id"), str)]


def first_screen(flow_json: dict) -> str:
    """The screen a flow opens on: the routing model's entry (a screen nothing routes to), else the first."""
    ids = screen_ids(flow_json)
    routing = flow_json.get("routing_model")
    if isinstance(routing, dict) and routing:
        targets = {t for value in routing.values() if isinstance(value, list) for t in value}
        for screen_id in ids:
            if screen_id in routing and screen_id not in targets:
                return screen_id
    return ids[0] if ids else ""


def needs_init(flow_json: dict) -> bool:
    """Whether the flow's first screen declares data, which only the endpoint's INIT answer can give.

    On WhatsApp a `navigate` message can carry that data in its flow_action_payload; the phone has no
    message to take it from, so such a flow always opens with INIT.
    """
    if "data_api_version" not in flow_json:
        return False
    first = first_screen(flow_json)
    screen = next((s for s in raw_screens(flow_json) if s.get("id") == first), {})
    return isinstance(screen.get("data"), dict) and bool(screen["data"])


def draw_screen(flow_json: dict, screen_id: str, data: dict, values: dict) -> Screen | None:
    """The screen as our preview draws it, but with the real data as its examples and inputs filled."""
    patched = copy.deepcopy(flow_json)
    for raw in raw_screens(patched):
        if raw.get("id") == screen_id:
            declared = raw.get("data") if isinstance(raw.get("data"), dict) else {}
            raw["data"] = {
                key: {"__example__": value} for key, value in data.items() if key != "error_message"
            } | {key: {} for key in declared if key not in data}
    screen = build_preview(patched).screen(screen_id)
    if screen is None or screen.id != screen_id:
        return None
    screen.components = [_filled(c, values) for c in screen.components]
    return screen


def _filled(component: Component, values: dict) -> Component:
    if component.kind not in INPUT_KINDS or component.name not in values:
        return component
    value = values[component.name]
    chosen = {str(v) for v in value} if isinstance(value, list) else {str(value)}
    component.options = [dataclasses.replace(o, selected=o.id in chosen) for o in component.options]
    component.value = "true" if value is True else "" if value is False else str(value)
    return component


def footer_action(flow_json: dict, screen_id: str) -> dict:
    """The raw on-click-action of the screen's Footer (the first one found), or {}."""
    screen = next((s for s in raw_screens(flow_json) if s.get("id") == screen_id), {})
    stack = [screen.get("layout")]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "Footer" and isinstance(item.get("on-click-action"), dict):
                return item["on-click-action"]
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return {}


# --- what the user typed, and payloads resolved from it --------------------------------------------


def read_inputs(screen: Screen, post: Any) -> tuple[dict, list[str]]:
    """The screen's input values from the posted form, and the labels of required ones left empty."""
    values: dict[str, Any] = {}
    missing: list[str] = []
    for c in screen.components:
        if c.kind not in INPUT_KINDS or not c.name or not c.visible or not c.enabled:
            continue
        field = FIELD_PREFIX + c.name
        if c.kind in LIST_KINDS:
            value: Any = [v for v in post.getlist(field) if v]
            empty = not value
        elif c.kind == "opt_in":
            value = post.get(field) == "true"
            empty = not value
        else:
            value = post.get(field, "").strip()
            empty = value == ""
        values[c.name] = value
        if c.required and empty:
            missing.append(c.label or c.name)
    return values, missing


class Resolver:
    """Fills ${form.x}, ${data.x} and ${screen.ID.form|data.x} in an action's payload."""

    def __init__(self, form: dict, data: dict, screens: dict) -> None:
        self.form = form
        self.data = data
        self.screens = screens  # screen id -> {"form": {...}, "data": {...}}

    def lookup(self, ref: str) -> Any:
        parts = ref.strip().split(".")
        if len(parts) >= 4 and parts[0] == "screen" and parts[2] in ("form", "data"):
            value: Any = self.screens.get(parts[1], {}).get(parts[2], {})
            rest = parts[3:]
        elif len(parts) >= 2 and parts[0] == "form":
            value, rest = self.form, parts[1:]
        elif len(parts) >= 2 and parts[0] == "data":
            value, rest = self.data, parts[1:]
        else:
            return ""
        return walk(value, rest, "")

    def resolve(self, raw: Any, depth: int = 0) -> Any:
        if depth > 50:
            return None
        if isinstance(raw, dict):
            return {key: self.resolve(value, depth + 1) for key, value in raw.items()}
        if isinstance(raw, list):
            return [self.resolve(value, depth + 1) for value in raw]
        if isinstance(raw, str):
            if match := _WHOLE_REF.fullmatch(raw):
                return self.lookup(match.group(1))
            return _REF.sub(lambda m: _text(self.lookup(m.group(1))), raw)
        return raw


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# --- the play state in the session -----------------------------------------------------------------


def _key(flow: OurFlow) -> str:
    return f"sandbox_phone:{flow.pk}"


def load_state(request: HttpRequest, flow: OurFlow) -> dict | None:
    state = request.session.get(_key(flow))
    return state if isinstance(state, dict) else None


def save_state(request: HttpRequest, flow: OurFlow, state: dict | None) -> None:
    if state is None:
        request.session.pop(_key(flow), None)
    else:
        request.session[_key(flow)] = state


def new_state(flow: OurFlow, whatsapp_id: str) -> dict:
    return {
        "whatsapp_id": whatsapp_id,
        "flow_token": issue_flow_token(whatsapp_id=whatsapp_id, flow=flow),
        "screen": "",
        "data": {},
        "values": {},  # what was typed on the current screen, to refill it after an error
        "screens": {},  # screen id -> {"form": answers, "data": data} for ${screen.ID...}
        "history": [],  # [(screen, data)] for the back button
        "error": "",
        "finished": "",
        "calls": [],  # the endpoint calls made, newest last, shown under the phone
    }


def go_to(state: dict, screen_id: str, data: dict, *, push: bool = True) -> None:
    if push and state["screen"]:
        state["history"].append([state["screen"], state["data"]])
    state["screen"] = screen_id
    state["data"] = data
    state["values"] = {}


# --- talking to the endpoint -----------------------------------------------------------------------


def call_endpoint(flow: OurFlow, business: Business, request: dict, state: dict) -> dict:
    """POST one encrypted request and return the decrypted answer; PhoneError for anything else.

    On 421 the WhatsApp client fetches the business public key again and retries once; so do we.
    """
    if not business.public_pem:
        raise PhoneError("No business public key is uploaded for this WABA: Meta can't encrypt.")
    url = flow.data_exchange_url()
    if not url:
        raise PhoneError("This flow has no data-exchange URL.")
    if request.get("version") == "4.0" and request.get("flow_token"):
        request = request | {
            "flow_token_signature": token_signature(request["flow_token"], business.app_secret)
        }
    for attempt in (1, 2):
        try:
            sealed = seal(request, business.public_pem)
        except (ValueError, TypeError) as exc:
            raise PhoneError(f"The uploaded public key is not usable: {exc}") from exc
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": hub_signature(sealed.body, business.app_secret),
        }
        started = time.monotonic()
        try:
            response = requests.post(
                url, data=sealed.body, headers=headers, timeout=ENDPOINT_TIMEOUT
            )
        except requests.Timeout as exc:
            raise PhoneError(f"The endpoint did not answer within {ENDPOINT_TIMEOUT} s.") from exc
        except requests.RequestException as exc:
            raise PhoneError(f"The endpoint could not be reached: {type(exc).__name__}.") from exc
        state["calls"] = [
            *state["calls"][-9:],
            {
                "action": request.get("action"),
                "screen": request.get("screen", ""),
                "status": response.status_code,
                "ms": round((time.monotonic() - started) * 1000),
            },
        ]
        if response.status_code == 421 and attempt == 1:
            business.public_pem = business_of(flow).public_pem  # refetch the key, then retry once
            continue
        if response.status_code == 200:
            try:
                return sealed.open(response.text)
            except (ValueError, InvalidTag, binascii.Error, UnicodeDecodeError) as exc:
                raise PhoneError(
                    "The endpoint's answer could not be decrypted with the request's key and "
                    "inverted IV."
                ) from exc
        if response.status_code == 427:
            try:
                text = sealed.open(response.text).get("error_msg")
            except (ValueError, InvalidTag, binascii.Error, UnicodeDecodeError):
                text = None
            state["finished"] = str(text) if text else "This flow can no longer be used (HTTP 427)."
            raise PhoneError(state["finished"])
        raise PhoneError(
            HTTP_MESSAGES.get(response.status_code)
            or f"The endpoint answered HTTP {response.status_code}: something went wrong."
        )
    raise PhoneError(HTTP_MESSAGES[421])  # pragma: no cover - the loop always returns or raises


def exchange(
    flow: OurFlow, business: Business, flow_json: dict, state: dict, request: dict
) -> None:
    """Send INIT or data_exchange and move the phone to the screen the answer names."""
    answer = call_endpoint(flow, business, request, state)
    screen_id = answer.get("screen")
    data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
    if screen_id == SUCCESS:
        params = data.get("extension_message_response", {})
        params = params.get("params") if isinstance(params, dict) else None
        complete(flow, business, state, params if isinstance(params, dict) else {})
        return
    if "error_msg" in answer and not screen_id:
        raise PhoneError(str(answer["error_msg"]))
    if not isinstance(screen_id, str) or screen_id not in screen_ids(flow_json):
        raise PhoneError(
            f"The endpoint named screen {screen_id!r}, which is not in this Flow "
            "(INVALID_SCREEN_TRANSITION)."
        )
    current = state["screen"]
    routing = flow_json.get("routing_model")
    if (
        current
        and screen_id != current
        and isinstance(routing, dict)
        and isinstance(routing.get(current), list)
        and screen_id not in routing[current]
    ):
        raise PhoneError(
            f"The routing model does not allow {current} → {screen_id} (INVALID_SCREEN_TRANSITION)."
        )
    error = data.get("error_message")
    shown = {k: v for k, v in data.items() if k != "error_message"}
    if screen_id == current and error:
        state["data"] = state["data"] | shown  # stay, with what was typed still in the inputs
    else:
        go_to(state, screen_id, shown, push=bool(current))
    state["error"] = str(error) if error else ""


def complete(flow: OurFlow, business: Business, state: dict, params: dict) -> None:
    """The user's chat gets the flow response: the signed nfm_reply webhook, as webhooks.md §4."""
    if business.account is None:
        raise PhoneError("The sandbox knows no account for this WABA, so no webhook can be sent.")
    response_json = dict(params)
    response_json.setdefault("flow_token", state["flow_token"])
    phone = business.phone
    business_digits = phone.digits if phone is not None else ""
    whatsapp_id = state["whatsapp_id"]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": business_digits,
            "phone_number_id": phone.phone_number_id if phone is not None else "",
        },
        "contacts": [{"profile": {"name": "Sandbox user"}, "wa_id": whatsapp_id}],
        "messages": [
            {
                "context": {"from": business_digits, "id": state.setdefault("context_id", "")},
                "from": whatsapp_id,
                "id": Message.new_wamid(),
                "timestamp": str(int(time.time())),
                "type": "interactive",
                "interactive": {
                    "type": "nfm_reply",
                    "nfm_reply": {
                        "name": "flow",
                        "body": "Sent",
                        "response_json": json.dumps(response_json, separators=(",", ":")),
                    },
                },
            }
        ],
    }
    delivery = send_webhook(business.account, "messages", value)
    delivery.refresh_from_db()
    state["finished"] = "Flow finished, answers sent to the business."
    state["webhook"] = {"pk": delivery.pk, "result": delivery.result, "target": delivery.target}
    state["error"] = ""


def press_footer(
    flow: OurFlow, business: Business, flow_json: dict, state: dict, post: Any
) -> None:
    """The user pressed the current screen's footer with what the form holds."""
    screen_id = state["screen"]
    screen = draw_screen(flow_json, screen_id, state["data"], {})
    if screen is None:
        raise PhoneError(f"Screen {screen_id} is not in this Flow.")
    values, missing = read_inputs(screen, post)
    state["values"] = values
    if missing:
        raise PhoneError("Fill in: " + ", ".join(missing) + ".")
    state["screens"][screen_id] = {"form": values, "data": state["data"]}
    action = footer_action(flow_json, screen_id)
    name = action.get("name")
    payload = Resolver(values, state["data"], state["screens"]).resolve(action.get("payload") or {})
    payload = payload if isinstance(payload, dict) else {}
    state["error"] = ""
    if name == "navigate":
        nxt = action.get("next")
        target = nxt.get("name") if isinstance(nxt, dict) else None
        if target not in screen_ids(flow_json):
            raise PhoneError(f"The footer navigates to {target!r}, which is not in this Flow.")
        go_to(state, target, payload)
    elif name == "data_exchange":
        request = {
            "version": str(flow_json.get("data_api_version") or "3.0"),
            "action": "data_exchange",
            "screen": screen_id,
            "data": payload,
            "flow_token": state["flow_token"],
        }
        exchange(flow, business, flow_json, state, request)
    elif name == "complete":
        complete(flow, business, state, payload)
    else:
        raise PhoneError(f"The footer's action {name!r} is not one the phone can play.")


def start(flow: OurFlow, business: Business, flow_json: dict, state: dict, with_init: bool) -> None:
    state["context_id"] = Message.new_wamid()
    if with_init:
        request = {
            "version": str(flow_json.get("data_api_version") or "3.0"),
            "action": "INIT",
            "flow_token": state["flow_token"],
        }
        exchange(flow, business, flow_json, state, request)
    else:
        go_to(state, first_screen(flow_json), {}, push=False)


# --- the pages --------------------------------------------------------------------------------------


@permission_required(SANDBOX_PERMISSION, raise_exception=True)
@require_GET
def by_meta_id(request: HttpRequest, flow_id: str) -> HttpResponse:
    """The sandbox page lists Meta's flows; this finds ours with that Flow ID and opens its phone."""
    flow = get_object_or_404(OurFlow.objects.order_by("-updated_at"), meta_flow_id=flow_id)
    return redirect("sandbox:phone", pk=flow.pk)


@permission_required(SANDBOX_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def phone(request: HttpRequest, pk: int) -> HttpResponse:
    flow = get_object_or_404(OurFlow.objects.select_related("waba"), pk=pk)
    flow_json = flow_json_of(flow)
    if request.method == "POST":
        return _act(request, flow, flow_json)
    state = load_state(request, flow)
    screen = None
    if state and state["screen"] and not state["finished"]:
        screen = draw_screen(flow_json, state["screen"], state["data"], state["values"])
    business = business_of(flow)
    context = {
        "flow": flow,
        "state": state,
        "screen": screen,
        "field_prefix": FIELD_PREFIX,
        "default_whatsapp_id": (state or {}).get("whatsapp_id") or DEFAULT_WHATSAPP_ID,
        "uses_endpoint": "data_api_version" in flow_json,
        "needs_init": needs_init(flow_json),
        "has_screens": bool(screen_ids(flow_json)),
        "account": business.account,
        "endpoint_url": flow.data_exchange_url(),
    }
    return render(request, "sandbox/phone.html", context)


def _act(request: HttpRequest, flow: OurFlow, flow_json: dict) -> HttpResponse:
    op = request.POST.get("op")
    state = load_state(request, flow)
    if op == "reset":
        save_state(request, flow, None)
        return redirect("sandbox:phone", pk=flow.pk)
    business = business_of(flow)
    if op == "start":
        whatsapp_id = request.POST.get("whatsapp_id", "").strip().lstrip("+")
        if not _WHATSAPP_ID.fullmatch(whatsapp_id):
            messages.error(request, "A WhatsApp id is the number in digits, 6 to 20 of them.")
            return redirect("sandbox:phone", pk=flow.pk)
        if not screen_ids(flow_json):
            messages.error(request, "This flow has no screens to play.")
            return redirect("sandbox:phone", pk=flow.pk)
        state = new_state(flow, whatsapp_id)
        try:
            with_init = request.POST.get("init") == "on" or needs_init(flow_json)
            start(flow, business, flow_json, state, with_init)
        except PhoneError as exc:
            state["error"] = str(exc)
            if not state["screen"] and not state["finished"]:
                state["finished"] = "The flow could not open: " + str(exc)
    elif state is None or state["finished"]:
        messages.error(request, "Start the flow first.")
        return redirect("sandbox:phone", pk=flow.pk)
    elif op == "back":
        if state["history"]:
            state["screen"], state["data"] = state["history"].pop()
            state["values"] = state["screens"].get(state["screen"], {}).get("form", {})
            state["error"] = ""
    elif op == "footer":
        try:
            press_footer(flow, business, flow_json, state, request.POST)
        except PhoneError as exc:
            state["error"] = str(exc)
    save_state(request, flow, state)
    return redirect("sandbox:phone", pk=flow.pk)
