"""The sandbox phone's page: pick a WhatsApp id, open the flow, press footers, go back.

The page is opened for one of the business's flows, as a Flow message names one: from our side the
phone takes only what such a message carries, the Flow ID on Meta and a flow token we issue. All else
(Flow JSON, endpoint_uri, public key, app secret) is what the sandbox Meta holds for that Flow ID.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import TRY_FLOWS_PERMISSION
from flowsadmin.models import Flow as OurFlow
from flowsadmin.tokens import issue_flow_token
from sandbox.models import Flow
from sandbox.views import SANDBOX_PERMISSION

from .player import FIELD_PREFIX, Player, new_state
from .reader import FlowDocument
from .wire import PhoneError

DEFAULT_WHATSAPP_ID = "15551234567"
_WHATSAPP_ID = re.compile(r"\d{6,20}")


@permission_required(SANDBOX_PERMISSION, raise_exception=True)
@require_GET
def by_meta_id(request: HttpRequest, flow_id: str) -> HttpResponse:
    """The sandbox page lists Meta's flows; this opens the phone for the business's flow with that
    Flow ID, the one whose messages would carry it."""
    flow = get_object_or_404(OurFlow.objects.order_by("-updated_at"), meta_flow_id=flow_id)
    return redirect("sandbox:phone", pk=flow.pk)


@permission_required(TRY_FLOWS_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def phone(request: HttpRequest, pk: int) -> HttpResponse:
    # Only what a Flow message carries is read from our side: the Flow ID, and the flow for its token.
    ours = get_object_or_404(OurFlow.objects.only("pk", "public_id", "name", "meta_flow_id"), pk=pk)
    meta = meta_copy(ours)
    if request.method == "POST":
        return _act(request, ours, meta)
    state = load_state(request, _key(ours))
    document = FlowDocument(meta.flow_json if meta is not None else "")
    screen = None
    if meta is not None and state and state["screen"] and not state["finished"]:
        screen = Player(meta, state).current_screen()
    context = {
        "flow": meta,
        "name": meta.name if meta is not None else ours.name,
        "meta_flow_id": ours.meta_flow_id,
        "our_pk": ours.pk,
        "state": state,
        "screen": screen,
        "field_prefix": FIELD_PREFIX,
        "default_whatsapp_id": (state or {}).get("whatsapp_id") or DEFAULT_WHATSAPP_ID,
        "uses_endpoint": document.uses_endpoint,
        "needs_init": document.needs_init(),
        "endpoint_url": meta.endpoint_uri if meta is not None else "",
    }
    return render(request, "sandbox/phone.html", context)


def meta_copy(ours: OurFlow) -> Flow | None:
    """The flow as the sandbox Meta holds it, found by the Flow ID a message would carry."""
    if not ours.meta_flow_id:
        return None
    return Flow.objects.select_related("account").filter(flow_id=ours.meta_flow_id).first()


def _act(request: HttpRequest, ours: OurFlow, meta: Flow | None) -> HttpResponse:
    op = request.POST.get("op")
    state = load_state(request, _key(ours))
    here = redirect("sandbox:phone", pk=ours.pk)
    if op == "reset":
        save_state(request, _key(ours), None)
        return here
    if meta is None:
        messages.error(
            request, "The sandbox Meta holds no copy of this flow: save it to Meta first."
        )
        return here
    if op == "start":
        whatsapp_id = request.POST.get("whatsapp_id", "").strip().lstrip("+")
        if not _WHATSAPP_ID.fullmatch(whatsapp_id):
            messages.error(request, "A WhatsApp id is the number in digits, 6 to 20 of them.")
            return here
        state = new_state(whatsapp_id, issue_flow_token(whatsapp_id=whatsapp_id, flow=ours))
        player = Player(meta, state)
        if not player.document.screens:
            messages.error(request, "This flow has no screens to play.")
            return here
        try:
            init_asked = request.POST.get("init") == "on"
            player.start(with_init=init_asked or player.document.needs_init())
        except PhoneError as exc:
            could_not_open(state, exc)
    elif state is None or state["finished"]:
        messages.error(request, "Start the flow first.")
        return here
    else:
        step(Player(meta, state), op or "", request.POST)
    save_state(request, _key(ours), state)
    return here


# --- the play state in the session -----------------------------------------------------------------


def _key(ours: OurFlow) -> str:
    return f"sandbox_phone:{ours.pk}"


def load_state(request: HttpRequest, key: str) -> dict | None:
    state = request.session.get(key)
    return state if isinstance(state, dict) else None


def save_state(request: HttpRequest, key: str, state: dict | None) -> None:
    if state is None:
        request.session.pop(key, None)
    else:
        request.session[key] = state


def step(player: Player, op: str, post: Any) -> None:
    """Back, or the footer pressed with what the form holds, on a flow being played."""
    if op == "back":
        player.back()
    elif op == "footer":
        try:
            player.press_footer(post)
        except PhoneError as exc:
            player.state["error"] = str(exc)


def could_not_open(state: dict, exc: PhoneError) -> None:
    """Show why opening failed; with no screen reached, the phone has nothing else to show."""
    state["error"] = str(exc)
    if not state["screen"] and not state["finished"]:
        state["finished"] = "The flow could not open: " + str(exc)
