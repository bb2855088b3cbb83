"""The phone's own reading of Flow JSON: just what it needs to play a flow, with real data.

Written apart from our preview on purpose, so a misreading of Flow JSON there is not repeated here and
the phone's tests can catch it. It draws text components, inputs (text, text area, dropdown, radio,
checkbox and chips groups, date pickers, opt-in), the screen's Footer, and follows `Form`, `If` and
`Switch` as far as the data decides them. `${data.x}` reads the data the screen was opened with,
`${form.x}` what the user typed on it, `${screen.ID.data.x}` / `${screen.ID.form.x}` earlier screens.
Anything else is drawn as a placeholder: the phone is a test tool, not a second preview.

Component names and properties are Meta's (https://developers.facebook.com/docs/whatsapp/flows/reference/components).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# Flow JSON component type -> what the phone template draws.
KINDS = {
    "TextHeading": "heading",
    "TextSubheading": "subheading",
    "TextBody": "body",
    "TextCaption": "caption",
    "RichText": "rich_text",
    "TextInput": "text_input",
    "TextArea": "text_area",
    "Dropdown": "dropdown",
    "RadioButtonsGroup": "radio_group",
    "CheckboxGroup": "checkbox_group",
    "ChipsSelector": "chips",
    "DatePicker": "date_picker",
    "CalendarPicker": "calendar_picker",
    "OptIn": "opt_in",
}
# Components whose value a footer can send, and those whose value is a list.
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
CHOICE_KINDS = {"dropdown", "radio_group", "checkbox_group", "chips"}
# TextInput's input-type -> the HTML input that behaves alike.
HTML_INPUT_TYPES = {
    "number": "number",
    "email": "email",
    "password": "password",
    "passcode": "password",
    "phone": "tel",
}
# Meta allows a few levels of If inside a Form, and payloads are shallow; this only guards the
# recursion against hostile JSON.
MAX_NESTING = 50

_REF = re.compile(r"\$\{([^}]*)\}")
_WHOLE_REF = re.compile(r"\s*\$\{([^}]*)\}\s*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


@dataclass(frozen=True)
class Option:
    id: str
    title: str
    description: str = ""
    enabled: bool = True
    selected: bool = False


@dataclass
class Component:
    """One thing drawn on the screen; only the fields its `kind` uses are set."""

    kind: str
    type: str
    name: str = ""
    label: str = ""
    text: str = ""
    helper_text: str = ""
    description: str = ""
    options: list[Option] = field(default_factory=list)
    required: bool = False
    enabled: bool = True
    visible: bool = True
    input_type: str = ""
    value: str = ""
    min_date: str = ""
    max_date: str = ""
    font_weight: str = ""
    strikethrough: bool = False

    @property
    def html_input_type(self) -> str:
        return HTML_INPUT_TYPES.get(self.input_type, "text")

    @property
    def date_value(self) -> str:
        """The value if an `<input type=date>` can show it, else ""."""
        return self.value if _DATE.match(self.value) else ""


@dataclass
class Footer:
    label: str
    enabled: bool
    left_caption: str = ""
    center_caption: str = ""
    right_caption: str = ""
    # The raw on-click-action: its payload is resolved when pressed, with what was typed.
    action: dict = field(default_factory=dict)


@dataclass
class Screen:
    id: str
    title: str
    body: list[Component]
    footer: Footer | None

    @property
    def inputs(self) -> list[Component]:
        """The inputs a footer press sends: named, shown and enabled."""
        return [
            c for c in self.body if c.kind in INPUT_KINDS and c.name and c.visible and c.enabled
        ]


def walk(value: Any, path: list[str]) -> Any:
    """Follow a reference's path down dict keys and list indexes; "" where it stops, as a payload
    carries an empty string for a field nobody filled in."""
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return ""
    return value


def shown(value: Any) -> str:
    """A value as the phone writes it: strings as they are, anything else in JSON spelling."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class Resolver:
    """Fills ${data.x}, ${form.x} and ${screen.ID.data|form.x} from what the phone holds."""

    def __init__(self, data: dict, form: dict, screens: dict) -> None:
        self.data = data
        self.form = form
        self.screens = screens  # screen id -> {"form": {...}, "data": {...}}

    def lookup(self, ref: str) -> Any:
        parts = ref.strip().split(".")
        if len(parts) >= 4 and parts[0] == "screen" and parts[2] in ("form", "data"):
            return walk(self.screens.get(parts[1], {}).get(parts[2], {}), parts[3:])
        if len(parts) >= 2 and parts[0] == "data":
            return walk(self.data, parts[1:])
        if len(parts) >= 2 and parts[0] == "form":
            return walk(self.form, parts[1:])
        return ""

    def value(self, raw: Any, depth: int = 0) -> Any:
        """A property or payload with its references filled: a lone reference keeps its type."""
        if depth > MAX_NESTING:
            return None
        if isinstance(raw, dict):
            return {key: self.value(item, depth + 1) for key, item in raw.items()}
        if isinstance(raw, list):
            return [self.value(item, depth + 1) for item in raw]
        if isinstance(raw, str):
            if match := _WHOLE_REF.fullmatch(raw):
                return self.lookup(match.group(1))
            return _REF.sub(lambda m: shown(self.lookup(m.group(1))), raw)
        return raw

    def text(self, raw: Any) -> str:
        if isinstance(raw, list):  # TextCaption and RichText may take a list of lines
            return "\n".join(self.text(line) for line in raw)
        return "" if isinstance(raw, dict) else shown(self.value(raw))

    def flag(self, raw: Any, default: bool) -> bool:
        return truth(self.value(raw), default)


def truth(value: Any, default: bool) -> bool:
    """A boolean property (`required`, `visible`, `enabled`...); `default` when it isn't one, such as
    an expression the phone does not evaluate."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return default


class FlowDocument:
    """One Flow JSON document as the phone got it from Meta."""

    def __init__(self, text: str) -> None:
        try:
            parsed = json.loads((text or "").removeprefix("\ufeff"))
        except (ValueError, RecursionError):
            parsed = {}
        self.raw: dict = parsed if isinstance(parsed, dict) else {}
        screens = self.raw.get("screens")
        screens = screens if isinstance(screens, list) else []
        self.screens: dict[str, dict] = {}
        for screen in screens:
            if isinstance(screen, dict) and isinstance(screen.get("id"), str):
                self.screens.setdefault(screen["id"], screen)
        routing = self.raw.get("routing_model")
        self.routing: dict = routing if isinstance(routing, dict) else {}

    @property
    def uses_endpoint(self) -> bool:
        return "data_api_version" in self.raw

    @property
    def data_api_version(self) -> str:
        return str(self.raw.get("data_api_version") or "3.0")

    def first_screen(self) -> str:
        """The screen a flow opens on: the routing model's entry (a screen nothing routes to), else
        the first."""
        targets = {t for value in self.routing.values() if isinstance(value, list) for t in value}
        for screen_id in self.screens:
            if screen_id in self.routing and screen_id not in targets:
                return screen_id
        return next(iter(self.screens), "")

    def needs_init(self) -> bool:
        """Whether the first screen declares data, which only the endpoint's INIT answer can give.

        On WhatsApp a `navigate` message can carry that data in its flow_action_payload; the phone has
        no message to take it from, so such a flow always opens with INIT.
        """
        declared = self.screens.get(self.first_screen(), {}).get("data")
        return self.uses_endpoint and isinstance(declared, dict) and bool(declared)

    def may_go(self, source: str, target: str) -> bool:
        """Whether the routing model lets the endpoint move the user from source to target."""
        routes = self.routing.get(source)
        return source == target or not isinstance(routes, list) or target in routes

    def screen(self, screen_id: str, resolver: Resolver) -> Screen | None:
        """The screen drawn with the data and answers the resolver holds; None if there is none."""
        raw = self.screens.get(screen_id)
        if raw is None:
            return None
        layout = raw.get("layout")
        children = layout.get("children") if isinstance(layout, dict) else None
        drawing = _Drawing(resolver)
        drawing.components(children, init={}, level=0)
        return Screen(
            id=screen_id,
            title=resolver.text(raw.get("title")),
            body=drawing.body,
            footer=drawing.footer,
        )


class _Drawing:
    """Walks one screen's layout into a body and its Footer."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.body: list[Component] = []
        self.footer: Footer | None = None

    def components(self, children: Any, *, init: dict, level: int) -> None:
        if not isinstance(children, list) or level > MAX_NESTING:
            return
        for raw in children:
            if isinstance(raw, dict):
                self.component(raw, init=init, level=level)

    def component(self, raw: dict, *, init: dict, level: int) -> None:
        r = self.resolver
        ctype = raw.get("type")
        if ctype == "Form":
            values = r.value(raw.get("init-values"))
            merged = init | values if isinstance(values, dict) else init
            self.components(raw.get("children"), init=merged, level=level + 1)
        elif ctype == "If":
            # A condition the data settles picks its branch; an expression the phone can't read
            # shows the `then` branch.
            branch = "else" if r.flag(raw.get("condition"), True) is False else "then"
            self.components(raw.get(branch), init=init, level=level + 1)
        elif ctype == "Switch":
            cases = raw.get("cases")
            case = shown(r.value(raw.get("value")))
            if isinstance(cases, dict):
                self.components(cases.get(case), init=init, level=level + 1)
        elif ctype == "Footer":
            if self.footer is None:  # Meta allows one; the first wins
                action = raw.get("on-click-action")
                self.footer = Footer(
                    label=r.text(raw.get("label")),
                    enabled=r.flag(raw.get("enabled"), True),
                    left_caption=r.text(raw.get("left-caption")),
                    center_caption=r.text(raw.get("center-caption")),
                    right_caption=r.text(raw.get("right-caption")),
                    action=action if isinstance(action, dict) else {},
                )
        else:
            self.body.append(self.known(raw, init))

    def known(self, raw: dict, init: dict) -> Component:
        r = self.resolver
        ctype = raw.get("type")
        kind = KINDS.get(ctype, "unknown") if isinstance(ctype, str) else "unknown"
        name = raw.get("name") if isinstance(raw.get("name"), str) else ""
        comp = Component(
            kind=kind,
            type=ctype if isinstance(ctype, str) else "",
            name=name,
            label=r.text(raw.get("label") or raw.get("title")),
            text=r.text(raw.get("text")),
            helper_text=r.text(raw.get("helper-text")),
            description=r.text(raw.get("description")),
            required=r.flag(raw.get("required"), False),
            enabled=r.flag(raw.get("enabled"), True),
            visible=r.flag(raw.get("visible"), True),
            input_type=shown(raw.get("input-type")),
            min_date=r.text(raw.get("min-date")),
            max_date=r.text(raw.get("max-date")),
            font_weight=shown(raw.get("font-weight")),
            strikethrough=raw.get("strikethrough") is True,
        )
        if kind not in INPUT_KINDS:
            return comp
        # What the user typed wins over the initial value the flow sets.
        value = r.form[name] if name in r.form else r.value(raw.get("init-value", init.get(name)))
        chosen = {shown(v) for v in value} if isinstance(value, list) else {shown(value)}
        chosen.discard("")
        if value is True:
            comp.value = "true"
        elif not isinstance(value, bool | list | dict):
            comp.value = shown(value)
        if kind in CHOICE_KINDS:
            comp.options = self.options(raw.get("data-source"), chosen)
        return comp

    def options(self, source: Any, chosen: set[str]) -> list[Option]:
        items = self.resolver.value(source)  # a list in the JSON, or a reference to one in the data
        options = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            option_id = shown(item.get("id"))
            options.append(
                Option(
                    id=option_id,
                    title=shown(item.get("title")) or option_id,
                    description=shown(item.get("description")),
                    enabled=truth(item.get("enabled"), True),
                    selected=option_id in chosen,
                )
            )
        return options
