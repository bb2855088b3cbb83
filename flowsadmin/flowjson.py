"""Flow JSON: parse it, validate it and say what is wrong, with the line and column of every message.

Framework-free on purpose: no Django, no requests, no models. The flow form, the preview and the
`validate_flow` command all call `validate(text)` and show `report.errors` and `report.warnings`.

Three layers, each message saying what is wrong and what to do:

1. syntax: `json.loads`, and on failure a hint for the usual culprits of a paste (comments, trailing
   commas, smart or single quotes, unquoted keys, a BOM);
2. structure: the JSON Schema of the version family in `schemas/`, component by component, so that an
   unknown component type can be a warning (the preview draws a placeholder) while a component newer
   than the Flow's `version` is an error naming the version that introduced it;
3. cross-references: screen ids, navigation targets, the routing model, `${data.x}` / `${form.x}`
   references, terminal screens, the endpoint keys, and CleverTap's `ct-evt` / `ct-up` payload keys.

Sources are `shared/reference/flow-json.md` and the product document. Rules the reference marks
[unconfirmed] are warnings where they would reject one of the product document's example flows.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cache
from json.decoder import scanstring
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

KNOWN_VERSIONS = (
    "2.1", "3.0", "3.1", "4.0", "5.0", "5.1",
    "6.0", "6.1", "6.2", "6.3", "7.0", "7.1", "7.2", "7.3",
)  # fmt: skip
# Meta froze these: Flows with them keep working and can be sent, but can't be published or updated.
FROZEN_VERSIONS = ("2.1", "3.0", "3.1", "4.0", "5.0")
RECOMMENDED_VERSION = "7.3"
DATA_API_VERSIONS = ("3.0", "4.0")

# Far beyond any real Flow (the three examples are 5-10 KB); keeps a wrong paste from tying up a worker.
MAX_TEXT_CHARS = 10_000_000
# Real Flows nest about 15 levels; this is only reported when the parser itself gives up.
MAX_NESTING = 100
# Form, If and Switch nest components; Meta allows If three deep, this guards our own recursion.
MAX_COMPONENT_NESTING = 20

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
# One schema per family: before 4.0 inputs must sit in a Form and group labels are optional.
SCHEMA_FAMILIES = {"2": ("2.1", "3.0", "3.1"), "4plus": KNOWN_VERSIONS[3:]}

# The version that introduced each component (reference §2 and §6).
COMPONENT_SINCE = {
    **dict.fromkeys(
        ("TextHeading", "TextSubheading", "TextBody", "TextCaption", "TextInput", "TextArea",
         "CheckboxGroup", "RadioButtonsGroup", "Dropdown", "OptIn", "DatePicker", "Footer",
         "EmbeddedLink", "Image", "Form"),
        "2.1",
    ),
    "PhotoPicker": "4.0", "DocumentPicker": "4.0", "If": "4.0", "Switch": "4.0",
    "RichText": "5.1", "CalendarPicker": "6.1", "NavigationList": "6.2",
    "ChipsSelector": "6.3", "ImageCarousel": "7.1",
}  # fmt: skip
# Components whose value a Flow can read with ${form.<name>}.
INPUT_COMPONENTS = frozenset(
    ("TextInput", "TextArea", "CheckboxGroup", "RadioButtonsGroup", "Dropdown", "ChipsSelector",
     "OptIn", "DatePicker", "CalendarPicker", "PhotoPicker", "DocumentPicker")
)  # fmt: skip
# Properties added after their component (reference §2); using one too early is a warning, as
# our per-property history is less certain than the component table.
PROPERTY_SINCE = {
    ("TextInput", "pattern"): "6.2",
    ("TextInput", "label-variant"): "7.0",
    ("TextArea", "label-variant"): "7.0",
    ("TextBody", "markdown"): "5.1",
    ("TextCaption", "markdown"): "5.1",
    ("CheckboxGroup", "description"): "4.0",
    ("RadioButtonsGroup", "description"): "4.0",
    ("CheckboxGroup", "media-size"): "5.0",
    ("RadioButtonsGroup", "media-size"): "5.0",
    ("CheckboxGroup", "on-unselect-action"): "6.0",
    ("RadioButtonsGroup", "on-unselect-action"): "6.0",
    ("Dropdown", "on-unselect-action"): "6.0",
    ("ChipsSelector", "on-select-action"): "7.1",
    ("ChipsSelector", "on-unselect-action"): "7.1",
    ("Screen", "success"): "3.1",
    ("Screen", "sensitive"): "5.1",
}
ACTION_SINCE = {"update_data": "6.0", "open_url": "6.0"}
# Where each action may be used (reference §7).
ON_CLICK_ACTIONS = {
    "Footer": ("navigate", "data_exchange", "complete"),
    "EmbeddedLink": ("navigate", "data_exchange", "update_data", "open_url"),
    "OptIn": ("navigate", "data_exchange", "update_data", "open_url"),
    "NavigationList": ("navigate", "data_exchange"),
}
SLOT_ACTIONS = {
    "on-select-action": ("data_exchange", "update_data"),
    "on-unselect-action": ("update_data",),
}
ACTION_SLOTS = ("on-click-action", "on-select-action", "on-unselect-action")
KNOWN_ACTIONS = ("navigate", "data_exchange", "complete", "update_data", "open_url")
TOP_LEVEL_KEYS = ("version", "data_api_version", "routing_model", "data_channel_uri", "screens")
# CleverTap reads these payload keys from data_exchange and complete actions only.
INGESTED_BY = ("data_exchange", "complete")
CT_KEYS = ("ct-evt", "ct-up")

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Message:
    level: str  # "error" or "warning"
    code: str  # short machine id, e.g. "unknown-navigate-target"
    message: str  # plain words: what is wrong and what to do
    path: str  # JSON path, e.g. $.screens[1].layout.children[3]
    line: int  # 1-based, into the text as given
    column: int  # 1-based, in characters

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    errors: list[Message] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)
    data: dict | None = None  # the parsed Flow JSON when its syntax is fine
    version: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def messages(self) -> list[Message]:
        """Errors and warnings in the order they appear in the text."""
        return sorted(
            self.errors + self.warnings, key=lambda m: (m.line, m.column, m.level != "error")
        )

    @property
    def publishable(self) -> bool:
        return self.ok and self.version is not None and is_publishable(self.version)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "version": self.version,
            "errors": [m.as_dict() for m in self.errors],
            "warnings": [m.as_dict() for m in self.warnings],
        }


def is_publishable(version: str) -> bool:
    """Whether Meta still lets a Flow with this version be published or updated."""
    return version in KNOWN_VERSIONS and version not in FROZEN_VERSIONS


def format_path(path: JsonPath) -> str:
    parts = ["$"]
    for part in path:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif _PLAIN_KEY.match(part):
            parts.append(f".{part}")
        else:
            parts.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(parts)


def format_message(msg: Message, filename: str | None = None) -> str:
    """One line in the compiler style editors and CI logs understand: file:line:col: level: text [path]."""
    where = f"{msg.line}:{msg.column}"
    if filename:
        where = f"{filename}:{where}"
    return f"{where}: {msg.level}: {msg.message} [{msg.path}]"


def validate(text: str) -> Report:
    """Check a Flow JSON text: syntax, structure for its version, and cross-references."""
    if len(text) > MAX_TEXT_CHARS:
        size = len(text) / 1_000_000
        return Report(
            errors=[
                Message(
                    "error", "too-large",
                    f"The text is {size:.1f} million characters long; the limit is "
                    f"{MAX_TEXT_CHARS // 1_000_000} million. A Flow is far smaller than this: "
                    "check that you pasted the right file.",
                    "$", 1, 1,
                )
            ]
        )  # fmt: skip
    notes: list[Message] = []
    if text.startswith("\ufeff"):
        # A space keeps every offset, and so every line and column, the same as in the original.
        text = " " + text[1:]
        notes.append(
            Message(
                "warning", "bom",
                "The text starts with a byte order mark (BOM, an invisible character some editors "
                "add). It was ignored here, but Meta may refuse it: save the file as UTF-8 "
                "without BOM.",
                "$", 1, 1,
            )
        )  # fmt: skip
    if not text.strip():
        return Report(
            errors=[
                Message(
                    "error", "empty",
                    "The Flow JSON is empty: paste the JSON from Meta's Flow builder.",
                    "$", 1, 1,
                )
            ],
            warnings=notes,
        )  # fmt: skip
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return Report(errors=[_syntax_error(text, exc)], warnings=notes)
    except _ConstantError as exc:
        return Report(errors=[_constant_error(text, exc.args[0])], warnings=notes)
    except RecursionError:
        return Report(errors=[_nesting_error(text)], warnings=notes)

    if not isinstance(data, dict):
        kind = _json_type(data)
        start = _WS.match(text).end()
        line, column = _line_col(text, start)
        msg = Message(
            "error", "not-an-object",
            f"The Flow JSON must be one object {{...}} with \"version\" and \"screens\", but this is "
            f"{kind}. If you pasted a list of Flows or a fragment, paste a single whole Flow.",
            "$", line, column,
        )  # fmt: skip
        return Report(errors=[msg], warnings=notes)

    checker = _Checker(text, data)
    try:
        checker.run()
    except RecursionError:
        checker.error("nested-too-deeply", _nesting_error(text).message, ())
    report = checker.report()
    report.warnings = sorted(notes + report.warnings, key=lambda m: (m.line, m.column))
    return report


# --- syntax -------------------------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_PLAIN_KEY = re.compile(r"[^.\[\]'\"\s]+\Z")
_SMART_QUOTES = "“”‘’„‚«»"
# A string literal, or (group 1) what we look for outside of strings.
_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|(//|/\*|#)')
_BRACKETS = re.compile(r'"(?:[^"\\\n]|\\.)*"|([\[{])|([\]}])')
_CONSTANT = re.compile(r'"(?:[^"\\\n]|\\.)*"|(-?Infinity|NaN)')
_WORD = re.compile(r"[A-Za-z_$][\w$-]*")


class _ConstantError(ValueError):
    pass


def _refuse_constant(name: str) -> None:
    # Python's json accepts NaN and Infinity; JSON (and Meta) does not.
    raise _ConstantError(name)


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _find_outside_strings(pattern: re.Pattern[str], text: str, start: int = 0) -> Iterator[int]:
    for match in pattern.finditer(text, start):
        if match.group(1):
            yield match.start(1)


def _syntax_message(code: str, text: str, offset: int, message: str) -> Message:
    line, column = _line_col(text, offset)
    text = message.replace("{line}", str(line)).replace("{column}", str(column))
    return Message("error", code, text, "$", line, column)


def _syntax_error(text: str, exc: json.JSONDecodeError) -> Message:
    pos = exc.pos
    rest = text[pos : pos + 2]
    char = rest[:1]
    before = len(text[:pos].rstrip(" \t\r\n"))  # index just after the previous non-blank character

    if rest in ("//", "/*") or char == "#":
        others = sorted(
            {_line_col(text, at)[0] for at in _find_outside_strings(_COMMENT, text, pos + 2)}
            - {_line_col(text, pos)[0]}
        )
        also = f" (and the ones on lines {', '.join(map(str, others))})" if others else ""
        return _syntax_message(
            "json-comment", text, pos,
            "JSON has no comments: remove the comment on line {line}" + also + ". "
            "Comments in examples are notes for people; Meta refuses them.",
        )  # fmt: skip
    if char and char in "]}" and before and text[before - 1] == ",":
        return _syntax_message(
            "json-trailing-comma", text, before - 1,
            "Trailing comma on line {line}: JSON allows no comma after the last item of a list or "
            "object. Remove this comma.",
        )  # fmt: skip
    if char and char in _SMART_QUOTES:
        return _syntax_message(
            "json-smart-quote", text, pos,
            f"Smart quote {char} on line {{line}}, column {{column}}: JSON needs straight double "
            'quotes ("). Word processors and chat apps replace them; paste from a code editor '
            "or replace every “ ” ‘ ’ with \".",
        )  # fmt: skip
    if char == "'":
        return _syntax_message(
            "json-single-quote", text, pos,
            "Single quote on line {line}, column {column}: JSON strings and property names need "
            "double quotes (\"), not single quotes (').",
        )  # fmt: skip
    word = _WORD.match(text, pos)
    if word and exc.msg.startswith("Expecting property name"):
        return _syntax_message(
            "json-unquoted-key", text, pos,
            f'Property name without quotes on line {{line}}: write "{word.group()}" instead of '
            f"{word.group()} (JSON property names need double quotes).",
        )  # fmt: skip
    if word and exc.msg.startswith("Expecting value"):
        literal = word.group()
        fixes = {"True": "true", "False": "false", "None": "null", "undefined": "null"}
        if literal in fixes:
            hint = f"write {fixes[literal]} instead of {literal}"
        else:
            hint = f'text values need double quotes: write "{literal}"'
        return _syntax_message(
            "json-bare-word", text, pos,
            f"Unexpected {literal} on line {{line}}, column {{column}}: {hint}.",
        )  # fmt: skip
    if pos >= len(text.rstrip()) and exc.msg.startswith(("Expecting", "Unterminated")):
        return _syntax_message(
            "json-truncated", text, min(pos, len(text)),
            "The JSON stops before it is complete (line {line}): a closing } or ] or a quote is "
            "missing, or only part of the Flow was pasted.",
        )  # fmt: skip
    if exc.msg.startswith("Expecting ',' delimiter"):
        return _syntax_message(
            "json-missing-comma", text, before,
            "A comma is missing on line {line}, column {column}: items of a list or object are "
            "separated by commas. Add one here.",
        )  # fmt: skip
    if exc.msg.startswith("Expecting ':' delimiter"):
        return _syntax_message(
            "json-missing-colon", text, pos,
            "A colon is missing on line {line}, column {column}: write "
            '"property": value, with a colon after the property name.',
        )  # fmt: skip
    if exc.msg.startswith("Invalid control character"):
        return _syntax_message(
            "json-control-character", text, pos,
            "A line break or tab inside a string on line {line}: close the string on the same line "
            "and write line breaks as \\n.",
        )  # fmt: skip
    if exc.msg.startswith("Invalid \\"):
        return _syntax_message(
            "json-bad-escape", text, pos,
            "Invalid backslash escape on line {line}, column {column}: in JSON strings write \\\\ "
            'for a backslash, \\" for a quote and \\n for a line break.',
        )  # fmt: skip
    if exc.msg.startswith("Extra data"):
        return _syntax_message(
            "json-extra-data", text, pos,
            "More text follows the end of the JSON, on line {line}, column {column}: remove it "
            "(a Flow is exactly one object; were two pasted?).",
        )  # fmt: skip
    line_end = text.find("\n", pos)
    line_text = text[text.rfind("\n", 0, pos) + 1 : line_end if line_end >= 0 else len(text)]
    quotes = [q for q in _SMART_QUOTES if q in line_text]
    if quotes:
        return _syntax_message(
            "json-smart-quote", text, pos,
            f"Line {{line}} contains the smart quote {quotes[0]}: JSON needs straight double quotes "
            '("). Replace every “ ” ‘ ’ with ".',
        )  # fmt: skip
    return _syntax_message(
        "json-syntax",
        text,
        pos,
        f"JSON syntax error on line {{line}}, column {{column}}: {exc.msg.lower()}.",
    )


def _constant_error(text: str, name: str) -> Message:
    at = next(_find_outside_strings(_CONSTANT, text), 0)
    return _syntax_message(
        "json-syntax", text, at,
        f"{name} on line {{line}} is not a JSON value: write a number, or null.",
    )  # fmt: skip


def _nesting_error(text: str) -> Message:
    depth, at = 0, 0
    for match in _BRACKETS.finditer(text):
        if match.group(1):
            depth += 1
            if depth > MAX_NESTING:
                at = match.start()
                break
        elif match.group(2):
            depth -= 1
    return _syntax_message(
        "nested-too-deeply", text, at,
        f"The JSON is nested too deeply (more than {MAX_NESTING} levels of [ or {{ by line "
        "{line}, column {column}); a Flow needs about 15. Look for brackets that are opened "
        "and never closed.",
    )  # fmt: skip


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return "a number"


# --- positions ----------------------------------------------------------------------------------

_SCAN = json.JSONDecoder().scan_once


class _Locator:
    """Maps a JSON path to its offset in the text, scanning only the containers on the way.

    The C decoder skips over each sibling value, so a lookup costs little more than `json.loads`
    of the part of the text before it; every scanned container is remembered for the next lookup.
    Duplicate keys resolve to the last one, as `json.loads` does.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.values: dict[JsonPath, int] = {(): _WS.match(text).end()}
        self.keys: dict[JsonPath, int] = {}
        self.scanned: set[JsonPath] = set()
        self.line_starts: list[int] | None = None
        self.lookups = 0

    def offset(self, path: JsonPath) -> int:
        known = len(path)
        while path[:known] not in self.values:
            known -= 1
        for depth in range(known, len(path)):
            prefix = path[:depth]
            if prefix not in self.scanned:
                self._scan(prefix)
            if path[: depth + 1] not in self.values:
                return self.values[prefix]
        # Point at the property name for object members: that is the line people look at.
        return self.keys.get(path, self.values[path])

    def line_col(self, offset: int) -> tuple[int, int]:
        self.lookups += 1
        if self.line_starts is None and self.lookups > 16:
            # Many messages in a long text: one pass instead of counting newlines each time.
            self.line_starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        if self.line_starts is None:
            return _line_col(self.text, offset)
        index = bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1

    def _scan(self, prefix: JsonPath) -> None:
        text, ws = self.text, _WS.match
        self.scanned.add(prefix)
        pos = self.values[prefix]
        opener = text[pos : pos + 1]
        if opener not in ("{", "["):
            return
        closer = "}" if opener == "{" else "]"
        pos = ws(text, pos + 1).end()
        index = 0
        while text[pos : pos + 1] != closer:
            if opener == "{":
                key_at = pos
                key, pos = scanstring(text, pos + 1)
                pos = ws(text, ws(text, pos).end() + 1).end()  # past the colon
                child: JsonPath = (*prefix, key)
                self.keys[child] = key_at
            else:
                child = (*prefix, index)
                index += 1
            self.values[child] = pos
            _, pos = _SCAN(text, pos)
            pos = ws(text, pos).end()
            if text[pos : pos + 1] == ",":
                pos = ws(text, pos + 1).end()


# --- structure and cross-references -------------------------------------------------------------


@dataclass
class _Action:
    name: str
    raw: dict
    path: JsonPath
    component: str
    slot: str


@dataclass
class _Screen:
    index: int
    raw: dict
    id: str | None
    path: JsonPath
    terminal: bool
    data_keys: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    footers: list[JsonPath] = field(default_factory=list)
    has_footer: bool = False
    actions: list[_Action] = field(default_factory=list)
    refs: list[tuple[str, JsonPath]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f'screen "{self.id}"' if self.id else f"screen {self.index + 1}"


@dataclass
class _Schema:
    """One schema: a quick yes/no check, and jsonschema to explain a no."""

    is_valid: Callable[[Any], bool]
    explain: Draft202012Validator

    def errors(self, instance: Any) -> Iterator[ValidationError]:
        if not self.is_valid(instance):
            yield from self.explain.iter_errors(instance)


@dataclass
class _Family:
    root: _Schema
    components: dict[str, _Schema]
    component_properties: dict[str, frozenset[str]]
    screen_properties: frozenset[str]


@cache
def _family(name: str) -> _Family:
    schema = json.loads((SCHEMA_DIR / f"flowjson-{name}.json").read_text(encoding="utf-8"))
    root = Draft202012Validator(schema)
    components = schema["$defs"]["components"]
    compiled: dict[str, Callable[[Any], bool]] = {}
    return _Family(
        root=_Schema(_compile(schema, schema, compiled), root),
        # evolve() keeps the root's resolver, so "#/$defs/..." inside a component still resolves.
        components={
            ctype: _Schema(_compile(sub, schema, compiled), root.evolve(schema=sub))
            for ctype, sub in components.items()
        },
        component_properties={
            ctype: frozenset(sub["properties"]) for ctype, sub in components.items()
        },
        screen_properties=frozenset(schema["$defs"]["screen"]["properties"]),
    )


# jsonschema spends most of its time building validators as it descends, ~100 us per component;
# a 100-screen Flow would take 100 ms. So a compiled check of the same schema decides whether an
# object is valid (~10x faster), and only invalid objects go through jsonschema for its errors.
# It knows only the keywords our schema files use, and refuses to load a schema with any other.
_ANNOTATIONS = frozenset(("$schema", "$id", "$comment", "$defs", "title", "description"))
_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    # JSON Schema counts 2.0 as an integer.
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
}


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_json_equal, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return a == b


def _compile(
    schema: Any, root: dict, refs: dict[str, Callable[[Any], bool]]
) -> Callable[[Any], bool]:
    if schema is True or schema == {}:
        return lambda v: True
    if schema is False:
        return lambda v: False
    checks: list[Callable[[Any], bool]] = []
    unknown = set(schema) - _ANNOTATIONS - _KEYWORDS.keys() - {"then", "else"}
    if unknown:
        raise ValueError(f"flowjson's schema check does not know {sorted(unknown)}")
    for key, value in schema.items():
        if key in _ANNOTATIONS or key in ("then", "else"):
            continue
        checks.append(_KEYWORDS[key](value, schema, root, refs))
    if len(checks) == 1:
        return checks[0]

    def check(v: Any) -> bool:
        return all(c(v) for c in checks)

    return check


def _k_ref(ref: str, schema: dict, root: dict, refs: dict) -> Callable[[Any], bool]:
    if ref not in refs:
        assert ref.startswith("#/"), ref
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        cell: list[Callable[[Any], bool]] = []
        refs[ref] = lambda v: cell[0](v)  # a placeholder, should a definition refer to itself
        cell.append(_compile(target, root, refs))
        refs[ref] = cell[0]
    return refs[ref]


def _k_type(names: str | list[str], *_: Any) -> Callable[[Any], bool]:
    tests = [_TYPE_TESTS[n] for n in ([names] if isinstance(names, str) else names)]
    return tests[0] if len(tests) == 1 else lambda v: any(t(v) for t in tests)


def _k_properties(props: dict, schema: dict, root: dict, refs: dict) -> Callable[[Any], bool]:
    compiled = {key: _compile(sub, root, refs) for key, sub in props.items()}
    extra = schema.get("additionalProperties", True)
    other = _compile(extra, root, refs)

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        return all(compiled.get(key, other)(item) for key, item in v.items())

    return check


def _k_additional(extra: Any, schema: dict, root: dict, refs: dict) -> Callable[[Any], bool]:
    if "properties" in schema:
        return lambda v: True  # handled together with "properties"
    other = _compile(extra, root, refs)
    return lambda v: not isinstance(v, dict) or all(other(x) for x in v.values())


def _k_required(keys: list[str], *_: Any) -> Callable[[Any], bool]:
    return lambda v: not isinstance(v, dict) or all(k in v for k in keys)


def _k_items(sub: Any, schema: dict, root: dict, refs: dict) -> Callable[[Any], bool]:
    each = _compile(sub, root, refs)
    return lambda v: not isinstance(v, list) or all(each(x) for x in v)


def _k_all_of(subs: list, schema: dict, root: dict, refs: dict) -> Callable[[Any], bool]:
    compiled = [_compile(sub, root, refs) for sub in subs]
    return lambda v: all(c(v) for c in compiled)


def _k_if(sub: Any, schema: dict, root: dict, refs: dict) -> Callable[[Any], bool]:
    test = _compile(sub, root, refs)
    then = _compile(schema.get("then", True), root, refs)
    other = _compile(schema.get("else", True), root, refs)
    return lambda v: then(v) if test(v) else other(v)


def _k_enum(choices: list, *_: Any) -> Callable[[Any], bool]:
    return lambda v: any(_json_equal(v, c) for c in choices)


def _k_const(value: Any, *_: Any) -> Callable[[Any], bool]:
    return lambda v: _json_equal(v, value)


def _k_pattern(pattern: str, *_: Any) -> Callable[[Any], bool]:
    search = re.compile(pattern).search
    return lambda v: not isinstance(v, str) or search(v) is not None


_KEYWORDS: dict[str, Callable[..., Callable[[Any], bool]]] = {
    "$ref": _k_ref,
    "type": _k_type,
    "properties": _k_properties,
    "additionalProperties": _k_additional,
    "required": _k_required,
    "items": _k_items,
    "allOf": _k_all_of,
    "if": _k_if,  # with its "then" and "else"
    "enum": _k_enum,
    "const": _k_const,
    "pattern": _k_pattern,
    "minItems": lambda n, *_: lambda v: not isinstance(v, list) or len(v) >= n,
    "maxItems": lambda n, *_: lambda v: not isinstance(v, list) or len(v) <= n,
    "minLength": lambda n, *_: lambda v: not isinstance(v, str) or len(v) >= n,
    "maxLength": lambda n, *_: lambda v: not isinstance(v, str) or len(v) <= n,
}


def _family_for(version: str | None) -> str:
    if version in SCHEMA_FAMILIES["2"]:
        return "2"
    return "4plus"


@cache
def _v(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


_REF = re.compile(
    r"\$\{\s*(?:(data|form)\.([^.\[\]\s}]+)|screen\.([^.\s}]+)\.(data|form)\.([^.\[\]\s}]+))"
)
_SCREEN_ID = re.compile(r"[A-Za-z_]+\Z")
_TYPE_WORDS = {
    "string": "text in double quotes",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "object": "an object {...}",
    "array": "a list [...]",
    "null": "null",
}
_EXAMPLE_TYPES = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
_REQUIRED_HINTS = {
    "version": f'"version": "{RECOMMENDED_VERSION}" (the recommended version)',
    "screens": '"screens": [...] with at least one screen',
    "layout": '"layout": {"type": "SingleColumnLayout", "children": [...]}',
    "children": '"children": [...] with the components',
    "on-click-action": '"on-click-action": {"name": "complete", "payload": {}} (or navigate)',
    "next": '"next": {"type": "screen", "name": "NEXT_SCREEN_ID"}',
    "__example__": '"__example__" with a sample value (the preview and Meta\'s builder use it)',
    "data-source": '"data-source": [{"id": "1", "title": "First option"}, ...]',
    "label": '"label", the text people see',
}


def _required_hint(name: str, path: JsonPath) -> str:
    """How to add a missing property, worded for the object that misses it."""
    last = path[-1] if path else None
    parent = path[-2] if len(path) > 1 else None
    if name == "type":
        if last == "next":
            return '"type": "screen"'
        if last == "layout":
            return '"type": "SingleColumnLayout"'
        if parent == "data":
            return '"type": "string" (or number, boolean, object, array)'
        return '"type", the kind of component (e.g. "TextBody")'
    if name == "name":
        if last == "next":
            return '"name": "NEXT_SCREEN_ID"'
        if last in ACTION_SLOTS:
            return f'"name", the action ({", ".join(KNOWN_ACTIONS)})'
        return '"name", the key its value is sent under'
    return _REQUIRED_HINTS.get(name, f'"{name}"')


class _Checker:
    def __init__(self, text: str, data: dict) -> None:
        self.text = text
        self.data = data
        self.pending: list[tuple[str, str, str, JsonPath]] = []
        self.seen: set[tuple[str, str, JsonPath]] = set()
        self.version: str | None = None  # only a known version; None turns version checks off
        self.screens: list[_Screen] = []
        self.by_id: dict[str, _Screen] = {}

    # messages

    def error(self, code: str, message: str, path: JsonPath) -> None:
        self._add("error", code, message, path)

    def warn(self, code: str, message: str, path: JsonPath) -> None:
        self._add("warning", code, message, path)

    def _add(self, level: str, code: str, message: str, path: JsonPath) -> None:
        if (code, message, path) not in self.seen:
            self.seen.add((code, message, path))
            self.pending.append((level, code, message, path))

    def report(self) -> Report:
        locator = _Locator(self.text)
        report = Report(data=self.data, version=self.version)
        if report.version is None and isinstance(self.data.get("version"), str):
            report.version = self.data["version"]
        for level, code, message, path in self.pending:
            line, column = locator.line_col(locator.offset(path))
            msg = Message(level, code, message, format_path(path), line, column)
            (report.errors if level == "error" else report.warnings).append(msg)
        report.errors.sort(key=lambda m: (m.line, m.column))
        report.warnings.sort(key=lambda m: (m.line, m.column))
        return report

    # the checks, in the order a reader would fix them

    def run(self) -> None:
        self._check_version()
        family = _family(_family_for(self.version))
        for err in family.root.errors(self.data):
            self._schema_error(err, ())
        for key in self.data:
            if key not in TOP_LEVEL_KEYS:
                self.warn(
                    "unknown-property",
                    f'"{key}" is not a Flow JSON top-level property (those are '
                    f"{', '.join(TOP_LEVEL_KEYS)}); Meta refuses properties it does not know: "
                    "check the spelling or remove it.",
                    (key,),
                )
        self._collect_screens(family)
        for screen in self.screens:
            self._check_references(screen)
        self._check_actions()
        self._check_terminal_screens()
        self._check_endpoint()
        self._check_routing_model()

    def _check_version(self) -> None:
        version = self.data.get("version")
        if "version" not in self.data:
            return  # the schema reports it with a hint
        supported = ", ".join(KNOWN_VERSIONS)
        if isinstance(version, int | float) and not isinstance(version, bool):
            as_text = f"{version:.1f}" if isinstance(version, float) else f"{version}.0"
            self.error(
                "version-not-text",
                f'"version" must be text: write "version": "{as_text}" with quotes.',
                ("version",),
            )
            version = as_text
        if not isinstance(version, str):
            return  # the schema's type error covers the rest
        if version not in KNOWN_VERSIONS:
            self.error(
                "unknown-version",
                f'Version "{version}" is not a Flow JSON version: use one of {supported} '
                f"({RECOMMENDED_VERSION} is recommended; Meta has frozen "
                f"{', '.join(FROZEN_VERSIONS)}).",
                ("version",),
            )
            return
        self.version = version
        if version in FROZEN_VERSIONS:
            self.warn(
                "frozen-version",
                f"Version {version} is frozen by Meta: this Flow can be kept and sent, but Meta "
                "no longer lets you publish it or update it. To publish or change it, move it to "
                f'"version": "{RECOMMENDED_VERSION}" (check the version changes, e.g. Form is '
                "optional from 4.0 and DatePicker values are YYYY-MM-DD from 5.0).",
                ("version",),
            )

    def _before(self, since: str) -> bool:
        return self.version is not None and _v(self.version) < _v(since)

    # screens and components

    def _collect_screens(self, family: _Family) -> None:
        screens = self.data.get("screens")
        if not isinstance(screens, list):
            return
        first_index: dict[str, int] = {}
        for index, raw in enumerate(screens):
            if not isinstance(raw, dict):
                continue
            path: JsonPath = ("screens", index)
            sid = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
            screen = _Screen(index, raw, sid, path, terminal=raw.get("terminal") is True)
            self.screens.append(screen)
            if sid is not None:
                self._check_screen_id(screen, first_index)
            self._check_screen_properties(screen, family)
            self._check_data_declarations(screen)
            title = raw.get("title")
            if isinstance(title, str) and "${" in title:
                screen.refs.append((title, (*path, "title")))
            layout = raw.get("layout")
            if isinstance(layout, dict):
                self._walk(
                    screen, family, layout.get("children"), (*path, "layout", "children"),
                    in_form=False, in_branch=False, depth=0,
                )  # fmt: skip

    def _check_screen_id(self, screen: _Screen, first_index: dict[str, int]) -> None:
        sid = screen.id
        assert sid is not None
        id_path = (*screen.path, "id")
        if sid in first_index:
            self.error(
                "duplicate-screen-id",
                f'Screen id "{sid}" is already used by screen {first_index[sid] + 1}: screen ids '
                "must be unique. Rename one, and the navigate actions and routing_model entries "
                "that should point to it.",
                id_path,
            )
            return
        first_index[sid] = screen.index
        self.by_id[sid] = screen
        if sid == "SUCCESS":
            self.error(
                "reserved-screen-id",
                'The screen id "SUCCESS" is reserved by Meta (an endpoint answers with it to close '
                "the Flow): rename this screen.",
                id_path,
            )
        elif not _SCREEN_ID.match(sid):
            self.warn(
                "screen-id-characters",
                f'Screen id "{sid}" has characters other than letters and underscores; Meta '
                "expects ids like PICK_SLOT and may refuse others: consider renaming it.",
                id_path,
            )

    def _check_screen_properties(self, screen: _Screen, family: _Family) -> None:
        blank_refused = self.version is not None and not self._before("6.0")
        for key, value in screen.raw.items():
            if blank_refused and isinstance(value, str) and not value.strip():
                self.error(
                    "blank-text",
                    f'"{key}" of {screen.label} is empty; from version 6.0 Meta refuses empty or '
                    "blank text: write a value or remove the property.",
                    (*screen.path, key),
                )
            since = PROPERTY_SINCE.get(("Screen", key))
            if since and self._before(since):
                self.warn(
                    "property-too-new",
                    f'The screen property "{key}" needs version {since} or later, but this Flow '
                    f'is version {self.version}: raise "version" or remove it.',
                    (*screen.path, key),
                )
            elif key not in family.screen_properties:
                self.warn(
                    "unknown-property",
                    f'"{key}" is not a screen property (those are '
                    f"{', '.join(sorted(family.screen_properties))}); Meta refuses properties it "
                    "does not know: check the spelling or remove it.",
                    (*screen.path, key),
                )

    def _check_data_declarations(self, screen: _Screen) -> None:
        data = screen.raw.get("data")
        if not isinstance(data, dict):
            return
        screen.data_keys = set(data)
        for key, decl in data.items():
            if not isinstance(decl, dict):
                continue  # the schema reports it
            path = (*screen.path, "data", key)
            kind = decl.get("type")
            if kind == "array" and "items" not in decl:
                self.warn(
                    "data-declaration-incomplete",
                    f'Data field "{key}" on {screen.label} is an array without "items": Meta\'s '
                    'reference asks for them. Add "items": {"type": "string"} (or the item shape).',
                    path,
                )
            elif kind == "object" and "properties" not in decl:
                self.warn(
                    "data-declaration-incomplete",
                    f'Data field "{key}" on {screen.label} is an object without "properties": '
                    'Meta\'s reference asks for them. Add "properties": {...} describing its '
                    "fields.",
                    path,
                )
            if "__example__" in decl and kind in _EXAMPLE_TYPES:
                example = decl["__example__"]
                wrong = not isinstance(example, _EXAMPLE_TYPES[kind]) or (
                    isinstance(example, bool) and kind != "boolean"
                )
                if wrong:
                    self.error(
                        "example-type-mismatch",
                        f'The "__example__" of data field "{key}" on {screen.label} is '
                        f'{_json_type(example)}, but its "type" is "{kind}": make them agree.',
                        (*path, "__example__"),
                    )

    def _walk(
        self,
        screen: _Screen,
        family: _Family,
        children: Any,
        path: JsonPath,
        *,
        in_form: bool,
        in_branch: bool,
        depth: int,
    ) -> None:
        if not isinstance(children, list):
            return  # the schema reports it
        if depth > MAX_COMPONENT_NESTING:
            self.error(
                "nested-too-deeply",
                f"Components on {screen.label} are nested more than {MAX_COMPONENT_NESTING} "
                "levels deep (Form, If, Switch): Meta allows If three levels deep. Flatten them.",
                path,
            )
            return
        for index, component in enumerate(children):
            if isinstance(component, dict):
                self._component(
                    screen, family, component, (*path, index),
                    in_form=in_form, in_branch=in_branch, depth=depth,
                )  # fmt: skip

    def _component(
        self,
        screen: _Screen,
        family: _Family,
        comp: dict,
        path: JsonPath,
        *,
        in_form: bool,
        in_branch: bool,
        depth: int,
    ) -> None:
        ctype = comp.get("type")
        if not isinstance(ctype, str):
            return  # the schema reports the missing type
        name = comp.get("name")
        since = COMPONENT_SINCE.get(ctype)
        if since is None:
            self.warn(
                "unknown-component",
                f'Unknown component type "{ctype}" on {screen.label}: the preview draws it as a '
                "placeholder and Meta will refuse it unless it is newer than this dashboard. "
                f"Check the spelling (known types: {', '.join(sorted(COMPONENT_SINCE))}).",
                (*path, "type"),
            )
            if isinstance(name, str):
                screen.fields.add(name)  # be lenient: it may well be an input
            return
        if self._before(since):
            self.error(
                "component-too-new",
                f"{ctype} was introduced in Flow JSON version {since}, but this Flow is version "
                f'{self.version}: raise "version" to {since} or later ({RECOMMENDED_VERSION} is '
                f"recommended), or remove the {ctype}.",
                (*path, "type"),
            )
        elif ctype in family.components:
            label = f'{ctype} "{name}"' if isinstance(name, str) and name else ctype
            for err in family.components[ctype].errors(comp):
                self._schema_error(err, path, owner=f"{label} on {screen.label}")
            self._check_component_properties(screen, family, ctype, comp, path)

        if ctype in INPUT_COMPONENTS:
            if isinstance(name, str):
                screen.fields.add(name)
            if not in_form and self._before("4.0"):
                self.error(
                    "input-outside-form",
                    f"Before version 4.0 every input must sit inside a Form, but this {ctype} on "
                    f'{screen.label} does not: wrap the inputs in {{"type": "Form", "name": '
                    f'"form", "children": [...]}}, or move the Flow to version 4.0 or later.',
                    path,
                )
        if ctype == "Footer":
            screen.has_footer = True
            if not in_branch:
                screen.footers.append(path)

        self._collect_actions(screen, ctype, comp, path)
        containers = {"Form": ("children",), "If": ("then", "else"), "Switch": ("cases",)}
        skip = containers.get(ctype, ())
        self._collect_refs(screen, comp, path, skip)
        if ctype == "Form":
            self._walk(
                screen, family, comp.get("children"), (*path, "children"),
                in_form=True, in_branch=in_branch, depth=depth + 1,
            )  # fmt: skip
        elif ctype == "If":
            for branch in ("then", "else"):
                self._walk(
                    screen, family, comp.get(branch), (*path, branch),
                    in_form=in_form, in_branch=True, depth=depth + 1,
                )  # fmt: skip
        elif ctype == "Switch" and isinstance(comp.get("cases"), dict):
            for case, children in comp["cases"].items():
                self._walk(
                    screen, family, children, (*path, "cases", case),
                    in_form=in_form, in_branch=True, depth=depth + 1,
                )  # fmt: skip

    def _check_component_properties(
        self, screen: _Screen, family: _Family, ctype: str, comp: dict, path: JsonPath
    ) -> None:
        known = family.component_properties[ctype]
        blank_refused = not self._before("6.0") and self.version is not None
        for key, value in comp.items():
            since = PROPERTY_SINCE.get((ctype, key))
            if since and self._before(since):
                self.warn(
                    "property-too-new",
                    f'"{key}" on {ctype} needs version {since} or later, but this Flow is version '
                    f'{self.version}: raise "version" or remove "{key}".',
                    (*path, key),
                )
            elif key not in known:
                self.warn(
                    "unknown-property",
                    f'{ctype} has no property "{key}" (it has {", ".join(sorted(known - {"type"}))})'
                    ": Meta refuses properties it does not know. Check the spelling or remove it.",
                    (*path, key),
                )
            if blank_refused and isinstance(value, str) and not value.strip():
                self.error(
                    "blank-text",
                    f'"{key}" of {ctype} on {screen.label} is empty; from version 6.0 Meta '
                    "refuses empty or blank text: write a value or remove the property.",
                    (*path, key),
                )

    def _collect_actions(self, screen: _Screen, ctype: str, comp: dict, path: JsonPath) -> None:
        for slot in ACTION_SLOTS:
            action = comp.get(slot)
            if isinstance(action, dict) and isinstance(action.get("name"), str):
                screen.actions.append(_Action(action["name"], action, (*path, slot), ctype, slot))
        # Options and navigation list items carry their own actions.
        for list_key in ("data-source", "list-items"):
            items = comp.get(list_key)
            if not isinstance(items, list):
                continue
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    continue
                for slot in ACTION_SLOTS:
                    action = item.get(slot)
                    if isinstance(action, dict) and isinstance(action.get("name"), str):
                        screen.actions.append(
                            _Action(
                                action["name"], action, (*path, list_key, index, slot), ctype, slot
                            )
                        )

    def _collect_refs(self, screen: _Screen, value: dict, path: JsonPath, skip: tuple) -> None:
        # Iterative: a payload may nest deeper than Python's recursion limit allows.
        stack: list[tuple[Any, JsonPath]] = [
            (v, (*path, k)) for k, v in value.items() if k not in skip
        ]
        while stack:
            item, where = stack.pop()
            if isinstance(item, str):
                if "${" in item:
                    screen.refs.append((item, where))
            elif isinstance(item, dict):
                stack.extend((v, (*where, k)) for k, v in item.items())
            elif isinstance(item, list):
                stack.extend((v, (*where, i)) for i, v in enumerate(item))

    def _check_references(self, screen: _Screen) -> None:
        for text, path in screen.refs:
            for match in _REF.finditer(text):
                kind, key, other_id, other_kind, other_key = match.groups()
                if kind == "data" and key not in screen.data_keys:
                    declared = ", ".join(sorted(screen.data_keys)) or "nothing"
                    self.error(
                        "undeclared-data",
                        f'"${{data.{key}}}" on {screen.label}: the screen does not declare "{key}" '
                        f'in its "data" (it declares {declared}). Add "{key}": {{"type": "string", '
                        '"__example__": "..."} to the screen\'s "data", or fix the name.',
                        path,
                    )
                elif kind == "form" and key not in screen.fields:
                    inputs = ", ".join(sorted(screen.fields)) or "none"
                    self.error(
                        "unknown-form-field",
                        f'"${{form.{key}}}" on {screen.label}: there is no input named "{key}" on '
                        f"this screen (inputs: {inputs}). Use the name of an input on this "
                        "screen; to read an earlier screen's input pass it in the navigate "
                        f"payload or use ${{screen.SCREEN_ID.form.{key}}} (4.0+).",
                        path,
                    )
                elif other_id is not None:
                    self._check_global_ref(screen, other_id, other_kind, other_key, path)

    def _check_global_ref(
        self, screen: _Screen, other_id: str, kind: str, key: str, path: JsonPath
    ) -> None:
        ref = f"${{screen.{other_id}.{kind}.{key}}}"
        if self._before("4.0"):
            self.error(
                "global-reference-too-new",
                f'"{ref}" on {screen.label}: references to other screens need version 4.0 or '
                f'later, but this Flow is version {self.version}: raise "version", or pass the '
                "value in the navigate payload.",
                path,
            )
            return
        other = self.by_id.get(other_id)
        if other is None:
            self.error(
                "unknown-screen-reference",
                f'"{ref}" on {screen.label} names screen "{other_id}", which does not exist: use '
                f"one of {', '.join(self.by_id) or 'the screen ids'}.",
                path,
            )
        elif kind == "form" and key not in other.fields:
            self.error(
                "unknown-form-field",
                f'"{ref}" on {screen.label}: screen "{other_id}" has no input named "{key}" '
                f"(inputs: {', '.join(sorted(other.fields)) or 'none'}).",
                path,
            )
        elif kind == "data" and key not in other.data_keys:
            self.error(
                "undeclared-data",
                f'"{ref}" on {screen.label}: screen "{other_id}" does not declare "{key}" in its '
                f'"data" (it declares {", ".join(sorted(other.data_keys)) or "nothing"}).',
                path,
            )

    # actions

    def _check_actions(self) -> None:
        routing = self.data.get("routing_model")
        routing = routing if isinstance(routing, dict) else None
        ids = ", ".join(self.by_id) or "none"
        for screen in self.screens:
            for action in screen.actions:
                name, path = action.name, action.path
                since = ACTION_SINCE.get(name)
                if since and self._before(since):
                    self.error(
                        "action-too-new",
                        f"The {name} action was introduced in version {since}, but this Flow is "
                        f'version {self.version}: raise "version" to {since} or later, or use '
                        "another action.",
                        (*path, "name"),
                    )
                if action.slot == "on-click-action":
                    allowed = ON_CLICK_ACTIONS.get(action.component, ())
                else:
                    allowed = SLOT_ACTIONS[action.slot]
                if allowed and name in KNOWN_ACTIONS and name not in allowed:
                    self.error(
                        "action-not-allowed-here",
                        f"A {name} action can't be the {action.slot} of a {action.component}: "
                        f"use {' or '.join(allowed)} here.",
                        (*path, "name"),
                    )
                if name == "complete" and not screen.terminal:
                    self.error(
                        "complete-on-non-terminal-screen",
                        f"The complete action ends the Flow, but {screen.label} is not terminal: "
                        'add "terminal": true to the screen, or use navigate or data_exchange '
                        "to go on.",
                        (*path, "name"),
                    )
                if name == "navigate":
                    self._check_navigate(screen, action, routing, ids)
                elif name == "data_exchange":
                    self._check_next_screen(screen, action, routing)
                self._check_ct_keys(screen, action)

    def _check_navigate(
        self, screen: _Screen, action: _Action, routing: dict | None, ids: str
    ) -> None:
        nxt = action.raw.get("next")
        target = nxt.get("name") if isinstance(nxt, dict) else None
        if not isinstance(target, str) or not target:
            return  # the schema reports it
        target_path = (*action.path, "next", "name")
        other = self.by_id.get(target)
        if other is None:
            self.error(
                "unknown-navigate-target",
                f'{_cap(screen.label)} navigates to screen "{target}", which does not '
                f"exist: use one of {ids}.",
                target_path,
            )
            return
        if routing is not None and screen.id is not None:
            routes = routing.get(screen.id)
            if not isinstance(routes, list) or target not in routes:
                listed = ", ".join(map(str, routes)) if isinstance(routes, list) else "no entry"
                self.error(
                    "navigate-not-in-routing-model",
                    f'{_cap(screen.label)} navigates to "{target}", but routing_model'
                    f'["{screen.id}"] does not list it ({listed}): add "{target}" there. Meta '
                    "checks every navigation against the routing model.",
                    target_path,
                )
        payload = action.raw.get("payload")
        if isinstance(payload, dict):
            for key in payload:
                if key not in other.data_keys and key not in CT_KEYS:
                    self.error(
                        "navigate-payload-undeclared",
                        f'The navigate payload sends "{key}" to {other.label}, which does not '
                        f'declare it in its "data": add "{key}" to that screen\'s "data" '
                        "(with a type and __example__), or remove it from the payload.",
                        (*action.path, "payload", key),
                    )

    def _check_next_screen(self, screen: _Screen, action: _Action, routing: dict | None) -> None:
        # The hosted endpoint's convention: a literal next_screen in a data_exchange payload
        # (the bus-booking example) is the screen it answers with.
        payload = action.raw.get("payload")
        target = payload.get("next_screen") if isinstance(payload, dict) else None
        if not isinstance(target, str) or "${" in target:
            return
        path = (*action.path, "payload", "next_screen")
        if target not in self.by_id:
            self.warn(
                "unknown-next-screen",
                f'"next_screen" is "{target}", but there is no such screen: an endpoint that '
                "follows next_screen would send the user nowhere. Use one of "
                f"{', '.join(self.by_id)}.",
                path,
            )
        elif routing is not None and screen.id is not None:
            routes = routing.get(screen.id)
            if not isinstance(routes, list) or target not in routes:
                self.warn(
                    "next-screen-not-in-routing-model",
                    f'"next_screen" is "{target}", but routing_model["{screen.id}"] does not list '
                    f'it, so WhatsApp will refuse that answer from the endpoint: add "{target}" '
                    "there.",
                    path,
                )

    def _check_ct_keys(self, screen: _Screen, action: _Action) -> None:
        payload = action.raw.get("payload")
        if not isinstance(payload, dict):
            return
        for key in CT_KEYS:
            if key not in payload:
                continue
            path = (*action.path, "payload", key)
            if action.name not in INGESTED_BY:
                self.warn(
                    "ct-key-not-ingested",
                    f'"{key}" in a {action.name} payload is never ingested: CleverTap reads '
                    "ct-evt and ct-up only from data_exchange and complete actions. Move it to "
                    "the data_exchange or complete action that follows, or remove it.",
                    path,
                )
            elif key == "ct-evt":
                self._check_ct_evt(payload[key], path)
            else:
                self._check_ct_up(payload[key], path)

    def _check_ct_evt(self, event: Any, path: JsonPath) -> None:
        if not isinstance(event, dict):
            self.error(
                "ct-evt-not-object",
                f'"ct-evt" is {_json_type(event)}, but CleverTap needs an object: '
                '"ct-evt": {"evtName": "Your event", "evtData": {...}}.',
                path,
            )
            return
        name = event.get("evtName")
        if "evtName" not in event:
            self.error(
                "ct-evt-missing-name",
                '"ct-evt" has no "evtName": add "evtName": "Your event name", the name of the '
                "event CleverTap records.",
                path,
            )
        elif not isinstance(name, str) or not name.strip():
            self.error(
                "ct-evt-missing-name",
                f'"evtName" is {_json_type(name) if name != "" else "empty"}: write the event '
                'name as text, e.g. "evtName": "Stay Feedback".',
                (*path, "evtName"),
            )
        if "evtData" not in event:
            self.error(
                "ct-evt-data-not-object",
                '"ct-evt" has no "evtData": add "evtData": {...} with the event properties '
                "(use {} for none).",
                path,
            )
            return
        data = event["evtData"]
        if not isinstance(data, dict):
            self.error(
                "ct-evt-data-not-object",
                f'"evtData" is {_json_type(data)}, but it must be an object of event properties: '
                '"evtData": {"property": "${form.field}"}.',
                (*path, "evtData"),
            )
            return
        for key, value in data.items():
            if not isinstance(value, str):
                self.warn(
                    "ct-value-not-text",
                    f'The event property "{key}" is {_json_type(value)}; Meta carries only text in '
                    'Flow payloads: write it in double quotes or as a "${...}" reference.',
                    (*path, "evtData", key),
                )

    def _check_ct_up(self, profile: Any, path: JsonPath) -> None:
        if not isinstance(profile, dict):
            self.error(
                "ct-up-not-object",
                f'"ct-up" is {_json_type(profile)}, but it must be an object of profile '
                'properties: "ct-up": {"Email": "${form.email}"}.',
                path,
            )
            return
        for key, value in profile.items():
            if not isinstance(value, str):
                self.error(
                    "ct-up-value-not-text",
                    f'The profile property "{key}" in "ct-up" is {_json_type(value)}; profile '
                    'values must be text: write it in double quotes or as a "${form.…}" '
                    "reference.",
                    (*path, key),
                )

    # flow-level rules

    def _check_terminal_screens(self) -> None:
        if not self.screens:
            return
        for screen in self.screens:
            if screen.terminal and not screen.has_footer:
                self.error(
                    "terminal-without-footer",
                    f"{_cap(screen.label)} is terminal (the Flow can end there) but has no "
                    'Footer: add {"type": "Footer", "label": "Done", "on-click-action": '
                    '{"name": "complete", "payload": {}}} to its layout.',
                    (*screen.path, "terminal"),
                )
            for extra in screen.footers[1:]:
                self.error(
                    "more-than-one-footer",
                    f"{_cap(screen.label)} has more than one Footer: a screen has at most "
                    "one. Remove this one, or put the alternatives in the two branches of an If.",
                    extra,
                )
        if not any(screen.terminal for screen in self.screens):
            self.error(
                "no-terminal-screen",
                'No screen is terminal, so the Flow can never end: add "terminal": true to the '
                "last screen (it needs a Footer, usually with a complete action).",
                ("screens",),
            )

    def _check_endpoint(self) -> None:
        data = self.data
        exchanges = [a for s in self.screens for a in s.actions if a.name == "data_exchange"]
        has_api = "data_api_version" in data
        if exchanges and not has_api:
            self.error(
                "data-exchange-without-data-api-version",
                "This data_exchange action calls an endpoint, but the Flow has no "
                'data_api_version: add "data_api_version": "3.0" and a routing_model at the top '
                "level, or use navigate to move between screens without an endpoint.",
                (*exchanges[0].path, "name"),
            )
        if has_api and "routing_model" not in data:
            self.error(
                "missing-routing-model",
                "A Flow with data_api_version talks to an endpoint and needs a routing_model: add "
                '"routing_model": {"FIRST_SCREEN": ["NEXT_SCREEN"], "NEXT_SCREEN": []} listing '
                "where each screen may lead.",
                ("data_api_version",),
            )
        refresh = any(s.raw.get("refresh_on_back") is True for s in self.screens)
        if has_api and not exchanges and not refresh:
            self.warn(
                "unnecessary-data-api-version",
                "No action calls the endpoint (there is no data_exchange), so data_api_version "
                "is unnecessary unless the endpoint provides the first screen's data: otherwise "
                "remove data_api_version and routing_model.",
                ("data_api_version",),
            )
        if refresh and not has_api:
            self.warn(
                "refresh-without-endpoint",
                "refresh_on_back asks the endpoint for fresh data, but the Flow has no "
                "data_api_version (no endpoint): remove refresh_on_back or add the endpoint keys.",
                next(
                    (*s.path, "refresh_on_back")
                    for s in self.screens
                    if s.raw.get("refresh_on_back") is True
                ),
            )
        if "data_channel_uri" in data and self.version and not self._before("3.0"):
            self.error(
                "data-channel-uri-not-allowed",
                "data_channel_uri is not allowed from version 3.0: remove it and set the endpoint "
                "URL on the Flow instead (this dashboard sends it to Meta as endpoint_uri).",
                ("data_channel_uri",),
            )

    def _check_routing_model(self) -> None:
        routing = self.data.get("routing_model")
        if not isinstance(routing, dict):
            return
        ids = self.by_id
        known = ", ".join(ids) or "none"
        edges: dict[str, list[tuple[str, int]]] = {}
        for source, targets in routing.items():
            if source not in ids:
                self.error(
                    "routing-unknown-screen",
                    f'routing_model has an entry for "{source}", which is not a screen: use one '
                    f"of {known}.",
                    ("routing_model", source),
                )
            if not isinstance(targets, list):
                continue  # the schema reports it
            if len(targets) > 10:
                self.warn(
                    "routing-too-many-branches",
                    f'routing_model["{source}"] lists {len(targets)} screens; Meta allows at most '
                    "10 next screens per screen: split the choice over two screens.",
                    ("routing_model", source),
                )
            for index, target in enumerate(targets):
                if not isinstance(target, str):
                    continue
                if target not in ids:
                    self.error(
                        "routing-unknown-screen",
                        f'routing_model["{source}"] lists "{target}", which is not a screen: use '
                        f"one of {known}.",
                        ("routing_model", source, index),
                    )
                elif source in ids:
                    edges.setdefault(source, []).append((target, index))
        missing = [sid for sid in ids if sid not in routing]
        if missing:
            entries = ", ".join(
                f'"{sid}": {"[]" if ids[sid].terminal else "[...]"}' for sid in missing
            )
            self.warn(
                "routing-model-incomplete",
                f"routing_model has no entry for {', '.join(missing)}. Meta's reference says it "
                f"must include every screen (a terminal screen maps to []): add {entries}.",
                ("routing_model",),
            )
        self._check_cycles(edges)

    def _check_cycles(self, edges: dict[str, list[tuple[str, int]]]) -> None:
        # Iterative depth-first search; an edge back to a screen on the current path closes a cycle.
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        for start in edges:
            if start in state:
                continue
            state[start] = 1
            trail = [start]
            stack = [iter(edges.get(start, ()))]
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    state[trail.pop()] = 2
                    stack.pop()
                    continue
                target, index = step
                if state.get(target) == 1:
                    loop = [*trail[trail.index(target) :], target]
                    self.error(
                        "routing-cycle",
                        f"routing_model has a cycle: {' → '.join(loop)}. Meta rejects routing "
                        "models with cycles (going back is implicit and is not declared): remove "
                        f'"{target}" from routing_model["{trail[-1]}"].',
                        ("routing_model", trail[-1], index),
                    )
                elif target not in state:
                    state[target] = 1
                    trail.append(target)
                    stack.append(iter(edges.get(target, ())))

    # jsonschema errors in plain words

    def _schema_error(self, err: ValidationError, base: JsonPath, owner: str | None = None) -> None:
        relative: JsonPath = tuple(err.absolute_path)
        path: JsonPath = (*base, *relative)
        kind = err.validator
        # "required" is about the object at path; the others about the last property of path.
        container = relative if kind == "required" else relative[:-1]
        if owner is None:
            where = self._describe((*base, *container))
        elif container:
            where = f'"{format_path(container)[2:]}" of {owner}'
        else:
            where = owner
        last = path[-1] if path else None
        prop = (
            f'"{last}"' if isinstance(last, str) else f"Item {last + 1}" if last is not None else ""
        )
        value = err.instance
        if path == ("version",):
            return  # _check_version says it better
        if kind == "required":
            missing = re.match(r"'(.+)' is a required property", err.message)
            name = missing.group(1) if missing else "a required property"
            hint = _required_hint(name, path)
            self.error("missing-property", f'{_cap(where)} has no "{name}": add {hint}.', path)
        elif kind == "type":
            expected = err.validator_value
            words = [expected] if isinstance(expected, str) else list(expected)
            if "string" in words and len(words) > 1:
                words = [w for w in words if w != "string"]
                wanted = " or ".join(_TYPE_WORDS[w] for w in words) + ' or a "${...}" reference'
            else:
                wanted = " or ".join(_TYPE_WORDS[w] for w in words)
            self.error(
                "wrong-type",
                f"{prop} of {where} must be {wanted}, not {_json_type(value)}.",
                path,
            )
        elif kind in ("enum", "const"):
            choices = err.validator_value if kind == "enum" else [err.validator_value]
            options = ", ".join(json.dumps(c, ensure_ascii=False) for c in choices)
            shown = json.dumps(value, ensure_ascii=False)
            if len(shown) > 60:
                shown = shown[:57] + "..."
            self.error(
                "invalid-value",
                f"{prop} of {where} is {shown}, which Meta does not accept here: use "
                f"{'one of ' if len(choices) > 1 else ''}{options}.",
                path,
            )
        elif kind == "minItems":
            count = err.validator_value
            self.error(
                "too-few-items",
                f"{prop} of {where} needs at least {count} item{'s' if count != 1 else ''}.",
                path,
            )
        elif kind == "maxItems":
            self.warn(
                "too-many-items",
                f"{prop} of {where} has {len(value)} items; Meta allows at most "
                f"{err.validator_value}: remove {len(value) - err.validator_value}.",
                path,
            )
        elif kind in ("minLength", "pattern"):
            self.error("blank-text", f"{prop} of {where} is empty: write a value.", path)
        elif kind == "maxLength":
            if "${" not in value:  # a reference's length says nothing about the text shown
                self.warn(
                    "text-too-long",
                    f"{prop} of {where} is {len(value)} characters long; Meta allows "
                    f"{err.validator_value}: shorten it.",
                    path,
                )
        else:
            self.error("invalid-value", f"{_cap(where)}: {err.message}.", path)

    def _describe(self, path: JsonPath) -> str:
        """A short name for the object at path, for messages about it or its properties."""
        if not path:
            return "the Flow"
        if path[0] == "routing_model":
            return "routing_model" if len(path) == 1 else f'routing_model["{path[1]}"]'
        if path[0] != "screens" or len(path) < 2 or not isinstance(path[1], int):
            return f'"{format_path(path)[2:]}"'
        screens = self.data["screens"]
        raw = screens[path[1]] if path[1] < len(screens) else None
        sid = raw.get("id") if isinstance(raw, dict) else None
        label = f'screen "{sid}"' if isinstance(sid, str) and sid else f"screen {path[1] + 1}"
        rest = path[2:]
        if not rest:
            return label
        if rest[0] == "data" and len(rest) == 2:
            return f'data field "{rest[1]}" of {label}'
        if rest == ("layout",):
            return f"the layout of {label}"
        if rest[:2] == ("layout", "children") and len(rest) == 3:
            return f"component {rest[2] + 1} of {label}"
        return f'"{format_path(rest)[2:]}" of {label}'


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
