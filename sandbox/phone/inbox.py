"""The sandbox phone's inbox: the template messages the sandbox Meta delivered to one WhatsApp id, and
each message's page, where tapping its Flow button plays the flow the message names.

Everything comes from the sandbox Meta's side, as on a real phone: the message as it was delivered
(header, body, footer, button, and what the button opens: flow id, action, landing screen, flow token
and flow_action_data) and the sandbox Meta's copy of that flow (its JSON and endpoint_uri). The phone
never issues a token here: every endpoint call and the completion carry the message's flow_token, and
the completion's `context.id` is the message's wamid.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Count, Max, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from sandbox.models import Flow, Message, SentWebhook
from sandbox.views import SANDBOX_PERMISSION

from .player import FIELD_PREFIX, Player, new_state
from .views import could_not_open, load_state, save_state, step
from .wire import PhoneError

# How many messages an inbox shows, newest first, and how many numbers the picker lists.
INBOX_SIZE = 50
RECIPIENTS_SHOWN = 30
# A WhatsApp id as typed: digits, perhaps with +, spaces, dashes or brackets (the sandbox's sends
# strip the same characters from `to`).
_SEPARATORS = re.compile(r"[\s()+-]")
_WHATSAPP_ID = re.compile(r"[0-9]{6,20}")
# WhatsApp's formatting marks, within one line: https://faq.whatsapp.com/539178204879377
_FORMATTING = [
    (re.compile(r"```([^`\n]+)```"), "code"),
    (re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~([^~\n]+)~(?![\w~])"), "s"),
]
# What WhatsApp shows when a tapped Flow button's flow can't be opened any more.
UNAVAILABLE = "This flow is no longer available."
NO_BUTTON = "This message has no Flow button."


def _typed_whatsapp_id(text: str) -> str:
    """The WhatsApp id in what was typed, or "" when it is not one."""
    digits = _SEPARATORS.sub("", text or "")
    return digits if _WHATSAPP_ID.fullmatch(digits) else ""


@dataclass(frozen=True)
class Bubble:
    """A template message as the phone draws it, and whether the person answered it with the flow."""

    message: Message
    replied: bool = False

    @property
    def body_html(self) -> str:
        """The body with WhatsApp's formatting drawn (*bold*, _italic_, ~strike~, ```mono```); the
        text is escaped first, so only these tags can appear."""
        text = str(escape(self.message.body_text))
        for pattern, tag in _FORMATTING:
            text = pattern.sub(rf"<{tag}>\1</{tag}>", text)
        return mark_safe(text)  # escaped above; the patterns add only these fixed tags

    @property
    def media_name(self) -> str:
        """The name under an image, video or document header: the file name sent, else the link's
        last path segment, else the media id (the phone never fetches the media)."""
        media = self.message.header_media or {}
        if media.get("filename"):
            return str(media["filename"])
        if media.get("link"):
            name = unquote(urlsplit(str(media["link"])).path.rsplit("/", 1)[-1])
            return name or str(media["link"])
        return f"media {media['id']}" if media.get("id") else ""


def bubbles(received: list[Message]) -> list[Bubble]:
    """The messages with their replies: a completed flow shows as the person's "Sent" under it.

    The replies are the nfm_reply webhooks the sandbox sent, found by the message's wamid in their
    context; one query for the whole inbox.
    """
    wamids = {m.wamid for m in received}
    replied: set[str] = set()
    if wamids:
        mentions = Q()
        for wamid in wamids:
            mentions |= Q(body__contains=wamid)
        sent = SentWebhook.objects.filter(mentions, field="messages", body__contains='"nfm_reply"')
        for body in sent.values_list("body", flat=True):
            replied.update(_context_ids(body))
    return [Bubble(m, replied=m.wamid in replied) for m in received]


def _context_ids(body: str) -> list[str]:
    """The wamids a `messages` webhook's messages reply to."""
    try:
        change = json.loads(body)["entry"][0]["changes"][0]["value"]
        return [str(m["context"]["id"]) for m in change.get("messages", []) if "context" in m]
    except (ValueError, KeyError, IndexError, TypeError):
        return []


def _unavailable(message: Message, flow: Flow | None) -> str:
    """Why the message's Flow button opens nothing ("" when it opens its flow), for the sandbox user.

    WhatsApp opens published and throttled flows (throttling limits sends, not opens); a deprecated
    or blocked flow, or one Meta no longer holds, shows only that it is no longer available.
    """
    if not message.button_flow_id:
        return NO_BUTTON
    if flow is None:
        return (
            f"The sandbox Meta holds no flow {message.button_flow_id} (the Flow ID the button "
            "names): it was deleted, or its account removed."
        )
    if flow.status in (Flow.Status.DEPRECATED, Flow.Status.BLOCKED):
        return f"{flow.name} ({flow.flow_id}) is {flow.status} on the sandbox Meta: WhatsApp won't open it."
    if flow.status == Flow.Status.DRAFT and not message.sent_in_draft_mode:
        return f"{flow.name} ({flow.flow_id}) is a DRAFT: a template's button opens only published flows."
    return ""


def _flow_of(message: Message) -> Flow | None:
    """The sandbox Meta's flow with the Flow ID the button names (not our tables, not the FK, which
    a deleted flow leaves empty)."""
    if not message.button_flow_id:
        return None
    return Flow.objects.select_related("account").filter(flow_id=message.button_flow_id).first()


def _key(message: Message) -> str:
    return f"sandbox_phone:message:{message.pk}"


@permission_required(SANDBOX_PERMISSION, raise_exception=True)
@require_GET
def inbox(request: HttpRequest, whatsapp_id: str = "") -> HttpResponse:
    """One WhatsApp id's inbox, newest first, from every business number; without an id, the picker."""
    typed = request.GET.get("whatsapp_id")
    if typed is not None:
        found = _typed_whatsapp_id(typed)
        if found:
            return redirect("sandbox:inbox", whatsapp_id=found)
        messages.error(
            request, "A WhatsApp id is the number with its country code: 6 to 20 digits."
        )
    if whatsapp_id and not _WHATSAPP_ID.fullmatch(whatsapp_id):
        raise Http404("Not a WhatsApp id.")
    delivered = Message.objects.exclude(status=Message.Status.FAILED)
    received = (
        delivered.filter(to=whatsapp_id)
        .select_related("phone")
        .order_by("-created_at", "-pk")[:INBOX_SIZE]
        if whatsapp_id
        else []
    )
    recipients = (
        delivered.values("to")
        .annotate(count=Count("pk"), latest=Max("created_at"))
        .order_by("-latest")[:RECIPIENTS_SHOWN]
    )
    context = {
        "whatsapp_id": whatsapp_id,
        "bubbles": bubbles(list(received)),
        "recipients": recipients,
        "typed": typed if typed is not None else whatsapp_id,
        "inbox_size": INBOX_SIZE,
    }
    return render(request, "sandbox/inbox.html", context)


@permission_required(SANDBOX_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def message_page(request: HttpRequest, pk: int) -> HttpResponse:
    """One message in its chat, and the flow its button opened, played screen by screen."""
    message = get_object_or_404(Message.objects.select_related("phone__account"), pk=pk)
    flow = _flow_of(message)
    if request.method == "POST":
        return _act(request, message, flow)
    state = load_state(request, _key(message))
    screen = None
    if flow is not None and state and state["screen"] and not state["finished"]:
        screen = Player(flow, state, sender=message.phone).current_screen()
    context = {
        "bubble": bubbles([message])[0],
        "message": message,
        "flow": flow,
        "unavailable": _unavailable(message, flow),
        "state": state,
        "screen": screen,
        "field_prefix": FIELD_PREFIX,
        "action_data": json.dumps(message.flow_action_data, ensure_ascii=False)
        if message.flow_action_data
        else "",
    }
    return render(request, "sandbox/phone_message.html", context)


def _act(request: HttpRequest, message: Message, flow: Flow | None) -> HttpResponse:
    op = request.POST.get("op", "")
    here = redirect("sandbox:phone_message", pk=message.pk)
    if op == "reset":
        save_state(request, _key(message), None)
        return here
    why = _unavailable(message, flow)
    if why == NO_BUTTON:
        messages.error(request, "This message has no Flow button to tap.")
        return here
    if op == "tap":
        state = new_state(message.to, message.flow_token, context_id=message.wamid)
        if why or flow is None:
            # What WhatsApp shows in place of the flow; the sandbox says why underneath.
            state["finished"], state["note"] = UNAVAILABLE, why
        else:
            player = Player(flow, state, sender=message.phone)
            try:
                if not player.document.screens:
                    raise PhoneError("This flow has no screens to play.")
                player.open_message(message)
            except PhoneError as exc:
                could_not_open(state, exc)
    else:
        state = load_state(request, _key(message))
        if state is None or state["finished"]:
            messages.error(request, "Tap the message's button first.")
            return here
        if why or flow is None:
            # The flow went away while it was open: the next step can't be drawn.
            state["finished"], state["note"] = UNAVAILABLE, why
        else:
            step(Player(flow, state, sender=message.phone), op, request.POST)
    save_state(request, _key(message), state)
    return here
