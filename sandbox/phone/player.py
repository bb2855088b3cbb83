"""Playing one flow: the screen the user is on, what each footer press does, and the completion.

The play state is a plain dict (kept in the session by the views), so the page is server-rendered and
works without JavaScript. What each footer does, as on a phone:

- `navigate`: go to the target screen with the resolved payload as its data; no server is called;
- `data_exchange` (and INIT when asked for, or when the first screen needs the endpoint's data): send
  the clear request sealed as Meta does to the flow's endpoint_uri and draw the screen the answer names;
- `complete`: send the signed `messages` webhook carrying the `nfm_reply` from the user's WhatsApp id,
  through `send_webhook`, so it is recorded on the sandbox page and delivered like any other.

How the flow opens, and with which token, is what the tapped message says: `new_state` takes the flow
token and the message's wamid (the completion's `context.id`), `start` the action, landing screen and
data. A template message in the inbox gives all of them (`open_message`); the page that plays one of our
flows for a typed WhatsApp id makes them up as a Flow message would.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sandbox.models import Flow, Message, PhoneNumber
from sandbox.services import send_webhook

from .reader import LIST_KINDS, FlowDocument, Resolver, Screen
from .wire import Business, FlowClosed, PhoneError, call_endpoint

# The screen name an endpoint answers with to end the flow.
SUCCESS = "SUCCESS"
# Inputs are posted as f.<name>, so a flow's field can't clash with the page's own (op, csrf).
FIELD_PREFIX = "f."


def new_state(whatsapp_id: str, flow_token: str, *, context_id: str = "") -> dict:
    """A fresh play state; context_id is the wamid of the message whose button was tapped (one is
    made up when there is no real message)."""
    return {
        "whatsapp_id": whatsapp_id,
        "flow_token": flow_token,
        "context_id": context_id or Message.new_wamid(),
        "screen": "",
        "data": {},
        "values": {},  # what was typed on the current screen, to refill it after an error
        "screens": {},  # screen id -> {"form": answers, "data": data} for ${screen.ID...}
        "history": [],  # [(screen, data)] for the back button
        "error": "",
        "finished": "",
        "calls": [],  # the endpoint calls made, newest last, shown under the phone
    }


class Player:
    """One flow as the sandbox Meta holds it, played from one play state."""

    def __init__(self, flow: Flow, state: dict, *, sender: PhoneNumber | None = None) -> None:
        """sender: the business number the tapped message came from; the completion names it, and
        its public key seals the endpoint calls when it has one."""
        self.flow = flow
        self.document = FlowDocument(flow.flow_json)
        self.business = Business.of(flow.account, prefer=sender)
        self.sender = sender
        self.state = state

    def current_screen(self, values: dict | None = None) -> Screen | None:
        """The screen the user is on, drawn with its data and (after an error) what was typed."""
        state = self.state
        form = state["values"] if values is None else values
        return self.document.screen(
            state["screen"], Resolver(state["data"], form, state["screens"])
        )

    def start(self, *, with_init: bool, screen: str = "", data: dict | None = None) -> None:
        """Open the flow as a tap on the message's button does: with INIT to the endpoint
        (data_exchange), or locally at `screen` (the first when empty) with `data` as that screen's
        data (navigate, whose data is the message's flow_action_data)."""
        if with_init:
            self.exchange({"action": "INIT"})
            return
        target = screen or self.document.first_screen()
        if target not in self.document.screens:
            raise PhoneError(f"The message opens screen {target!r}, which is not in this Flow.")
        self.go_to(target, dict(data or {}), push=False)

    def open_message(self, message: Message) -> None:
        """The user tapped the Flow button of a template message: open the flow as it says.

        navigate lands on navigate_screen with flow_action_data as its data; data_exchange asks the
        endpoint with INIT, which carries only the flow token (Meta sends no flow_action_data there).
        """
        if message.flow_action == "data_exchange":
            self.start(with_init=True)
        else:
            self.start(
                with_init=False, screen=message.navigate_screen, data=message.flow_action_data
            )

    def back(self) -> None:
        state = self.state
        if state["history"]:
            state["screen"], state["data"] = state["history"].pop()
            state["values"] = state["screens"].get(state["screen"], {}).get("form", {})
            state["error"] = ""

    def press_footer(self, post: Any) -> None:
        """The user pressed the current screen's footer with what the form holds."""
        state = self.state
        screen_id = state["screen"]
        screen = self.current_screen(values={})
        if screen is None:
            raise PhoneError(f"Screen {screen_id} is not in this Flow.")
        values, missing = read_inputs(screen, post)
        state["values"] = values
        if missing:
            raise PhoneError("Fill in: " + ", ".join(missing) + ".")
        state["screens"][screen_id] = {"form": values, "data": state["data"]}
        action = screen.footer.action if screen.footer is not None else {}
        name = action.get("name")
        resolver = Resolver(state["data"], values, state["screens"])
        payload = resolver.value(action.get("payload") or {})
        payload = payload if isinstance(payload, dict) else {}
        state["error"] = ""
        if name == "navigate":
            nxt = action.get("next")
            target = nxt.get("name") if isinstance(nxt, dict) else None
            if target not in self.document.screens:
                raise PhoneError(f"The footer navigates to {target!r}, which is not in this Flow.")
            self.go_to(target, payload)
        elif name == "data_exchange":
            self.exchange({"action": "data_exchange", "screen": screen_id, "data": payload})
        elif name == "complete":
            self.complete(payload)
        else:
            raise PhoneError(f"The footer's action {name!r} is not one the phone can play.")

    def go_to(self, screen_id: str, data: dict, *, push: bool = True) -> None:
        state = self.state
        if push and state["screen"]:
            state["history"].append([state["screen"], state["data"]])
        state["screen"] = screen_id
        state["data"] = data
        state["values"] = {}

    def exchange(self, request: dict) -> None:
        """Send INIT or data_exchange and move the phone to the screen the answer names."""
        state = self.state
        request = {
            "version": self.document.data_api_version,
            **request,
            "flow_token": state["flow_token"],
        }
        try:
            answer = call_endpoint(self.flow.endpoint_uri, request, self.business, state["calls"])
        except FlowClosed as exc:
            state["finished"] = str(exc)
            raise
        screen_id = answer.get("screen")
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        if screen_id == SUCCESS:
            params = data.get("extension_message_response", {})
            params = params.get("params") if isinstance(params, dict) else None
            self.complete(params if isinstance(params, dict) else {})
            return
        if "error_msg" in answer and not screen_id:
            raise PhoneError(str(answer["error_msg"]))
        if not isinstance(screen_id, str) or screen_id not in self.document.screens:
            raise PhoneError(
                f"The endpoint named screen {screen_id!r}, which is not in this Flow "
                "(INVALID_SCREEN_TRANSITION)."
            )
        current = state["screen"]
        if current and not self.document.may_go(current, screen_id):
            raise PhoneError(
                f"The routing model does not allow {current} → {screen_id} (INVALID_SCREEN_TRANSITION)."
            )
        error = data.get("error_message")
        shown = {k: v for k, v in data.items() if k != "error_message"}
        if screen_id == current and error:
            state["data"] = state["data"] | shown  # stay, with what was typed still in the inputs
        else:
            self.go_to(screen_id, shown, push=bool(current))
        state["error"] = str(error) if error else ""

    def complete(self, params: dict) -> None:
        """The user's chat gets the flow response: the signed nfm_reply `messages` webhook."""
        state = self.state
        response_json = dict(params)
        response_json.setdefault("flow_token", state["flow_token"])
        phone = self.sender or self.business.phone
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
        # The reply goes to the WABA whose number sent the message (the flow's own, on Meta).
        account = self.sender.account if self.sender is not None else self.business.account
        delivery = send_webhook(account, "messages", value)
        delivery.refresh_from_db()
        state["finished"] = "Flow finished, answers sent to the business."
        state["webhook"] = {"pk": delivery.pk, "result": delivery.result, "target": delivery.target}
        state["error"] = ""


def read_inputs(screen: Screen, post: Any) -> tuple[dict, list[str]]:
    """The screen's input values from the posted form, and the labels of required ones left empty."""
    values: dict[str, Any] = {}
    missing: list[str] = []
    for c in screen.inputs:
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
