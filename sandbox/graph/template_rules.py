"""Meta's rules for what a template says, applied when one is created (or edited) in the sandbox.

Every refusal is Meta's shape for template errors: code 100 "Invalid parameter", the error_subcode Meta
documents for the rule where there is one, and an error_user_title and error_user_msg that say what to
change. The subcodes used (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes):

    2388040  a text over its limit: body 1,024, header 60, footer 60, button 25 characters
    2388047  the header: unknown format, more than one variable, a media header without a sample
    2388072  the body's variables: not {{1}}..{{n}} in a POSITIONAL template, not names in a NAMED one
    2388073  a variable in the footer
    2388293  too many variables for the length of the body
    2388299  a variable at the very start or end of the body

Rules Meta states without a subcode (examples, button text, the Flow button) are refused without one.
"""

from __future__ import annotations

import json
import re

from ..models import Account, Flow, UploadSession
from .core import GraphError, invalid, refusal

# Any {{...}}, so that a malformed variable is refused rather than taken for text.
VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
POSITIONAL_NAME = re.compile(r"[1-9][0-9]*")
NAMED_NAME = re.compile(r"[a-z_][a-z0-9_]*")
WORD = re.compile(r"[^\W_]+")
COMPONENT_TYPES = ("HEADER", "BODY", "FOOTER", "BUTTONS")
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
# The sample a media header needs, by the type its upload declared.
MEDIA_TYPES = {
    "IMAGE": {"image/jpeg", "image/jpg", "image/png"},
    "VIDEO": {"video/mp4"},
    "DOCUMENT": {"application/pdf"},
}
FLOW_ACTIONS = ("navigate", "data_exchange")
FLOW_ICONS = ("DOCUMENT", "PROMOTION", "REVIEW")
MAX_BUTTONS = 10


def variables(text: str) -> list[str]:
    """Every variable in a text, as written between the braces, in order (repeats included)."""
    return VARIABLE.findall(text or "")


def check_components(
    raw: object, *, account: Account, category: str, parameter_format: str
) -> list[dict]:
    """The components as Meta would store them (types in capitals, the FLOW button's flow_id resolved),
    or a GraphError naming the first rule they break."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise invalid("The parameter components is not valid JSON.") from None
    if not isinstance(raw, list) or not raw:
        raise invalid("The parameter components is required.")
    components = []
    for item in raw:
        kind = str(item.get("type", "")).upper() if isinstance(item, dict) else ""
        if kind not in COMPONENT_TYPES:
            raise refusal(
                "Component type is invalid",
                "Each component's type is HEADER, BODY, FOOTER or BUTTONS.",
            )
        components.append(item | {"type": kind})
    kinds = [c["type"] for c in components]
    if kinds.count("BODY") != 1:
        raise refusal("Message body is missing", "A template has exactly one BODY component.")
    for kind in ("HEADER", "FOOTER", "BUTTONS"):
        if kinds.count(kind) > 1:
            raise refusal(f"Too many {kind} components", f"A template has at most one {kind}.")
    named = parameter_format == "NAMED"
    for component in components:
        check = {
            "HEADER": _check_header,
            "BODY": _check_body,
            "FOOTER": _check_footer,
        }.get(component["type"])
        if check:
            check(component, named=named, account=account)
        else:
            _check_buttons(component, account=account, category=category)
    return components


def _text(component: dict, kind: str) -> str:
    text = component.get("text")
    if not isinstance(text, str) or not text.strip():
        raise refusal(f"{kind.title()} text is missing", f"The {kind} component needs text.")
    return text


def _check_length(text: str, limit: int, what: str) -> None:
    if len(text) > limit:
        raise refusal(
            "Character limit exceeded",
            f"The {what} has {len(text)} characters; it can have at most {limit}.",
            subcode=2388040,
        )


def _check_names(names: list[str], *, named: bool, subcode: int, where: str) -> None:
    """Variables are {{1}}, {{2}}... in a POSITIONAL template and lowercase names in a NAMED one."""
    if named:
        wrong = [n for n in names if not NAMED_NAME.fullmatch(n)]
        if wrong:
            raise refusal(
                f"{where.title()} format is incorrect",
                f"This template uses named parameters: write {{{{{wrong[0]}}}}} as a name of "
                "lowercase letters, digits and underscores, like {{first_name}}.",
                subcode=subcode,
            )
        return
    wrong = [n for n in names if not POSITIONAL_NAME.fullmatch(n)]
    if wrong:
        raise refusal(
            f"{where.title()} format is incorrect",
            f"This template uses positional parameters: {{{{{wrong[0]}}}}} must be a number, "
            "like {{1}}. Create it with parameter_format NAMED to use names.",
            subcode=subcode,
        )
    numbers = sorted({int(n) for n in names})
    if numbers != list(range(1, len(numbers) + 1)):
        raise refusal(
            f"{where.title()} format is incorrect",
            f"The variables in the {where} must be numbered {{{{1}}}} to {{{{{len(numbers)}}}}} "
            "without gaps.",
            subcode=subcode,
        )


def _missing_examples(where: str, names: list[str]) -> GraphError:
    listed = ", ".join(f"{{{{{n}}}}}" for n in names)
    return refusal(
        "Variables need example values",
        f"Add an example value for each variable in the {where} ({listed}) so that the template "
        "can be reviewed.",
    )


def _check_examples(component: dict, names: list[str], *, named: bool, where: str) -> None:
    """One non-empty example per variable: positional in a list in order, named by param_name."""
    unique = list(dict.fromkeys(names))
    example = component.get("example")
    example = example if isinstance(example, dict) else {}
    prefix = "header_text" if where == "header" else "body_text"
    if named:
        given = example.get(f"{prefix}_named_params")
        found = {}
        for item in given if isinstance(given, list) else []:
            if isinstance(item, dict) and isinstance(item.get("example"), str):
                found[item.get("param_name")] = item["example"].strip()
        if any(not found.get(name) for name in unique) or set(found) - set(unique):
            raise _missing_examples(where, unique)
        return
    values = example.get(prefix)
    if where == "body":
        # body_text is a list of example rows; Meta reviews the first.
        values = values[0] if isinstance(values, list) and values else None
    if (
        not isinstance(values, list)
        or len(values) != len(unique)
        or any(not isinstance(v, str) or not v.strip() for v in values)
    ):
        raise _missing_examples(where, sorted(unique, key=int))


def _check_header(component: dict, *, named: bool, account: Account) -> None:
    kind = str(component.get("format", "")).upper()
    if kind not in HEADER_FORMATS:
        raise refusal(
            "Header format is incorrect",
            "A header's format is TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION.",
            subcode=2388047,
        )
    component["format"] = kind
    if kind == "TEXT":
        text = _text(component, "header")
        _check_length(text, 60, "header text")
        names = variables(text)
        if len(names) > 1:
            raise refusal(
                "Header format is incorrect",
                "A text header can have at most one variable.",
                subcode=2388047,
            )
        _check_names(names, named=named, subcode=2388047, where="header")
        if names:
            _check_examples(component, names, named=named, where="header")
    elif kind in MEDIA_TYPES:
        example = component.get("example")
        handles = example.get("header_handle") if isinstance(example, dict) else None
        handle = handles[0] if isinstance(handles, list) and handles else None
        # Only its type: the row also holds the file's bytes.
        file_type = (
            UploadSession.objects.filter(account=account, handle=handle)
            .values_list("file_type", flat=True)
            .first()
            if isinstance(handle, str) and handle
            else None
        )
        if file_type not in MEDIA_TYPES[kind]:
            raise refusal(
                "Header format is incorrect",
                f"The {kind} header needs a sample: upload a "
                f"{' or '.join(sorted(MEDIA_TYPES[kind]))} file with the resumable upload API and "
                "give its handle in example.header_handle.",
                subcode=2388047,
            )


def _check_body(component: dict, *, named: bool, account: Account) -> None:
    text = _text(component, "body")
    _check_length(text, 1024, "body")
    names = variables(text)
    _check_names(names, named=named, subcode=2388072, where="body")
    stripped = text.strip()
    if names and (VARIABLE.match(stripped) or _ends_with_variable(stripped)):
        raise refusal(
            "Leading or trailing params not allowed",
            "Variables can't be at the start or end of the template.",
            subcode=2388299,
        )
    words = len(WORD.findall(VARIABLE.sub(" ", text)))
    # Meta does not publish the ratio; the sandbox asks for at least two words per variable, plus one.
    if names and words < 2 * len(names) + 1:
        raise refusal(
            "Parameters words ratio exceeds limit",
            "This template contains too many variable parameters relative to the message length. "
            "You need to decrease the number of variable parameters or increase the message length.",
            subcode=2388293,
        )
    if names:
        _check_examples(component, names, named=named, where="body")


def _ends_with_variable(text: str) -> bool:
    return any(match.end() == len(text) for match in VARIABLE.finditer(text))


def _check_footer(component: dict, *, named: bool, account: Account) -> None:
    text = _text(component, "footer")
    _check_length(text, 60, "footer")
    if variables(text):
        raise refusal(
            "Footer format is incorrect",
            "Variables aren't allowed in the footer.",
            subcode=2388073,
        )


def _check_buttons(component: dict, *, account: Account, category: str) -> None:
    buttons = component.get("buttons")
    if not isinstance(buttons, list) or not buttons or len(buttons) > MAX_BUTTONS:
        raise refusal("Buttons are invalid", f"BUTTONS has between 1 and {MAX_BUTTONS} buttons.")
    flows = 0
    for index, button in enumerate(buttons):
        if not isinstance(button, dict) or not button.get("type"):
            raise refusal("Button type is missing", f"Button {index} needs a type.")
        button["type"] = str(button["type"]).upper()
        text = button.get("text")
        if not isinstance(text, str) or not text.strip():
            raise refusal("Button text is missing", f"Button {index} needs text.")
        _check_length(text, 25, "button text")
        if variables(text):
            raise refusal(
                "Button text is invalid", "Variables aren't allowed in the text of a button."
            )
        if button["type"] == "FLOW":
            flows += 1
            if flows > 1:
                raise refusal("Too many Flow buttons", "A template can have one FLOW button.")
            if category == "AUTHENTICATION":
                raise refusal(
                    "Flow buttons aren't allowed",
                    "Authentication templates can't have a FLOW button; use MARKETING or UTILITY.",
                )
            _check_flow_button(button, account)


def _check_flow_button(button: dict, account: Account) -> None:
    """A FLOW button opens a published flow of this account, at a screen it can be entered at."""
    action = str(button.get("flow_action") or "navigate").lower()
    if action not in FLOW_ACTIONS:
        raise refusal("Flow action is invalid", "flow_action is navigate or data_exchange.")
    icon = button.get("icon")
    if icon is not None and str(icon).upper() not in FLOW_ICONS:
        raise refusal("Flow button icon is invalid", "icon is DOCUMENT, PROMOTION or REVIEW.")
    screen = button.get("navigate_screen")
    if screen and action != "navigate":
        raise refusal(
            "Navigate screen is not allowed",
            "navigate_screen goes only with flow_action navigate; with data_exchange the endpoint "
            "chooses the first screen.",
        )
    if button.get("flow_json"):
        return  # Meta would create the flow itself; the sandbox takes it as given.
    if button.get("flow_id"):
        flow = account.flows.filter(flow_id=str(button["flow_id"])).first()
    elif button.get("flow_name"):
        flow = account.flows.filter(name=str(button["flow_name"])).first()
    else:
        raise refusal("Flow is missing", "A FLOW button needs flow_id, flow_name or flow_json.")
    if flow is None:
        raise refusal(
            "Flow doesn't exist",
            "The FLOW button names a flow that doesn't exist in this WhatsApp Business Account.",
        )
    if flow.status not in (Flow.Status.PUBLISHED, Flow.Status.THROTTLED):
        raise refusal(
            "Flow isn't published",
            f"The FLOW button's flow is {flow.status}: only published flows can be attached to a "
            "template.",
        )
    if screen:
        if screen not in flow.screen_ids():
            raise refusal(
                "Navigate screen is invalid",
                f"{screen} is not a screen of the flow {flow.name}.",
            )
        if screen not in flow.entry_screens():
            raise refusal(
                "Navigate screen is invalid",
                f"The flow {flow.name} can't be opened at {screen}: other screens lead to it. "
                f"Use {' or '.join(flow.entry_screens())}.",
            )
    button["flow_id"] = flow.flow_id
    button["flow_action"] = action
