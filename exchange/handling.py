"""Answering Meta's data-exchange requests for a hosted flow at /meta/flows/<public id>/.

The order of checks: size, flow, signature (432), envelope (400), decryption (421); then the action.
`ping` answers the health check, an error notification is acknowledged and recorded, and INIT / BACK /
data_exchange get their next screen: from the payload's `next_screen` (static navigation) or from the
customer's endpoint. ct-evt / ct-up in a data_exchange payload are recorded before the answer leaves.
Every answer is encrypted, and nothing a client sends produces a 500. Meta's public page describes the
status codes and actions:
https://developers.facebook.com/docs/whatsapp/flows/guides/implementingyourflowendpoint

`serve` takes plain values, not a request object, so that two doors share it: the lean WSGI route
(wsgi.py) in production and the Django view (views.py) for the test client and runserver. The path is kept lean because Meta
counts our latency against the flow's health: the flow's row and the private key kept per process
(cache.py), the health and funnel numbers buffered (metrics.py); an ingested event is the one write
that waits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.conf import settings
from django.utils import timezone

from audience.models import Event
from audience.services import INGESTION_KEYS, ingest_payload, profile_for
from audience.signals import OPENED, announce_flow_token
from flowsadmin.models import Flow
from flowsadmin.tokens import looks_like_ours, max_age, read_flow_token
from wabas.crypto import valid_hub_signature

from . import answers, crypto, relay
from .cache import hosted_flow, private_key
from .metrics import record_endpoint_request, record_screen_visit
from .models import EndpointError
from .screens import Screens, contract_problems, screens_of

logger = logging.getLogger(__name__)

Kind = EndpointError.Kind
SCREEN_ACTIONS = ("INIT", "BACK", "data_exchange")

# What the user sees in the flow when we can't give them the next screen (Meta shows it as a snackbar).
TRY_AGAIN = "Something went wrong on our side. Please try again in a moment."
NOT_AVAILABLE = "This step isn't available right now. Please try again later."
TOKEN_INVALID = "This form is no longer available."
TOKEN_EXPIRED = "This form has expired. Please ask us in the chat to send you a new one."


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def customer_budget() -> dict[str, Any]:
    """The relay's limits for a customer's endpoint: real traffic and the contract test share them."""
    return {
        "allow_private": _setting("ALLOW_PRIVATE_CUSTOMER_ENDPOINTS", settings.DEBUG),
        "connect_timeout": _setting("CUSTOMER_ENDPOINT_CONNECT_TIMEOUT", 1.0),
        "total_timeout": _setting("CUSTOMER_ENDPOINT_TIMEOUT", 3.0),
        "max_bytes": _setting("CUSTOMER_ENDPOINT_MAX_BYTES", 4 * 1024 * 1024),
    }


def without_ingestion(data: dict) -> dict:
    """The payload as the next screen or the customer endpoint should see it: no ct-evt / ct-up."""
    return {key: value for key, value in data.items() if key not in INGESTION_KEYS}


Reply = tuple[int, str]  # HTTP status, text body


def serve(
    public_id: str,
    method: str,
    content_length: str | None,
    read: Callable[[int], bytes],
    signature: str | None,
) -> Reply:
    """Meta's encrypted request for one hosted flow; see the module docstring for the order of checks.

    `read(n)` reads the body (at most the declared length), `signature` is the X-Hub-Signature-256
    header: plain values, so that the lean WSGI route and the Django view share it.
    """
    started = time.perf_counter()
    if method != "POST":
        return 405, "POST only."
    max_body = _setting("FLOW_ENDPOINT_MAX_BODY_BYTES", 1024 * 1024)
    try:
        declared = int(content_length or 0)
    except ValueError:
        return 400, "Bad Content-Length."
    if declared > max_body or declared < 0:
        return (413, "The body is too large.") if declared > 0 else (400, "Bad Content-Length.")
    flow = hosted_flow(public_id)
    if flow is None:
        return 404, "No hosted flow here."
    body = read(declared) if declared else b""
    if not valid_hub_signature(body, flow.waba.app_secret, signature):
        return 432, "Bad or missing X-Hub-Signature-256."
    try:
        envelope = crypto.parse_envelope(body)
    except crypto.BadEnvelope as exc:
        return 400, str(exc)
    # 421 whenever we can't decrypt: the WhatsApp client fetches our public key again and retries once.
    # From here the request is Meta's for this flow: it counts in the flow's endpoint health.
    try:
        key = private_key(flow.waba.key_pair.pk)
    except Exception:  # no key pair, or FIELD_ENCRYPTION_KEYS can't read it: ours to fix, logged
        logger.exception("No usable private key for flow %s", flow.pk)
        _record(flow, Kind.UNDECRYPTABLE, "The WABA's private key is missing or unreadable.")
        record_endpoint_request(flow.pk, ok=False, seconds=time.perf_counter() - started)
        return 421, "The request could not be decrypted."
    try:
        clear, aes_key, iv = crypto.decrypt_request(envelope, key)
    except crypto.DecryptionFailed as exc:
        _record(flow, Kind.UNDECRYPTABLE, str(exc))
        record_endpoint_request(flow.pk, ok=False, seconds=time.perf_counter() - started)
        return 421, "The request could not be decrypted."
    try:
        answer, status = Exchange(flow, clear).answer()
    except Exception:  # a bug of ours must still reach the user as a message, not a 500
        logger.exception("Flow endpoint failed for flow %s", flow.pk)
        answer, status = Exchange(flow, clear).error(TRY_AGAIN), 200
    data = answer.get("data")
    ok = status == 200 and not (isinstance(data, dict) and "error_message" in data)
    record_endpoint_request(flow.pk, ok=ok, seconds=time.perf_counter() - started)
    return status, crypto.encrypt_response(answer, aes_key, iv)


def _record(flow: Flow, kind: str, message: str, **detail: Any) -> None:
    """Keep an endpoint problem for the flow's health; never let recording break the answer.

    The same problem of the same flow is written once per ENDPOINT_ERROR_REPEAT_SECONDS per
    process: a flow whose every request repeats it (a payload missing a declared field, a customer
    endpoint that is down) would otherwise add a row to each answer, and the flow's page would list
    ten copies of one line. The flow's error count (metrics.py) still counts every request.
    """
    message = message[:2000]
    if _repeats.seen((flow.pk, kind, message)):
        return
    try:
        EndpointError.objects.create(flow=flow, kind=kind, message=message, detail=detail)
    except Exception:
        _repeats.forget((flow.pk, kind, message))
        logger.exception("Could not record an endpoint error for flow %s", flow.pk)


class _Repeats:
    """The problems this process wrote lately, by (flow, kind, message), and when."""

    def __init__(self, limit: int = 1000) -> None:
        self.lock = threading.Lock()
        self.written: dict[tuple, float] = {}
        self.limit = limit

    def seen(self, problem: tuple) -> bool:
        """Whether the problem was written within the window; if not, it counts as written now."""
        now = time.monotonic()
        window = settings.ENDPOINT_ERROR_REPEAT_SECONDS
        with self.lock:
            last = self.written.get(problem)
            if last is not None and now - last < window:
                return True
            if len(self.written) >= self.limit:
                recent = {k: t for k, t in self.written.items() if now - t < window}
                self.written = recent if len(recent) < self.limit else {}
            self.written[problem] = now
            return False

    def forget(self, problem: tuple) -> None:
        with self.lock:
            self.written.pop(problem, None)

    def clear(self) -> None:
        with self.lock:
            self.written.clear()


_repeats = _Repeats()


def forget_recorded_problems() -> None:
    """Let every problem be written again at its next occurrence (tests start from nothing)."""
    _repeats.clear()


class Exchange:
    """One decrypted request of one flow, and the answer it gets."""

    def __init__(self, flow: Flow, request: dict) -> None:
        self.flow = flow
        self.request = request
        self.action = request.get("action")
        self.version = request.get("version", "3.0")
        token = request.get("flow_token")
        self.flow_token = token if isinstance(token, str) else ""
        data = request.get("data")
        self.data = data if isinstance(data, dict) else {}
        screen = request.get("screen")
        self.screen = screen if isinstance(screen, str) else ""

    @cached_property
    def flow_screens(self) -> Screens:
        return screens_of(self.flow.flow_json or "")

    @property
    def screens(self) -> tuple[str, ...]:
        return self.flow_screens.ids

    def routes_to(self, target: str) -> bool:
        """Whether the routing model lets this request's answer show `target`."""
        return self.action != "data_exchange" or self.flow_screens.allows(self.screen, target)

    def answer(self) -> tuple[dict, int]:
        """(decrypted answer, HTTP status) for this request."""
        if self.action == "ping":
            return answers.ping_response(), 200
        if answers.is_error_notification(self.request):
            self.record(
                Kind.CLIENT_ERROR,
                str(self.data.get("error_message") or self.data.get("error") or "error"),
                error=self.data.get("error") or self.data.get("error_key"),
            )
            return answers.acknowledge_response(), 200
        token, refusal = self.check_token()
        if refusal:
            # Meta's invalid-token code: the client closes the flow and disables its button.
            self.record(Kind.INVALID_TOKEN, refusal)
            expired = token is not None and token["expired"]
            return answers.token_invalid_response(TOKEN_EXPIRED if expired else TOKEN_INVALID), 427
        if self.action not in SCREEN_ACTIONS:
            self.record(Kind.UNKNOWN_ACTION, f"Unknown action {str(self.action)[:100]!r}.")
            return self.error(NOT_AVAILABLE), 200
        # A campaign's "flow opened": only our tokens naming a campaign, once per token per process.
        announce_flow_token(self.flow_token, token, kind=OPENED, at=timezone.now())
        if self.action == "data_exchange":
            # Recorded before the next screen is answered, and kept even if that answer fails.
            ingest_payload(
                self.data,
                source=Event.Source.ENDPOINT,
                flow=self.flow,
                flow_token=self.flow_token,
                profile=profile_for(token["whatsapp_id"]) if token else None,
            )
        answer = self.relay() if self.flow.customer_endpoint_url else self.navigate()
        self.record_visits(answer)
        return answer, 200

    def check_token(self) -> tuple[dict | None, str]:
        """(our token's contents or None, why the request is refused or "")."""
        signature = self.request.get("flow_token_signature")
        if signature is not None and not crypto.valid_token_signature(
            signature, self.flow.waba.app_secret, self.flow_token
        ):
            return None, "The flow_token_signature (Data API 4.0) failed its check."
        if not looks_like_ours(self.flow_token):
            if self.flow.requires_our_token:
                return None, "This flow accepts only flow tokens we issued; this one is not ours."
            return None, ""
        token = read_flow_token(self.flow_token)
        if token is None or (token["flow"] and token["flow"] != str(self.flow.public_id)):
            return None, "A flow token that claims to be ours failed its check."
        if token["expired"] and self.flow.requires_our_token:
            return token, f"The flow token is older than {max_age().days} days (expired)."
        return token, ""

    def record_visits(self, answer: dict) -> None:
        """For the completion funnel: the screen the user was on, and the one they are sent to."""
        if self.screen in self.screens and self.action != "INIT":
            record_screen_visit(self.flow.pk, self.flow_token, self.screen)
        shown = answer.get("screen")
        data = answer.get("data")
        if shown in self.screens and not (isinstance(data, dict) and "error_message" in data):
            record_screen_visit(self.flow.pk, self.flow_token, shown)

    def current_screen(self) -> str:
        """Where an error message is shown: the screen the user is on, else the flow's first one."""
        if self.screen in self.screens or not self.screens:
            return self.screen
        return self.screens[0]

    def error(self, message: str) -> dict:
        return answers.error_message_response(self.version, self.current_screen(), message)

    def record(self, kind: str, message: str, **detail: Any) -> None:
        _record(self.flow, kind, message, action=self.action, screen=self.screen, **detail)

    def navigate(self) -> dict:
        """Static navigation: next_screen names the screen, the rest of the payload is its data."""
        target = self.data.get(answers.NEXT_SCREEN)
        if not target and self.action == "INIT" and self.screens:
            target = self.screens[0]
        elif not target and self.action == "BACK":
            target = self.screen
        data = {
            key: value
            for key, value in without_ingestion(self.data).items()
            if key != answers.NEXT_SCREEN
        }
        if not isinstance(target, str) or not target:
            self.record(Kind.NAVIGATION, "The payload has no next_screen.")
            return self.error(NOT_AVAILABLE)
        if target == answers.SUCCESS:
            return answers.close_response(self.version, self.flow_token, data)
        if target not in self.screens:
            self.record(
                Kind.NAVIGATION, f"next_screen {target[:100]!r} is not a screen of the flow."
            )
            return self.error(NOT_AVAILABLE)
        if not self.routes_to(target):
            self.record(
                Kind.NAVIGATION, f"The routing model has no route {self.screen} → {target}."
            )
            return self.error(NOT_AVAILABLE)
        # Only a data_exchange payload is meant as the next screen's data (INIT and BACK carry none).
        problems = self.contract_problems(target, data) if self.action == "data_exchange" else []
        if problems:
            # The Flow JSON's own payload: the screen is still shown (the validator warned), the
            # problem kept for the flow's health so the author sees which field.
            self.record(
                Kind.DATA_CONTRACT,
                f"The data for {target} does not match what it declares: {'; '.join(problems)}.",
                next_screen=target,
            )
        return answers.screen_response(self.version, target, data)

    def contract_problems(self, target: str, data: dict) -> list[str]:
        return contract_problems(self.flow_screens.declared.get(target, {}), data)

    def relay(self) -> dict:
        """Ask the customer's endpoint for the next screen, with the clean decrypted request."""
        forward = {"version": self.version, "action": self.action}
        if "screen" in self.request:
            forward["screen"] = self.request["screen"]
        forward["data"] = without_ingestion(self.data)
        forward["flow_token"] = self.flow_token
        url = self.flow.customer_endpoint_url
        try:
            answer = relay.post_json(url, forward, **customer_budget())
        except relay.RelayError as exc:
            self.record(exc.kind, str(exc), url=url)
            return self.error(TRY_AGAIN)
        screen, data = answer.get("screen"), answer.get("data", {})
        if not isinstance(screen, str) or not isinstance(data, dict):
            self.record(
                Kind.CUSTOMER_INVALID,
                "The answer has no screen name or its data is not an object.",
                url=url,
            )
            return self.error(TRY_AGAIN)
        if screen == answers.SUCCESS:
            extension = data.get("extension_message_response")
            params = extension.get("params") if isinstance(extension, dict) else None
            if not isinstance(params, dict):
                self.record(
                    Kind.CUSTOMER_INVALID,
                    "SUCCESS without extension_message_response params.",
                    url=url,
                )
                return self.error(TRY_AGAIN)
            return answers.close_response(self.version, self.flow_token, params)
        if screen not in self.screens:
            self.record(
                Kind.CUSTOMER_INVALID,
                f"The answer names {screen[:100]!r}, not a screen of the flow.",
                url=url,
            )
            return self.error(TRY_AGAIN)
        if not self.routes_to(screen):
            self.record(
                Kind.CUSTOMER_INVALID,
                f"The answer names {screen}, but the routing model has no route {self.screen} → "
                f"{screen}.",
                url=url,
            )
            return self.error(TRY_AGAIN)
        problems = self.contract_problems(screen, data)
        if problems:
            # WhatsApp would refuse the screen with a generic failure; the user gets our clean
            # error instead, and the flow's health names the field.
            self.record(
                Kind.DATA_CONTRACT,
                f"The customer endpoint's data for {screen} does not match what it declares: "
                f"{'; '.join(problems)}.",
                url=url,
                next_screen=screen,
            )
            return self.error(TRY_AGAIN)
        return answers.screen_response(self.version, screen, data)
