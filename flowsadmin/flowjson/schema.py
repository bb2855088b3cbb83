"""Structure: the JSON Schema of the Flow's version family, and its findings in plain words.

The schema files in `flowsadmin/schemas/` check the skeleton from the root (top level, screens,
layout) and each component on its own, against `$defs/components/<type>`: so an unknown component
type can be a warning (the preview draws a placeholder) while a known one is checked in full.

A compiled check of the same schema decides whether an object is valid, and only invalid
objects go through jsonschema for its errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .actions import ACTION_SLOTS, KNOWN_ACTIONS
from .context import Context, cap
from .report import JsonPath, format_path
from .syntax import json_type
from .versions import RECOMMENDED_VERSION

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
TOP_LEVEL_KEYS = ("version", "data_api_version", "routing_model", "data_channel_uri", "screens")

_TYPE_WORDS = {
    "string": "text in double quotes",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "object": "an object {...}",
    "array": "a list [...]",
    "null": "null",
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


@dataclass
class _Schema:
    """One schema: a quick yes/no check, and jsonschema to explain a no."""

    is_valid: Callable[[Any], bool]
    explain: Draft202012Validator

    def errors(self, instance: Any) -> Iterator[ValidationError]:
        if not self.is_valid(instance):
            yield from self.explain.iter_errors(instance)


@dataclass
class Family:
    root: _Schema
    components: dict[str, _Schema]
    component_properties: dict[str, frozenset[str]]
    screen_properties: frozenset[str]


@cache
def family(name: str) -> Family:
    schema = json.loads((SCHEMA_DIR / f"flowjson-{name}.json").read_text(encoding="utf-8"))
    root = Draft202012Validator(schema)
    components = schema["$defs"]["components"]
    compiled: dict[str, Callable[[Any], bool]] = {}
    return Family(
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


def check_root(ctx: Context, fam: Family) -> None:
    """The skeleton against the root schema, then top-level properties Meta does not know."""
    check(ctx, fam.root, ctx.data, ())
    for key in ctx.data:
        if key not in TOP_LEVEL_KEYS:
            ctx.warn(
                "unknown-property",
                f'"{key}" is not a Flow JSON top-level property (those are '
                f"{', '.join(TOP_LEVEL_KEYS)}); Meta refuses properties it does not know: "
                "check the spelling or remove it.",
                (key,),
            )


def check(
    ctx: Context,
    schema: _Schema,
    instance: Any,
    base: JsonPath,
    owner: str | None = None,
) -> None:
    """Report what `schema` finds in `instance`, which sits at `base` in the Flow.

    `owner` names a component ('TextInput "email" on screen "CONTACT"') for messages about it.
    """
    for err in schema.errors(instance):
        _say(ctx, err, base, owner)


def _say(ctx: Context, err: ValidationError, base: JsonPath, owner: str | None = None) -> None:
    relative: JsonPath = tuple(err.absolute_path)
    path: JsonPath = (*base, *relative)
    kind = err.validator
    # "required" is about the object at path; the others about the last property of path.
    container = relative if kind == "required" else relative[:-1]
    if owner is None:
        where = _describe(ctx, (*base, *container))
    elif container:
        where = f'"{format_path(container)[2:]}" of {owner}'
    else:
        where = owner
    last = path[-1] if path else None
    prop = f'"{last}"' if isinstance(last, str) else f"Item {last + 1}" if last is not None else ""
    value = err.instance
    if path == ("version",):
        return  # check_version says it better
    if kind == "required":
        missing = re.match(r"'(.+)' is a required property", err.message)
        name = missing.group(1) if missing else "a required property"
        hint = _required_hint(name, path)
        ctx.error("missing-property", f'{cap(where)} has no "{name}": add {hint}.', path)
    elif kind == "type":
        expected = err.validator_value
        words = [expected] if isinstance(expected, str) else list(expected)
        if "string" in words and len(words) > 1:
            words = [w for w in words if w != "string"]
            wanted = " or ".join(_TYPE_WORDS[w] for w in words) + ' or a "${...}" reference'
        else:
            wanted = " or ".join(_TYPE_WORDS[w] for w in words)
        ctx.error(
            "wrong-type",
            f"{prop} of {where} must be {wanted}, not {json_type(value)}.",
            path,
        )
    elif kind in ("enum", "const"):
        choices = err.validator_value if kind == "enum" else [err.validator_value]
        options = ", ".join(json.dumps(c, ensure_ascii=False) for c in choices)
        shown = json.dumps(value, ensure_ascii=False)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        ctx.error(
            "invalid-value",
            f"{prop} of {where} is {shown}, which Meta does not accept here: use "
            f"{'one of ' if len(choices) > 1 else ''}{options}.",
            path,
        )
    elif kind == "minItems":
        count = err.validator_value
        ctx.error(
            "too-few-items",
            f"{prop} of {where} needs at least {count} item{'s' if count != 1 else ''}.",
            path,
        )
    elif kind == "maxItems":
        ctx.warn(
            "too-many-items",
            f"{prop} of {where} has {len(value)} items; Meta allows at most "
            f"{err.validator_value}: remove {len(value) - err.validator_value}.",
            path,
        )
    elif kind in ("minLength", "pattern"):
        ctx.error("blank-text", f"{prop} of {where} is empty: write a value.", path)
    elif kind == "maxLength":
        if "${" not in value:  # a reference's length says nothing about the text shown
            ctx.warn(
                "text-too-long",
                f"{prop} of {where} is {len(value)} characters long; Meta allows "
                f"{err.validator_value}: shorten it.",
                path,
            )
    else:
        ctx.error("invalid-value", f"{cap(where)}: {err.message}.", path)


def _describe(ctx: Context, path: JsonPath) -> str:
    """A short name for the object at path, for messages about it or its properties."""
    if not path:
        return "the Flow"
    if path[0] == "routing_model":
        return "routing_model" if len(path) == 1 else f'routing_model["{path[1]}"]'
    if path[0] != "screens" or len(path) < 2 or not isinstance(path[1], int):
        return f'"{format_path(path)[2:]}"'
    screens = ctx.data["screens"]
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
