"""Structure: the JSON Schema of the Flow's version family, and its findings in plain words.

The schema files in `flowsadmin/schemas/` check the skeleton from the root (top level, screens,
layout) and each component on its own, against `$defs/components/<type>`: so an unknown component
type can be a warning (the preview draws a placeholder) while a known one is checked in full.

jsonschema-rs decides and explains: its errors carry the instance path, the keyword and the
keyword's value (the missing property, the allowed types...), which is all a message needs. A
valid object, the usual case, costs one `is_valid` call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from uuid import uuid4

from jsonschema_rs import Draft202012Validator, ValidationErrorKind

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
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Family:
    """The schema of one version family: the root, each component, and their property names."""

    root: Draft202012Validator
    components: dict[str, Draft202012Validator]
    component_properties: dict[str, frozenset[str]]
    screen_properties: frozenset[str]


@cache
def family(name: str) -> Family:
    schema = json.loads((SCHEMA_DIR / f"flowjson-{name}.json").read_text(encoding="utf-8"))
    components = schema["$defs"]["components"]
    return Family(
        root=Draft202012Validator(schema),
        # A component's schema refers to shared definitions ("#/$defs/action"): keep them beside it.
        components={
            ctype: Draft202012Validator(
                {"$defs": schema["$defs"], "$ref": f"#/$defs/components/{ctype}"}
            )
            for ctype in components
        },
        component_properties={
            ctype: frozenset(sub["properties"]) for ctype, sub in components.items()
        },
        screen_properties=frozenset(schema["$defs"]["screen"]["properties"]),
    )


def check_root(ctx: Context, family: Family) -> None:
    """The skeleton against the root schema, then top-level properties Meta does not know."""
    check(ctx, family.root, ctx.data, ())
    for key in ctx.data:
        if key not in TOP_LEVEL_KEYS:
            ctx.error(
                "unknown-property",
                f'"{key}" is not a Flow JSON top-level property (those are '
                f"{', '.join(TOP_LEVEL_KEYS)}); Meta refuses properties it does not know: "
                "check the spelling or remove it.",
                (key,),
            )


def check(
    ctx: Context,
    validator: Draft202012Validator,
    instance: Any,
    base: JsonPath,
    owner: str | None = None,
) -> None:
    """Report what `validator` finds in `instance`, which sits at `base` in the Flow.

    `owner` names a component ('TextInput "email" on screen "CONTACT"') for messages about it.
    """
    for relative, kind, text in _errors(validator, instance):
        value = _value_at(instance, relative)
        if (
            isinstance(kind, ValidationErrorKind.Type)
            and "number" in kind.types
            and isinstance(value, float)
        ):
            # JSON Schema counts every float as a number; jsonschema-rs reads an infinite one (a
            # literal such as 1e400 overflows to it) as no number at all.
            continue
        _say(ctx, base, relative, kind, value, text, owner)


def _errors(
    validator: Draft202012Validator, instance: Any
) -> Iterator[tuple[JsonPath, ValidationErrorKind, str]]:
    keys: dict[str, str] = {}
    try:
        if validator.is_valid(instance):
            return
        errors = list(validator.iter_errors(instance))
    except UnicodeEncodeError:
        # Rust strings are UTF-8, which a lone surrogate (a "\ud83d" escape cut from its pair)
        # is not. Check a copy where each one is U+FFFD: lengths, blankness and (schema values
        # being plain text) equality come out the same; renamed keys are mapped back.
        copy = _encodable(instance, keys)
        if validator.is_valid(copy):
            return
        errors = list(validator.iter_errors(copy))
    for err in errors:
        path = tuple(keys.get(p, p) if isinstance(p, str) else p for p in err.instance_path)
        yield path, err.kind, err.message


def _encodable(value: Any, keys: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_encodable(item, keys) for item in value]
    if isinstance(value, dict):
        copy = {}
        for key, item in value.items():
            if _SURROGATE.search(key):
                # A unique stand-in: two keys that differ only in their surrogates stay apart.
                stand_in = f"\ufffd{uuid4().hex}"
                keys[stand_in] = key
                key = stand_in
            copy[key] = _encodable(item, keys)
        return copy
    return value


def _value_at(instance: Any, path: JsonPath) -> Any:
    for part in path:
        instance = instance[part]
    return instance


def _say(
    ctx: Context,
    base: JsonPath,
    relative: JsonPath,
    kind: ValidationErrorKind,
    value: Any,
    text: str,
    owner: str | None,
) -> None:
    """One schema finding as a message that says what is wrong and what to write instead."""
    path = (*base, *relative)
    if path == ("version",):
        return  # check_version says it better
    # "required" is about the object at path; the others about the last property of path.
    required = isinstance(kind, ValidationErrorKind.Required)
    container = relative if required else relative[:-1]
    if owner is None:
        where = _describe(ctx, (*base, *container))
    elif container:
        where = f'"{format_path(container)[2:]}" of {owner}'
    else:
        where = owner
    last = path[-1] if path else None
    prop = f'"{last}"' if isinstance(last, str) else f"Item {last + 1}" if last is not None else ""

    if required:
        name = kind.property
        hint = _required_hint(name, path)
        ctx.error("missing-property", f'{cap(where)} has no "{name}": add {hint}.', path)
    elif isinstance(kind, ValidationErrorKind.Type):
        words = sorted(kind.types, key=list(_TYPE_WORDS).index)
        if "string" in words and len(words) > 1:
            words = [w for w in words if w != "string"]
            wanted = " or ".join(_TYPE_WORDS[w] for w in words) + ' or a "${...}" reference'
        else:
            wanted = " or ".join(_TYPE_WORDS[w] for w in words)
        ctx.error(
            "wrong-type", f"{prop} of {where} must be {wanted}, not {json_type(value)}.", path
        )
    elif isinstance(kind, ValidationErrorKind.Enum | ValidationErrorKind.Constant):
        if isinstance(kind, ValidationErrorKind.Enum):
            choices = kind.options
        else:
            choices = [kind.expected_value]
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
    elif isinstance(kind, ValidationErrorKind.MinItems):
        count = kind.limit
        ctx.error(
            "too-few-items",
            f"{prop} of {where} needs at least {count} item{'s' if count != 1 else ''}.",
            path,
        )
    elif isinstance(kind, ValidationErrorKind.MaxItems):
        ctx.warn(
            "too-many-items",
            f"{prop} of {where} has {len(value)} items; Meta allows at most "
            f"{kind.limit}: remove {len(value) - kind.limit}.",
            path,
        )
    elif isinstance(kind, ValidationErrorKind.MinLength | ValidationErrorKind.Pattern):
        # The schemas use both only to refuse empty or blank text.
        ctx.error("blank-text", f"{prop} of {where} is empty: write a value.", path)
    elif isinstance(kind, ValidationErrorKind.MaxLength):
        if "${" not in value:  # a reference's length says nothing about the text shown
            # Meta's components reference gives these limits and refuses longer text.
            ctx.error(
                "text-too-long",
                f"{prop} of {where} is {len(value)} characters long; Meta allows at most "
                f"{kind.limit}: shorten it by {len(value) - kind.limit}.",
                path,
            )
    else:
        # A keyword the schema files do not use today: the library's own words.
        ctx.error("invalid-value", f"{cap(where)}: {text}.", path)


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
