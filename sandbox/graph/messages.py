"""The Graph API stand-in: sending template messages; their statuses follow by webhook.

A send is checked as the Cloud API checks it, in this order, each refusal with Meta's code
(https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes):

    131008  a required parameter is missing (to, template.name, a parameter's text)
    100     `to` is not a phone number ("Invalid parameter"), or a NAMED parameter without its name
    132001  no template of that name in that language, or one that is not approved yet
    132015  the template is paused;  132016  it is disabled
    132068  its flow is blocked (or deprecated);  132069  its flow is throttled and was sent 10 times
            in the last hour
    132000  a component has more or fewer parameters than the template has variables
    132012  a header parameter that is not the header's kind (an image for a video header)
    131009  a parameter value that is not valid: above all a template with a Flow button sent without
            the button component (sub_type flow, its index), or with an empty flow_token

Before those checks, two of Meta's limits and the test knobs:

    130429  more sends in the last second than the number's throughput (80 a second for STANDARD,
            1,000 for HIGH)
    any of SEND_ERRORS when the fault knobs ask for it (Faults.error_code, error_code_rate and
            error_code_to: "answer 131049 to 30% of sends")

The message keeps what the sandbox phone shows: the header, body and footer with the values filled in,
the button's text, and what tapping it opens (flow, action, screen, token and data).
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import defaultdict, deque
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import tasks
from ..models import (
    THROTTLED_SENDS_PER_HOUR,
    Account,
    Faults,
    Flow,
    Message,
    PhoneNumber,
    Template,
)
from ..services import STATUS_DELAY
from .core import Call, GraphError, invalid, route, send_error
from .template_rules import VARIABLE, variables

MEDIA = ("IMAGE", "VIDEO", "DOCUMENT")
THROUGHPUT = {"STANDARD": 80, "HIGH": 1000}
# Meta's titles for the send errors the fault knobs can ask for.
SEND_ERRORS = {
    130429: "Rate limit hit",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131048: "Spam rate limit hit",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "Unable to deliver the message. This recipient has chosen to stop receiving marketing "
    "messages on WhatsApp from your business.",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131057: "Account in maintenance mode",
    132000: "Number of parameters does not match the expected number of params",
    132012: "Parameter format does not match format in the created template",
    132015: "Template is Paused",
    132016: "Template is Disabled",
    132068: "Flow is in blocked state",
    132069: "Flow is in throttled state",
}
TRANSIENT = {130429, 131000, 131056, 131057}
# Send times per phone number in the last second; the sandbox is one process (runserver or the
# test's live server), so memory is the whole truth.
_recent: dict[str, deque] = defaultdict(deque)
_recent_lock = threading.Lock()


def _check_throughput(phone: PhoneNumber) -> None:
    """130429 beyond the number's messages per second, counted over the last second."""
    limit = THROUGHPUT.get(phone.throughput_level, 80)
    now = time.monotonic()
    with _recent_lock:
        sends = _recent[phone.phone_number_id]
        while sends and sends[0] <= now - 1:
            sends.popleft()
        if len(sends) >= limit:
            raise send_error(
                130429,
                "Rate limit hit",
                f"Message failed to send because there were too many messages sent from this "
                f"phone number in a short period of time ({limit} a second).",
            )
        sends.append(now)


def _injected_fault(to: str) -> None:
    faults = Faults.current()
    if not faults.error_code or (faults.error_code_to and faults.error_code_to != to):
        return
    if random.random() < faults.error_code_rate:  # a knob, not a secret
        code = faults.error_code
        title = SEND_ERRORS.get(code, "An error the sandbox was asked to give")
        error = send_error(code, title, f"The sandbox's fault knob answered {code}.")
        error.transient = code in TRANSIENT
        raise error


def _missing(details: str) -> GraphError:
    return send_error(131008, "Required parameter is missing", details)


def _not_valid(details: str) -> GraphError:
    return send_error(131009, "Parameter value is not valid", details)


@route("phone", "messages", "POST")
def send_message(call: Call, phone: PhoneNumber) -> dict:
    """POST /{phone-number-id}/messages: template messages; statuses follow by webhook."""
    params = call.params
    if params.get("messaging_product") != "whatsapp":
        raise invalid("The parameter messaging_product is required and must be whatsapp.")
    to = params.get("to")
    if not to:
        raise _missing("The parameter to is required.")
    wa_id = re.sub(r"[\s()+-]", "", str(to))
    if not re.fullmatch(r"[0-9]{6,15}", wa_id):
        raise send_error(
            100,
            "Invalid parameter",
            f"The recipient {to} is not a phone number: write it with its country code, digits only.",
        )
    _check_throughput(phone)
    _injected_fault(wa_id)
    kind = params.get("type", "text")
    if kind == "interactive":
        return _send_interactive(phone, params, to=str(to), wa_id=wa_id)
    if kind != "template":
        raise _not_valid(
            "The sandbox sends template messages and interactive Flow messages only (type "
            "template or interactive)."
        )
    spec = params.get("template")
    name = spec.get("name") if isinstance(spec, dict) else None
    if not isinstance(name, str) or not name:
        raise _missing("The parameter template.name is required.")
    language = spec.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    template = _sendable_template(phone.account, name, code if isinstance(code, str) else "")
    flow = _check_sendable_flow(template)
    callback = params.get("biz_opaque_callback_data")
    if callback is not None and (not isinstance(callback, str) or len(callback) > 512):
        raise send_error(
            100,
            "Invalid parameter",
            "biz_opaque_callback_data is a string of at most 512 characters.",
        )
    shown = _render(template, spec.get("components"), flow)
    with transaction.atomic():
        message = Message.objects.create(
            phone=phone,
            wamid=Message.new_wamid(),
            to=wa_id,
            template=template,
            template_name=template.name,
            flow=flow,
            payload=params,
            biz_opaque_callback_data=callback or "",
            **shown,
        )
        tasks.advance_message_task.apply_async_on_commit((message.pk,), countdown=STATUS_DELAY)
    return _accepted(message, to=str(to), wa_id=wa_id)


def _accepted(message: Message, *, to: str, wa_id: str) -> dict:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": wa_id}],
        "messages": [{"id": message.wamid, "message_status": "accepted"}],
    }


# --- interactive Flow messages --------------------------------------------------------------------


def _send_interactive(phone: PhoneNumber, params: dict, *, to: str, wa_id: str) -> dict:
    """An interactive Flow message (type interactive, interactive.type flow), checked as Meta does:
    flow_message_version "3", one of flow_id / flow_name naming a flow of this account, a flow_cta
    of at most 20 characters, a body, and mode draft for a DRAFT flow (the only way to send one)."""
    interactive = params.get("interactive")
    if not isinstance(interactive, dict) or interactive.get("type") != "flow":
        raise _not_valid("interactive.type must be flow: the sandbox sends Flow messages only.")
    action = interactive.get("action")
    parameters = action.get("parameters") if isinstance(action, dict) else None
    if not isinstance(parameters, dict) or action.get("name") != "flow":
        raise _missing("interactive.action needs name flow and its parameters.")
    if str(parameters.get("flow_message_version", "")) != "3":
        raise _not_valid('flow_message_version must be "3".')
    flow = _interactive_flow(phone.account, parameters)
    cta = parameters.get("flow_cta")
    if not isinstance(cta, str) or not cta.strip():
        raise _missing("The parameter flow_cta is required.")
    if len(cta) > 20:
        raise _not_valid("flow_cta is at most 20 characters.")
    body = interactive.get("body")
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise _missing("The parameter interactive.body.text is required.")
    mode = parameters.get("mode", "published")
    if mode not in ("published", "draft"):
        raise _not_valid('mode is "published" or "draft".')
    if flow.status == Flow.Status.DRAFT and mode != "draft":
        raise _not_valid(f"The flow {flow.flow_id} is a DRAFT: send it with mode draft.")
    token = parameters.get("flow_token", "unused")
    if not isinstance(token, str) or not token.strip():
        raise _not_valid("flow_token can't be empty.")
    flow_action = parameters.get("flow_action", "navigate")
    payload = parameters.get("flow_action_payload") or {}
    if flow_action not in ("navigate", "data_exchange") or not isinstance(payload, dict):
        raise _not_valid('flow_action is "navigate" or "data_exchange".')
    screen = payload.get("screen") or ""
    if flow_action == "navigate":
        screen = screen or next(iter(flow.screen_ids()), "")
        if screen not in flow.entry_screens():
            raise _not_valid(f"flow_action_payload.screen {screen!r} is not an entry screen.")
    data = payload.get("data")
    if data is not None and (not isinstance(data, dict) or not data):
        raise _not_valid("flow_action_payload.data must be a non-empty object.")
    header = interactive.get("header")
    footer = interactive.get("footer")
    with transaction.atomic():
        message = Message.objects.create(
            phone=phone,
            wamid=Message.new_wamid(),
            to=wa_id,
            template_name="",
            flow=flow,
            payload=params,
            header_format="TEXT" if isinstance(header, dict) and header.get("text") else "",
            header_text=header.get("text", "") if isinstance(header, dict) else "",
            body_text=text,
            footer_text=footer.get("text", "") if isinstance(footer, dict) else "",
            button_text=cta,
            button_flow_id=flow.flow_id,
            flow_action=flow_action,
            navigate_screen=screen if flow_action == "navigate" else "",
            flow_token=token,
            flow_action_data=data or {},
        )
        tasks.advance_message_task.apply_async_on_commit((message.pk,), countdown=STATUS_DELAY)
    return _accepted(message, to=to, wa_id=wa_id)


def _interactive_flow(account: Account, parameters: dict) -> Flow:
    flow_id, name = parameters.get("flow_id"), parameters.get("flow_name")
    if bool(flow_id) == bool(name):
        raise _missing("Give exactly one of flow_id and flow_name.")
    found = account.flows.filter(**({"flow_id": str(flow_id)} if flow_id else {"name": name}))
    flow = found.first()
    if flow is None:
        raise _not_valid(f"No flow {flow_id or name!r} in this WhatsApp Business Account.")
    if flow.status in (Flow.Status.BLOCKED, Flow.Status.DEPRECATED):
        raise GraphError(
            132068,
            "(#132068) Flow is in blocked state",
            details=f"The flow {flow.flow_id} is {flow.status} and cannot be sent.",
        )
    return flow


def _sendable_template(account: Account, name: str, code: str) -> Template:
    """The approved template of that name and language (en_US and en-US are the same language)."""
    template = (
        account.templates.filter(name=name, language__in={code, code.replace("-", "_")})
        .order_by("pk")
        .first()
    )
    if template is None:
        raise send_error(
            132001,
            "Template name does not exist in the translation",
            f"template name ({name}) does not exist in {code or 'the given language'}",
            status=404,
        )
    if template.status == Template.Status.PAUSED:
        raise send_error(
            132015,
            "Template is Paused",
            f"Template {name} is paused due to low quality so it cannot be sent in a template "
            "message.",
        )
    if template.status == Template.Status.DISABLED:
        raise send_error(
            132016,
            "Template is Disabled",
            f"Template {name} has been paused too many times due to low quality and is now "
            "permanently disabled.",
        )
    if not template.can("send"):
        raise send_error(
            132001,
            "Template name does not exist in the translation",
            f"template name ({name}) is {template.status}, not APPROVED",
            status=404,
        )
    return template


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


# --- the parameters, checked against the template and filled in -----------------------------------


def _render(template: Template, raw: object, flow: Flow | None) -> dict:
    """The Message fields the phone shows, from the template and the send's components."""
    sent = _sent_components(raw)
    named = template.parameter_format == "NAMED"
    shown: dict[str, object] = {}
    header = template.component("HEADER")
    if header is None:
        _count(sent["header"], 0, "header")
    else:
        shown |= _header(header, sent["header"], named=named)
    body = template.component("BODY") or {"text": ""}
    shown["body_text"] = _fill(body["text"], sent["body"], named=named, where="body")
    shown["footer_text"] = (template.component("FOOTER") or {}).get("text", "")
    shown |= _flow_button(template, sent["buttons"], flow)
    return shown


def _sent_components(raw: object) -> dict:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise _not_valid("template.components must be an array of components.")
    found: dict = {"header": None, "body": None, "buttons": []}
    for component in raw:
        kind = str(component.get("type", "")).lower() if isinstance(component, dict) else ""
        if kind == "button":
            found["buttons"].append(component)
        elif kind in ("header", "body") and found[kind] is None:
            found[kind] = component
        else:
            raise _not_valid(f"Unexpected component {kind or component!r} in template.components.")
    return found


def _parameters(component: dict | None, where: str) -> list:
    parameters = (component or {}).get("parameters") or []
    if not isinstance(parameters, list) or not all(isinstance(p, dict) for p in parameters):
        raise _not_valid(f"{where}: parameters must be an array of objects.")
    return parameters


def _count(component: dict | None, expected: int, where: str) -> list:
    parameters = _parameters(component, where)
    if len(parameters) != expected:
        raise send_error(
            132000,
            "Number of parameters does not match the expected number of params",
            f"{where}: number of localizable_params ({len(parameters)}) does not match the "
            f"expected number of params ({expected})",
        )
    return parameters


def _fill(text: str, component: dict | None, *, named: bool, where: str) -> str:
    """The text with each variable replaced by its parameter's value."""
    names = list(dict.fromkeys(variables(text)))
    parameters = _count(component, len(names), where)
    values: dict[str, str] = {}
    for position, parameter in enumerate(parameters, start=1):
        if named:
            name = parameter.get("parameter_name")
            if not isinstance(name, str) or not name:
                raise send_error(100, "Invalid parameter", "Parameter name is missing or empty")
            if name not in names:
                raise _not_valid(f"{where}: {name} is not a parameter of the template.")
        else:
            name = str(position)
        values[name] = _value(parameter, where, position)
    return VARIABLE.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def _value(parameter: dict, where: str, position: int) -> str:
    """A text parameter's text; currency and date_time parameters show their fallback_value."""
    kind = parameter.get("type")
    if kind == "text":
        value = parameter.get("text")
    elif kind in ("currency", "date_time") and isinstance(parameter.get(kind), dict):
        value = parameter[kind].get("fallback_value")
    else:
        raise send_error(
            132012,
            "Parameter format does not match format in the created template",
            f"{where}: parameter {position} is of type {kind}; this variable takes text.",
        )
    if not isinstance(value, str) or not value.strip():
        raise _missing(f"{where}: parameter {position} has no text.")
    return value


def _header(header: dict, component: dict | None, *, named: bool) -> dict:
    kind = str(header.get("format", "TEXT")).upper()
    if kind == "TEXT":
        text = _fill(header.get("text", ""), component, named=named, where="header")
        return {"header_format": kind, "header_text": text}
    parameters = _parameters(component, "header")
    parameter = parameters[0] if len(parameters) == 1 else {}
    received = str(parameter.get("type") or "UNKNOWN").upper()
    value = parameter.get(received.lower())
    if received != kind or not isinstance(value, dict):
        raise send_error(
            132012,
            "Parameter format does not match format in the created template",
            f"header: Format mismatch, expected {kind}, received {received}",
        )
    if kind in MEDIA:
        if not value.get("id") and not value.get("link"):
            raise _missing(f"header: the {kind.lower()} needs an id or a link.")
        keep = ("id", "link", "filename")
    else:
        if value.get("latitude") is None or value.get("longitude") is None:
            raise _missing("header: a location needs its latitude and longitude.")
        keep = ("latitude", "longitude", "name", "address")
    return {"header_format": kind, "header_media": {k: value[k] for k in keep if k in value}}


def _flow_button(template: Template, buttons: list[dict], flow: Flow | None) -> dict:
    """The FLOW button's send-time values; a template with one can't be sent without them."""
    sent = [b for b in buttons if str(b.get("sub_type", "")).lower() == "flow"]
    found = template.flow_button()
    if found is None:
        if sent:
            raise _not_valid("button: the template has no FLOW button.")
        return {}
    index, button = found
    if not sent:
        raise _not_valid(
            f"The template has a FLOW button at index {index}: add a button component with "
            f'sub_type flow, index "{index}" and an action parameter carrying the flow_token.'
        )
    component = sent[0]
    if str(component.get("index")) != str(index):
        raise _not_valid(
            f"button: the FLOW button is at index {index}, not {component.get('index')}."
        )
    parameters = _parameters(component, "button")
    action = parameters[0].get("action") if len(parameters) == 1 else None
    if not isinstance(action, dict) or parameters[0].get("type") != "action":
        raise _not_valid("button: a FLOW button takes one parameter of type action.")
    token = action.get("flow_token", "unused")
    if not isinstance(token, str) or not token.strip():
        raise _not_valid("button: flow_token can't be empty.")
    data = action.get("flow_action_data")
    if data is not None and (not isinstance(data, dict) or not data):
        raise _not_valid("button: flow_action_data must be a non-empty object.")
    flow_action = button.get("flow_action", "navigate")
    screen = button.get("navigate_screen") or ""
    if flow_action == "navigate" and not screen and flow is not None:
        # Meta opens the flow's first screen when the template names none.
        screen = next(iter(flow.screen_ids()), "")
    return {
        "button_text": button.get("text", ""),
        "button_flow_id": str(button.get("flow_id", "")),
        "flow_action": flow_action,
        "navigate_screen": screen,
        "flow_token": token,
        "flow_action_data": data or {},
    }
