"""The contract test of a customer's endpoint: does it answer each screen as the Flow JSON declares?

For every screen with a data_exchange action, the customer's endpoint gets the request WhatsApp would
relay through us, built from the flow's `__example__` values (a `${data.x}` in the payload is that
screen's example for x; a `${form.x}` a plausible value for that input), and each answer is checked
as the endpoint checks real traffic: reached within the time budget, a screen the routing model
allows from there, and data matching what that screen declares (missing or mistyped fields are
problems; undeclared ones are noted, WhatsApp ignores them).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from flowsadmin.models import Flow
from flowsadmin.tokens import issue_flow_token

from . import answers, relay
from .handling import customer_budget
from .screens import contract_problems, read_screens, undeclared_fields

_REF = re.compile(r"\$\{(data|form)\.([^.}\s]+)\}\Z")
# The test's flow token names nobody's number: the customer can tell a test from a person.
TEST_WHATSAPP_ID = "10000000000"


@dataclass
class ScreenResult:
    """What the customer's endpoint did with one screen's data_exchange."""

    screen: str
    request: dict
    reached: bool = False
    millis: int | None = None
    next_screen: str = ""
    routing_ok: bool | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.reached and self.routing_ok is not False and not self.problems


def check_customer_endpoint(flow: Flow) -> list[ScreenResult]:
    """Send each data_exchange screen's example request to the flow's customer endpoint, with the
    relay's own time and size budget; one result per screen, in the Flow JSON's order. Nothing is
    recorded: a test is not the flow's health."""
    document = json.loads(flow.flow_json or "{}")
    screens = read_screens(flow.flow_json or "")
    token = issue_flow_token(whatsapp_id=TEST_WHATSAPP_ID, flow=flow)
    results = []
    for raw in document.get("screens") or []:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            continue
        payload = _exchange_payload(raw)
        if payload is None:
            continue
        request = {
            "version": "3.0",
            "action": "data_exchange",
            "screen": raw["id"],
            "data": {
                k: _example(v, raw) for k, v in payload.items() if k not in ("ct-evt", "ct-up")
            },
            "flow_token": token,
        }
        results.append(_try(flow, screens, request))
    return results


def _try(flow: Flow, screens: Any, request: dict) -> ScreenResult:
    result = ScreenResult(screen=request["screen"], request=request)
    started = time.monotonic()
    try:
        answer = relay.post_json(flow.customer_endpoint_url, request, **customer_budget())
    except relay.RelayError as exc:
        result.millis = round((time.monotonic() - started) * 1000)
        result.problems.append(str(exc))
        return result
    result.millis = round((time.monotonic() - started) * 1000)
    result.reached = True
    screen, data = answer.get("screen"), answer.get("data", {})
    if not isinstance(screen, str) or not isinstance(data, dict):
        result.problems.append("The answer has no screen name, or its data is not an object.")
        return result
    result.next_screen = screen
    if screen == answers.SUCCESS:
        result.routing_ok = True
        extension = data.get("extension_message_response")
        if not isinstance(extension, dict) or not isinstance(extension.get("params"), dict):
            result.problems.append("SUCCESS without extension_message_response params.")
        return result
    if screen not in screens.ids:
        result.routing_ok = False
        result.problems.append(f"{screen[:100]!r} is not a screen of the flow.")
        return result
    result.routing_ok = screens.allows(request["screen"], screen)
    if not result.routing_ok:
        result.problems.append(f"The routing model has no route {request['screen']} → {screen}.")
    declared = screens.declared.get(screen, {})
    result.problems += contract_problems(declared, data)
    extra = undeclared_fields(declared, data)
    if extra:
        names = ", ".join(f'"{name}"' for name in extra)
        result.notes.append(f"{screen} does not declare {names}: WhatsApp ignores them.")
    return result


def _exchange_payload(screen: dict) -> dict | None:
    """The payload of the screen's first data_exchange action (Footer, link, option...), if any."""
    stack: list[Any] = [screen.get("layout")]
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            if item.get("name") == "data_exchange" and "payload" in item:
                payload = item.get("payload")
                return payload if isinstance(payload, dict) else {}
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _example(value: Any, screen: dict) -> Any:
    """A payload value with its reference replaced by an example, as a user's answer would be."""
    match = _REF.match(value) if isinstance(value, str) else None
    if match is None:
        return value
    kind, name = match.groups()
    if kind == "data":
        decl = (screen.get("data") or {}).get(name)
        return decl.get("__example__", "") if isinstance(decl, dict) else ""
    return _input_example(screen, name)


def _input_example(screen: dict, name: str) -> Any:
    """What a person could have entered in the input `name`: its first option, a date, some text."""
    stack: list[Any] = [screen.get("layout")]
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            if item.get("name") == name and "type" in item:
                return _value_for(item, screen)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return "Test"


def _value_for(component: dict, screen: dict) -> Any:
    kind = component.get("type")
    options = component.get("data-source")
    if isinstance(options, str):  # "${data.rooms}": the example list
        options = _example(options, screen)
    first = (
        options[0].get("id")
        if isinstance(options, list) and options and isinstance(options[0], dict)
        else None
    )
    if kind in ("CheckboxGroup", "ChipsSelector"):
        return [first] if first else []
    if kind in ("RadioButtonsGroup", "Dropdown"):
        return first or ""
    if kind == "OptIn":
        return True
    if kind in ("DatePicker", "CalendarPicker"):
        return "2025-01-01"
    if kind == "TextInput" and component.get("input-type") == "number":
        return "1"
    return "London"
