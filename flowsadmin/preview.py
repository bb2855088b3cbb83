"""Our own preview of a Flow: Flow JSON turned into what a phone would draw, screen by screen.

Framework-free on purpose (no Django), like `flowjson/`: `build_preview(data)` returns plain
dataclasses and the page template only draws them. People preview a Flow to find out what is wrong
with it, so nothing here raises on bad input: a missing key, a wrong type or an unknown component is
drawn as far as it can be, and a placeholder says what could not be.

What the preview fills in, since it has no user and no endpoint:
- `${data.x}` (and `${screen.ID.data.x}`) from the screens' `__example__` values;
- `${form.x}` as the placeholder "[form.x]": nobody has typed anything yet;
- nested expressions (6.0+, "`'Hello ' ${data.name}`") as readable text, not evaluated;
- `If` / `Switch`: one branch (the one the example data selects, else `then` / the first case), with
  a marker saying which branch is drawn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .flowjson.syntax import parse

# Flow JSON component type -> the kind the template draws. Form is not here: it draws nothing itself,
# its children are drawn in its place.
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
    "Footer": "footer",
    "EmbeddedLink": "embedded_link",
    "Image": "image",
    "ImageCarousel": "image_carousel",
    "PhotoPicker": "photo_picker",
    "DocumentPicker": "document_picker",
    "NavigationList": "navigation_list",
}
# TextInput's input-type -> the HTML input type that looks the same.
HTML_INPUT_TYPES = {"number": "number", "email": "email", "password": "password", "phone": "tel"}
HTML_INPUT_TYPES["passcode"] = "password"
PHOTO_SOURCES = {"camera": "Camera", "gallery": "Gallery", "camera_gallery": "Camera or gallery"}

# Meta allows If three deep inside a Form; this only guards our own recursion against hostile input.
MAX_NESTING = 20
# A whole object or list shown where text is expected is cut here, so one example can't flood a screen.
MAX_SHOWN_VALUE = 200

_REF = re.compile(r"\$\{([^}]*)\}")
_WHOLE_REF = re.compile(r"\s*\$\{([^}]*)\}\s*")
# Tokens of a nested expression: 'literal' (backslash escapes), ${ref}, whitespace, anything else.
_TOKEN = re.compile(r"'((?:[^'\\]|\\.)*)'|\$\{([^}]*)\}|(\s+)|([^'\s$]+|.)", re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_MISSING = object()


def walk(value: Any, path: list[str], missing: Any) -> Any:
    """Follow a ${...} reference's path down dict keys and list indexes; `missing` where it stops."""
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return missing
    return value


@dataclass(frozen=True)
class Action:
    """An on-click-action: `navigate` (to `target`), `data_exchange`, `complete`, `open_url`..."""

    name: str
    target: str = ""
    url: str = ""


@dataclass(frozen=True)
class Option:
    """One entry of a data-source (radio, checkbox, dropdown, chips) or of a NavigationList."""

    id: str
    title: str
    description: str = ""
    metadata: str = ""
    enabled: bool = True
    selected: bool = False
    action: Action | None = None


@dataclass
class Component:
    """One thing drawn on a screen. Only the fields its `kind` uses are set."""

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
    action: Action | None = None
    left_caption: str = ""
    center_caption: str = ""
    right_caption: str = ""
    alt_text: str = ""
    images: list[str] = field(default_factory=list)  # ImageCarousel: the alt text of each image
    min_date: str = ""
    max_date: str = ""
    mode: str = ""  # CalendarPicker: "single" or "range"
    font_weight: str = ""
    strikethrough: bool = False
    # What the preview simplified or could not draw, shown beside the component.
    note: str = ""
    # How many If/Switch branches this sits in, so the page can indent what is conditional.
    depth: int = 0

    @property
    def html_input_type(self) -> str:
        return HTML_INPUT_TYPES.get(self.input_type, "text")

    @property
    def date_value(self) -> str:
        """The value if an `<input type=date>` can show it, else ""."""
        return self.value if _DATE.match(self.value) else ""


@dataclass
class Screen:
    id: str
    title: str
    terminal: bool
    components: list[Component]
    # Screens the user can reach from here: the routing model's entry, then navigate targets.
    next_screens: list[str]
    example_data: dict[str, Any]

    @property
    def footer(self) -> Component | None:
        """The footer is pinned under the screen's body, wherever it sits in the JSON."""
        return next((c for c in self.components if c.kind == "footer"), None)

    @property
    def body(self) -> list[Component]:
        footer = self.footer
        return [c for c in self.components if c is not footer]

    @property
    def example_items(self) -> list[tuple[str, str]]:
        return [(key, _display(value)) for key, value in self.example_data.items()]


@dataclass
class Preview:
    screens: list[Screen] = field(default_factory=list)
    version: str = ""
    # data_api_version is set: data_exchange actions go to an endpoint, which picks the next screen.
    uses_endpoint: bool = False
    # Why some or all of the Flow could not be drawn, in words for the page.
    problems: list[str] = field(default_factory=list)
    # Where the text stops being JSON, when it does (1-based, as the validator reports it).
    error_line: int | None = None
    error_column: int | None = None

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.screens]

    def screen(self, screen_id: str | None = None) -> Screen | None:
        """The screen with this id, else the first one (None only when there are no screens)."""
        for s in self.screens:
            if s.id == screen_id:
                return s
        return self.screens[0] if self.screens else None


def build_preview_from_text(text: str) -> Preview:
    """Parse stored Flow JSON text and build its preview; text that doesn't parse gives a problem."""
    if not isinstance(text, str) or not text.strip():
        return Preview(problems=["This Flow has no Flow JSON yet."])
    # The validator's own reading, so the preview of a broken draft names the same line and column
    # as the messages under the editor (json.loads alone points past a trailing comma, for one).
    parsed = parse(text)
    if parsed.errors:
        error = parsed.errors[0]
        return Preview(
            problems=[f"The Flow JSON does not parse: {error.message}"],
            error_line=error.line,
            error_column=error.column,
        )
    return build_preview(parsed.data or {})


def build_preview(flow_json: dict) -> Preview:
    """Turn parsed Flow JSON into screens to draw. Never raises on bad input."""
    if not isinstance(flow_json, dict):
        return Preview(
            problems=["The Flow JSON is not an object, so there are no screens to draw."]
        )
    preview = Preview(
        version=_plain(flow_json.get("version")),
        uses_endpoint="data_api_version" in flow_json,
    )
    raw_screens = flow_json.get("screens")
    if not isinstance(raw_screens, list):
        preview.problems.append('The Flow JSON has no list of "screens" to draw.')
        return preview

    # First pass: ids and example data, which any screen may read through ${screen.ID.data.x}.
    entries: list[tuple[str, str, dict, dict]] = []  # (our id, JSON id, raw screen, examples)
    seen: set[str] = set()
    for index, raw in enumerate(raw_screens):
        if not isinstance(raw, dict):
            preview.problems.append(f"Screen {index + 1} is not an object; it is left out.")
            continue
        json_id = raw.get("id")
        json_id = json_id if isinstance(json_id, str) and json_id else ""
        screen_id = json_id or f"screen-{index + 1}"
        if screen_id in seen:
            # The validator reports duplicates; giving each its own id keeps both reachable here.
            preview.problems.append(
                f'Screen id "{screen_id}" is used twice; the second is renamed.'
            )
            screen_id = f"{screen_id}~{index + 1}"
        seen.add(screen_id)
        entries.append((screen_id, json_id, raw, _examples(raw.get("data"))))

    examples: dict[str, dict] = {}
    for _, json_id, _, example in entries:
        if json_id:
            examples.setdefault(json_id, example)  # ${screen.ID...} reads the first of duplicates
    routing = flow_json.get("routing_model")
    routing = routing if isinstance(routing, dict) else {}
    for screen_id, json_id, raw, example in entries:
        resolver = _Resolver(example, examples)
        layout = raw.get("layout")
        children = layout.get("children") if isinstance(layout, dict) else None
        preview.screens.append(
            Screen(
                id=screen_id,
                title=resolver.text(raw.get("title")),
                terminal=raw.get("terminal") is True,
                components=resolver.components(children, depth=0, level=0, init={}),
                next_screens=_next_screens(routing.get(json_id), layout, seen),
                example_data=example,
            )
        )
    return preview


# --- example data and dynamic values -------------------------------------------------------------


def _examples(declared: Any) -> dict[str, Any]:
    if not isinstance(declared, dict):
        return {}
    return {
        key: spec["__example__"]
        for key, spec in declared.items()
        if isinstance(spec, dict) and "__example__" in spec
    }


def _display(value: Any) -> str:
    """A value as text on the phone: JSON spelling for booleans, objects and lists."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        shown = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return "…"
    return shown if len(shown) <= MAX_SHOWN_VALUE else shown[: MAX_SHOWN_VALUE - 1] + "…"


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else ""


class _Resolver:
    """Fills dynamic values on one screen and turns its components into `Component`s."""

    def __init__(self, example: dict[str, Any], examples: dict[str, dict[str, Any]]) -> None:
        self.example = example
        self.examples = examples

    # values

    def lookup(self, ref: str) -> Any:
        """The example value a ${...} reference reads, or _MISSING (form values, unknown keys)."""
        parts = ref.strip().split(".")
        if len(parts) >= 2 and parts[0] == "data":
            value, rest = self.example, parts[1:]
        elif len(parts) >= 4 and parts[0] == "screen" and parts[2] == "data":
            value, rest = self.examples.get(parts[1], {}), parts[3:]
        else:
            return _MISSING
        return walk(value, rest, _MISSING)

    def value(self, raw: Any) -> Any:
        """A property that may be one whole ${...} reference, resolved to its example value."""
        if isinstance(raw, str) and (match := _WHOLE_REF.fullmatch(raw)):
            return self.lookup(match.group(1))
        return raw

    def ref_text(self, ref: str) -> str:
        value = self.lookup(ref)
        return f"[{ref.strip()}]" if value is _MISSING else _display(value)

    def text(self, raw: Any) -> str:
        """Any property as the text a phone would show."""
        if raw is None or isinstance(raw, dict):
            return ""
        if isinstance(raw, list):  # TextCaption and RichText take a list of lines (5.1+)
            # One level only: a list nested in a list is shown as JSON, never walked recursively.
            lines = (_display(line) if isinstance(line, list) else self.text(line) for line in raw)
            return "\n".join(lines)
        if not isinstance(raw, str):
            return _display(raw)
        stripped = raw.strip()
        if len(stripped) >= 2 and stripped.startswith("`") and stripped.endswith("`"):
            return self.expression(stripped[1:-1])
        return _REF.sub(lambda m: self.ref_text(m.group(1)), raw)

    def expression(self, inner: str) -> str:
        """A nested expression as readable text, references filled in.

        Pure concatenation ("'Hello ' ${form.name} '!'") joins its unquoted parts the way WhatsApp
        does; an expression with operators is shown as written ("[form.age] >= 18"), not evaluated.
        """
        parts: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(inner):
            literal, ref, space, other = match.groups()
            if space is not None:
                parts.append(("space", " "))
            elif other is not None:
                parts.append(("operator", other))
            elif ref is not None:
                parts.append(("ref", self.ref_text(ref)))
            else:
                parts.append(("literal", _ESCAPE.sub(r"\1", literal)))
        if all(kind != "operator" for kind, _ in parts):
            return "".join(text for kind, text in parts if kind != "space")
        # Beside operators a literal keeps its quotes: "[form.name] != ''" reads better than "!= ".
        shown = (f"'{text}'" if kind == "literal" else text for kind, text in parts)
        return "".join(shown).strip()

    def flag(self, raw: Any, default: bool) -> bool:
        """A boolean property (`required`, `visible`, `enabled`), which may be a reference."""
        value = self.value(raw)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return default  # absent, a form value or an expression: the preview can't know

    def action(self, raw: Any) -> Action | None:
        if not isinstance(raw, dict):
            return None
        nxt = raw.get("next")
        target = nxt.get("name") if isinstance(nxt, dict) else None
        return Action(
            name=_plain(raw.get("name")),
            target=target if isinstance(target, str) else "",
            url=_plain(raw.get("url")),
        )

    # components

    def components(self, children: Any, *, depth: int, level: int, init: dict) -> list[Component]:
        if children is None:
            return []
        if not isinstance(children, list):
            kind = type(children).__name__
            return [_placeholder("", f"Expected a list of components here, found {kind}.", depth)]
        if level > MAX_NESTING:
            return [_placeholder("", "Components nested too deeply to draw.", depth)]
        drawn: list[Component] = []
        for child in children:
            drawn.extend(self.component(child, depth=depth, level=level, init=init))
        return drawn

    def component(self, raw: Any, *, depth: int, level: int, init: dict) -> list[Component]:
        if not isinstance(raw, dict):
            return [_placeholder("", "This entry is not a component object.", depth)]
        ctype = raw.get("type")
        if not isinstance(ctype, str) or not ctype:
            return [_placeholder("", 'This component has no "type".', depth)]
        if ctype == "Form":
            form_init = self.value(raw.get("init-values"))
            merged = init | form_init if isinstance(form_init, dict) else init
            return self.components(raw.get("children"), depth=depth, level=level + 1, init=merged)
        if ctype == "If":
            return self.if_branch(raw, depth=depth, level=level, init=init)
        if ctype == "Switch":
            return self.switch_case(raw, depth=depth, level=level, init=init)
        kind = KINDS.get(ctype)
        if kind is None:
            label = self.text(raw.get("label")) or self.text(raw.get("text"))
            return [_placeholder(ctype, "The preview does not know this component.", depth, label)]
        return [self.known(kind, ctype, raw, depth=depth, init=init)]

    def if_branch(self, raw: dict, *, depth: int, level: int, init: dict) -> list[Component]:
        condition = self.value(raw.get("condition"))
        has_else = isinstance(raw.get("else"), list) and bool(raw.get("else"))
        if condition is False and has_else:
            branch, note = "else", "The example data makes this false: drawing the else branch."
        elif isinstance(condition, bool):
            branch, note = "then", f"The example data makes this {str(condition).lower()}."
            if not condition:
                note += " Nothing is shown (no else branch); drawing the then branch anyway."
        else:
            branch = "then"
            note = "Drawing the then branch" + (
                "; the else branch shows when the condition is false." if has_else else "."
            )
        marker = Component(
            kind="if",
            type="If",
            text=self.text(raw.get("condition")) or "(no condition)",
            note=note,
            depth=depth,
        )
        branch_children = raw.get(branch)
        return [
            marker,
            *self.components(branch_children, depth=depth + 1, level=level + 1, init=init),
        ]

    def switch_case(self, raw: dict, *, depth: int, level: int, init: dict) -> list[Component]:
        on = self.text(raw.get("value")) or "(no value)"
        cases = raw.get("cases")
        if not isinstance(cases, dict) or not cases:
            return [Component(kind="switch", type="Switch", text=on, note="No cases.", depth=depth)]
        value = self.value(raw.get("value"))
        chosen = _display(value) if value is not _MISSING else None
        if chosen in cases:
            note = f'The example data selects case "{chosen}".'
        else:
            chosen = next(iter(cases))
            note = f'Drawing the first case, "{chosen}" (of {len(cases)}).'
        marker = Component(kind="switch", type="Switch", text=on, note=note, depth=depth)
        drawn = self.components(cases[chosen], depth=depth + 1, level=level + 1, init=init)
        return [marker, *drawn]

    def known(self, kind: str, ctype: str, raw: dict, *, depth: int, init: dict) -> Component:
        name = _plain(raw.get("name"))
        initial = self.value(raw.get("init-value", init.get(name)))
        comp = Component(
            kind=kind,
            type=ctype,
            name=name,
            label=self.text(raw.get("label")),
            text=self.text(raw.get("text")),
            helper_text=self.text(raw.get("helper-text")),
            description=self.text(raw.get("description")),
            required=self.flag(raw.get("required"), False),
            enabled=self.flag(raw.get("enabled"), True),
            visible=self.flag(raw.get("visible"), True),
            input_type=_plain(raw.get("input-type")),
            action=self.action(raw.get("on-click-action")),
            alt_text=self.text(raw.get("alt-text")),
            depth=depth,
        )
        if initial is not _MISSING and not isinstance(initial, list | dict):
            comp.value = _display(initial)
        if kind in ("dropdown", "radio_group", "checkbox_group", "chips"):
            selected = {_display(v) for v in initial} if isinstance(initial, list) else {comp.value}
            selected.discard("")
            comp.options, comp.note = self.options(raw.get("data-source"), selected)
        elif kind == "navigation_list":
            comp.options, comp.note = self.list_items(raw.get("list-items"), comp.action)
        elif kind == "footer":
            comp.left_caption = self.text(raw.get("left-caption"))
            comp.center_caption = self.text(raw.get("center-caption"))
            comp.right_caption = self.text(raw.get("right-caption"))
        elif kind in ("body", "caption"):
            comp.font_weight = _plain(raw.get("font-weight"))
            comp.strikethrough = raw.get("strikethrough") is True
        elif kind in ("date_picker", "calendar_picker"):
            comp.min_date = self.text(raw.get("min-date"))
            comp.max_date = self.text(raw.get("max-date"))
            comp.mode = _plain(raw.get("mode")) or "single"
            if kind == "calendar_picker" and comp.mode == "range" and not comp.label:
                comp.label = self.text(raw.get("title"))
        elif kind == "image_carousel":
            images = raw.get("images")
            images = images if isinstance(images, list) else []
            comp.images = [
                self.text(i.get("alt-text")) if isinstance(i, dict) else "" for i in images
            ]
        elif kind in ("photo_picker", "document_picker"):
            comp.helper_text = self.picker_limits(kind, raw)
        return comp

    def options(self, source: Any, selected: set[str]) -> tuple[list[Option], str]:
        items = self.value(source)
        if items is _MISSING:
            return [], f"Its options come from {self.text(source)}, which has no example data."
        if not isinstance(items, list):
            return [], "Its data-source is not a list of options."
        options = []
        for item in items:
            if isinstance(item, dict):
                option_id = self.text(item.get("id"))
                options.append(
                    Option(
                        id=option_id,
                        title=self.text(item.get("title")) or option_id,
                        description=self.text(item.get("description")),
                        metadata=self.text(item.get("metadata")),
                        enabled=self.flag(item.get("enabled"), True),
                        selected=option_id in selected,
                    )
                )
            elif isinstance(item, str | int | float) and not isinstance(item, bool):
                options.append(Option(id=str(item), title=str(item)))
        return options, ""

    def list_items(self, source: Any, list_action: Action | None) -> tuple[list[Option], str]:
        items = self.value(source)
        if not isinstance(items, list):
            return [], "Its list-items are not a list (or have no example data)."
        options = []
        for item in items:
            if not isinstance(item, dict):
                continue
            main = item.get("main-content")
            main = main if isinstance(main, dict) else {}
            options.append(
                Option(
                    id=self.text(item.get("id")),
                    title=self.text(main.get("title")),
                    description=self.text(main.get("description")),
                    metadata=self.text(main.get("metadata")) or self.text(item.get("badge")),
                    action=self.action(item.get("on-click-action")) or list_action,
                )
            )
        return options, ""

    def picker_limits(self, kind: str, raw: dict) -> str:
        words = []
        if kind == "photo_picker":
            words.append(PHOTO_SOURCES.get(_plain(raw.get("photo-source")), "Camera or gallery"))
            most = raw.get("max-uploaded-photos", 30)
            noun = "photos"
        else:
            mime = raw.get("allowed-mime-types")
            if isinstance(mime, list) and mime:
                words.append(", ".join(_display(m) for m in mime))
            most = raw.get("max-uploaded-documents", 30)
            noun = "documents"
        if isinstance(most, int) and not isinstance(most, bool):
            words.append(f"up to {most} {noun}")
        size = raw.get("max-file-size-kb", 25600)
        if isinstance(size, int | float) and not isinstance(size, bool) and size > 0:
            words.append(f"{size / 1024:g} MB each")
        return " · ".join(words)


def _placeholder(ctype: str, note: str, depth: int, label: str = "") -> Component:
    return Component(kind="unknown", type=ctype, label=label, note=note, depth=depth)


# --- where a screen can go next ------------------------------------------------------------------


def _next_screens(routed: Any, layout: Any, existing: set[str]) -> list[str]:
    """The routing model's entry for a screen, then any navigate targets it has, in that order.

    Navigate targets count even inside an If branch the preview doesn't draw; only ids of real
    screens are kept, since the page links to each.
    """
    candidates = list(routed) if isinstance(routed, list) else []
    candidates.extend(_navigate_targets(layout))
    found: list[str] = []
    for target in candidates:
        if isinstance(target, str) and target in existing and target not in found:
            found.append(target)
    return found


def _navigate_targets(node: Any) -> Iterator[str]:
    # Iterative: a payload may nest deeper than Python's recursion limit allows.
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("name") == "navigate" and isinstance(item.get("next"), dict):
                target = item["next"].get("name")
                if isinstance(target, str):
                    yield target
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
