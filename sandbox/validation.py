"""Meta's server-side check of Flow JSON, in small: what the sandbox answers in `validation_errors`.

This stands in for Meta's validator so that the product sees errors in Meta's shape (error, error_type,
message, line and column range, pointers with a path). It is deliberately modest and is not the product's
own validator (that one lives in flowsadmin). What it checks:

- JSON syntax (raises `FlowJsonSyntaxError` with line and column; the Graph API answers 139001);
- the top level is an object with a known `version` string and a non-empty `screens` list;
- each screen has a non-empty `id` (unique, not the reserved SUCCESS) and a `SingleColumnLayout` layout
  with a `children` list; every component has a known `type` (also inside Form, If and Switch);
- `navigate` actions go to screens that exist; terminal screens have a Footer; at least one screen is
  terminal;
- `data_api_version`, when set, is 3.0 or 4.0 and comes with a `routing_model` whose screen ids exist;
  `data_exchange` actions need a `data_api_version`; `data_channel_uri` is refused from version 3.0.

Meta's full error vocabulary is not public; the `error` names used here are MISSING_REQUIRED_PROPERTY,
INVALID_PROPERTY_TYPE, INVALID_PROPERTY_VALUE and INVALID_PROPERTY.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from json.decoder import scanstring

KNOWN_VERSIONS = (
    "2.1", "3.0", "3.1", "4.0", "5.0", "5.1",
    "6.0", "6.1", "6.2", "6.3", "7.0", "7.1", "7.2", "7.3",
)  # fmt: skip
DATA_API_VERSIONS = ("3.0", "4.0")
COMPONENTS = {
    "TextHeading", "TextSubheading", "TextBody", "TextCaption", "RichText",
    "TextInput", "TextArea", "CheckboxGroup", "RadioButtonsGroup", "Dropdown", "ChipsSelector",
    "OptIn", "DatePicker", "CalendarPicker", "PhotoPicker", "DocumentPicker",
    "Footer", "EmbeddedLink", "NavigationList", "Image", "ImageCarousel", "If", "Switch", "Form",
}  # fmt: skip
ACTION_KEYS = ("on-click-action", "on-select-action", "on-unselect-action")

SCHEMA = "JSON_SCHEMA_ERROR"
FLOW = "FLOW_JSON_ERROR"


class FlowJsonSyntaxError(ValueError):
    """The text is not JSON at all; names the line and column like Meta's 139001 answer."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} at line {line}, column {column}")
        self.line = line
        self.column = column


@dataclass
class Result:
    errors: list[dict] = field(default_factory=list)
    version: str = ""
    data_api_version: str = ""


def validate(text: str) -> Result:
    """Check Flow JSON text; raises FlowJsonSyntaxError when it does not parse."""
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise FlowJsonSyntaxError(exc.msg, exc.lineno, exc.colno) from None
    except ValueError as exc:  # NaN, Infinity
        raise FlowJsonSyntaxError(str(exc), 1, 1) from None
    checker = _Checker(text, document)
    checker.run()
    return checker.result


def screen_ids(text: str) -> list[str]:
    """The ids of the screens in Flow JSON text, in order; none when it is missing or broken."""
    return [screen["id"] for screen in _screens(text)[1]]


def _screens(text: str) -> tuple[dict, list[dict]]:
    """The parsed document and its screens that have an id, forgiving anything broken."""
    try:
        document = json.loads(text) if text else {}
    except ValueError:
        return {}, []
    document = document if isinstance(document, dict) else {}
    screens = document.get("screens")
    screens = screens if isinstance(screens, list) else []
    return document, [s for s in screens if isinstance(s, dict) and isinstance(s.get("id"), str)]


def entry_screens(text: str) -> list[str]:
    """The screens a flow can be opened at: those no other screen leads to.

    The routes are the routing_model's when the flow has one, else its navigate actions. When every
    screen has a way in (a loop), only the first screen is an entry; broken JSON has none.
    """
    document, screens = _screens(text)
    ids = [screen["id"] for screen in screens]
    routing = document.get("routing_model")
    targets: set[str] = set()
    if isinstance(routing, dict):
        for source, nexts in routing.items():
            if isinstance(nexts, list):
                targets.update(n for n in nexts if isinstance(n, str) and n != source)
    else:
        for screen in screens:
            targets.update(t for t in _navigate_targets(screen) if t != screen["id"])
    return [i for i in ids if i not in targets] or ids[:1]


def _navigate_targets(node: object) -> list[str]:
    """The screens every navigate action under a node of Flow JSON leads to."""
    found: list[str] = []
    if isinstance(node, dict):
        target = node.get("next")
        target_name = target.get("name") if isinstance(target, dict) else None
        if node.get("name") == "navigate" and isinstance(target_name, str):
            found.append(target_name)
        for value in node.values():
            found.extend(_navigate_targets(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_navigate_targets(value))
    return found


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _parent(path: str) -> str:
    match = re.fullmatch(r"(.*?)(?:\.[^.\[\]]+|\[\d+\])", path)
    return match.group(1) if match else ""


def version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return ()


class _Checker:
    def __init__(self, text: str, document: object) -> None:
        self.text = text
        self.document = document
        self.spans = _Spans(text)
        self.result = Result()
        self.screen_ids: set[str] = set()

    def error(self, error: str, error_type: str, message: str, path: str) -> None:
        # A missing property has no position of its own: point at the object that should hold it.
        located = path
        while located and located not in self.spans.by_path:
            located = _parent(located)
        position = self.spans.position(located)
        pointer = position | {"path": located or "$root"}
        self.result.errors.append(
            {"error": error, "error_type": error_type, "message": message}
            | position
            | {"pointers": [pointer]}
        )

    def run(self) -> None:
        doc = self.document
        if not isinstance(doc, dict):
            self.error("INVALID_PROPERTY_TYPE", SCHEMA, "Flow JSON must be an object.", "")
            return
        self.check_version(doc)
        screens = doc.get("screens")
        if "screens" not in doc:
            self.error(
                "MISSING_REQUIRED_PROPERTY", SCHEMA, "The property 'screens' is required.", ""
            )
            return
        if not isinstance(screens, list):
            self.error(
                "INVALID_PROPERTY_TYPE",
                SCHEMA,
                "The property 'screens' must be an array.",
                "screens",
            )
            return
        if not screens:
            self.error(
                "INVALID_PROPERTY_VALUE", SCHEMA, "A Flow needs at least one screen.", "screens"
            )
            return
        for index, screen in enumerate(screens):
            self.check_screen_head(screen, f"screens[{index}]")
        terminal = False
        for index, screen in enumerate(screens):
            if isinstance(screen, dict):
                terminal |= self.check_screen_body(screen, f"screens[{index}]")
        if not terminal:
            self.error(
                "MISSING_REQUIRED_PROPERTY",
                FLOW,
                "At least one screen must be terminal.",
                "screens",
            )
        self.check_data_api(doc)

    def check_version(self, doc: dict) -> None:
        version = doc.get("version")
        if "version" not in doc:
            self.error(
                "MISSING_REQUIRED_PROPERTY", SCHEMA, "The property 'version' is required.", ""
            )
        elif not isinstance(version, str):
            self.error(
                "INVALID_PROPERTY_TYPE",
                SCHEMA,
                "The property 'version' must be a string.",
                "version",
            )
        elif version not in KNOWN_VERSIONS:
            self.error(
                "INVALID_PROPERTY_VALUE",
                SCHEMA,
                f"Invalid Flow JSON version '{version}'. Known versions: {', '.join(KNOWN_VERSIONS)}.",
                "version",
            )
        else:
            self.result.version = version
        if "data_channel_uri" in doc and version_tuple(self.result.version) >= (3, 0):
            self.error(
                "INVALID_PROPERTY",
                SCHEMA,
                "The property 'data_channel_uri' cannot be specified from version 3.0; "
                "set endpoint_uri through the API.",
                "data_channel_uri",
            )

    def check_screen_head(self, screen: object, path: str) -> None:
        """Ids first, so that navigation anywhere can be checked against all of them."""
        if not isinstance(screen, dict):
            self.error("INVALID_PROPERTY_TYPE", SCHEMA, "A screen must be an object.", path)
            return
        screen_id = screen.get("id")
        if not isinstance(screen_id, str) or not screen_id.strip():
            self.error(
                "MISSING_REQUIRED_PROPERTY",
                SCHEMA,
                "Every screen needs a non-empty 'id'.",
                f"{path}.id",
            )
        elif screen_id == "SUCCESS":
            self.error(
                "INVALID_PROPERTY_VALUE", FLOW, "The screen id 'SUCCESS' is reserved.", f"{path}.id"
            )
        elif screen_id in self.screen_ids:
            self.error(
                "INVALID_PROPERTY_VALUE", FLOW, f"Duplicate screen id '{screen_id}'.", f"{path}.id"
            )
        else:
            self.screen_ids.add(screen_id)

    def check_screen_body(self, screen: dict, path: str) -> bool:
        """Check the layout and actions of one screen; returns whether it is terminal."""
        layout = screen.get("layout")
        terminal = screen.get("terminal") is True
        if not isinstance(layout, dict):
            self.error(
                "MISSING_REQUIRED_PROPERTY",
                SCHEMA,
                "Every screen needs a 'layout' object.",
                f"{path}.layout",
            )
            return terminal
        if layout.get("type") != "SingleColumnLayout":
            self.error(
                "INVALID_PROPERTY_VALUE",
                SCHEMA,
                "The layout 'type' must be 'SingleColumnLayout'.",
                f"{path}.layout.type",
            )
        children = layout.get("children")
        if not isinstance(children, list):
            self.error(
                "MISSING_REQUIRED_PROPERTY",
                SCHEMA,
                "The layout needs a 'children' array.",
                f"{path}.layout.children",
            )
            return terminal
        found = self.check_components(children, f"{path}.layout.children")
        if terminal and "Footer" not in found:
            self.error(
                "MISSING_REQUIRED_PROPERTY",
                FLOW,
                f"Terminal screen '{screen.get('id')}' must have a Footer.",
                f"{path}.layout.children",
            )
        return terminal

    def check_components(self, children: list, path: str) -> set[str]:
        """Check a list of components and those nested in them; returns the types found."""
        found: set[str] = set()
        for index, component in enumerate(children):
            here = f"{path}[{index}]"
            if not isinstance(component, dict):
                self.error("INVALID_PROPERTY_TYPE", SCHEMA, "A component must be an object.", here)
                continue
            kind = component.get("type")
            if "type" not in component:
                self.error(
                    "MISSING_REQUIRED_PROPERTY", SCHEMA, "The property 'type' is required.", here
                )
                continue
            if not isinstance(kind, str) or kind not in COMPONENTS:
                self.error(
                    "INVALID_PROPERTY_VALUE",
                    SCHEMA,
                    "Invalid value found for property 'type'.",
                    f"{here}.type",
                )
                continue
            found.add(kind)
            for key in ACTION_KEYS:
                self.check_action(component.get(key), f"{here}.{key}")
            items = component.get("list-items")
            for item_index, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, dict):
                    self.check_action(
                        item.get("on-click-action"),
                        f"{here}.list-items[{item_index}].on-click-action",
                    )
            nested = {
                "children": component.get("children"),
                "then": component.get("then"),
                "else": component.get("else"),
            }
            for key, value in nested.items():
                if isinstance(value, list):
                    found |= self.check_components(value, f"{here}.{key}")
            cases = component.get("cases")
            if isinstance(cases, dict):
                for case, value in cases.items():
                    if isinstance(value, list):
                        found |= self.check_components(value, f"{here}.cases.{case}")
        return found

    def check_action(self, action: object, path: str) -> None:
        if not isinstance(action, dict):
            return
        name = action.get("name")
        if name == "navigate":
            target = (
                (action.get("next") or {}).get("name")
                if isinstance(action.get("next"), dict)
                else None
            )
            if not isinstance(target, str) or target not in self.screen_ids:
                self.error(
                    "INVALID_PROPERTY_VALUE",
                    FLOW,
                    f"Navigation to screen '{target}' which does not exist.",
                    f"{path}.next.name",
                )
        elif name == "data_exchange" and "data_api_version" not in self.document:
            self.error(
                "INVALID_PROPERTY_VALUE",
                FLOW,
                "The data_exchange action needs an endpoint: set 'data_api_version'.",
                f"{path}.name",
            )

    def check_data_api(self, doc: dict) -> None:
        if "data_api_version" not in doc:
            return
        version = doc["data_api_version"]
        if not isinstance(version, str) or version not in DATA_API_VERSIONS:
            self.error(
                "INVALID_PROPERTY_VALUE",
                SCHEMA,
                f"Invalid data_api_version. Use one of {', '.join(DATA_API_VERSIONS)}.",
                "data_api_version",
            )
        else:
            self.result.data_api_version = version
        routing = doc.get("routing_model")
        if not isinstance(routing, dict):
            self.error(
                "MISSING_REQUIRED_PROPERTY",
                SCHEMA,
                "A 'routing_model' object is required when 'data_api_version' is set.",
                "routing_model",
            )
            return
        for source, targets in routing.items():
            if source not in self.screen_ids:
                self.error(
                    "INVALID_PROPERTY_VALUE",
                    FLOW,
                    f"The routing model names screen '{source}' which does not exist.",
                    f"routing_model.{source}",
                )
            if not isinstance(targets, list):
                self.error(
                    "INVALID_PROPERTY_TYPE",
                    SCHEMA,
                    "Routes must be an array of screen ids.",
                    f"routing_model.{source}",
                )
                continue
            for index, target in enumerate(targets):
                if not isinstance(target, str) or target not in self.screen_ids:
                    self.error(
                        "INVALID_PROPERTY_VALUE",
                        FLOW,
                        f"The routing model names screen '{target}' which does not exist.",
                        f"routing_model.{source}[{index}]",
                    )


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


class _Spans:
    """Where each value of a (valid) JSON text starts and ends, by path like screens[0].layout.type."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.by_path: dict[str, tuple[int, int]] = {}
        self.line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        self._value(0, "")

    def position(self, path: str) -> dict:
        start, end = self.by_path.get(path, (0, max(len(self.text), 1)))
        line_start, column_start = self._line_column(start)
        line_end, column_end = self._line_column(max(end - 1, start))
        return {
            "line_start": line_start,
            "line_end": line_end,
            "column_start": column_start,
            "column_end": column_end,
        }

    def _line_column(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def _skip(self, i: int) -> int:
        return _WHITESPACE.match(self.text, i).end()

    def _value(self, i: int, path: str) -> int:
        text = self.text
        i = start = self._skip(i)
        ch = text[i]
        if ch == "{":
            i = self._skip(i + 1)
            while text[i] != "}":
                key, i = scanstring(text, i + 1)
                i = self._skip(i) + 1  # the colon
                i = self._skip(self._value(i, f"{path}.{key}" if path else key))
                if text[i] == ",":
                    i = self._skip(i + 1)
            i += 1
        elif ch == "[":
            i = self._skip(i + 1)
            index = 0
            while text[i] != "]":
                i = self._skip(self._value(i, f"{path}[{index}]"))
                index += 1
                if text[i] == ",":
                    i = self._skip(i + 1)
            i += 1
        elif ch == '"':
            _, i = scanstring(text, i + 1)
        else:
            i = _SCALAR.match(text, i).end()
        self.by_path[path] = (start, i)
        return i
