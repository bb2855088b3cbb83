"""Dynamic bindings typed against the screen's data model: a `${data.x}` must fit the property it fills.

Meta checks a binding against the declared type (the 7.x changelogs tighten it further): a text
property (a heading's text, a label, helper text, a caption, an option's title) bound to a field
declared `boolean` or `number`, or to a whole array or object, is refused; so is a path that runs
into an array's item schema (`${data.slots.title}`), which names no single value.

Only a property that is exactly one reference is typed here: inside a nested expression (6.0+, in
backticks) numbers may be concatenated or compared, and that is Meta's to evaluate.
"""

from __future__ import annotations

import re

from .context import Context, Screen
from .report import JsonPath

# Properties whose value is shown as text, per component (and "title" of a screen).
TEXT_PROPERTIES = {
    "TextHeading": {"text"},
    "TextSubheading": {"text"},
    "TextBody": {"text"},
    "TextCaption": {"text"},
    "RichText": {"text"},
    "EmbeddedLink": {"text"},
    "Footer": {"label", "left-caption", "center-caption", "right-caption"},
    "TextInput": {"label", "helper-text"},
    "TextArea": {"label", "helper-text"},
    "CheckboxGroup": {"label", "description"},
    "RadioButtonsGroup": {"label", "description"},
    "Dropdown": {"label"},
    "ChipsSelector": {"label", "description"},
    "OptIn": {"label"},
    "DatePicker": {"label", "helper-text"},
    "CalendarPicker": {"label", "helper-text", "title", "description"},
    "PhotoPicker": {"label", "description"},
    "DocumentPicker": {"label", "description"},
    "NavigationList": {"label", "description"},
}
ITEM_TEXT = {"title", "description", "metadata"}  # of a data-source option

_WHOLE_REF = re.compile(r"\$\{\s*(?:data\.([\w.-]+)|screen\.([^.\s}]+)\.data\.([\w.-]+))\s*\}\Z")


def check_bindings(ctx: Context, screen: Screen) -> None:
    for text, path in screen.refs:
        match = _WHOLE_REF.match(text)
        if match is None or not _is_text_property(ctx, screen, path):
            continue
        own, other_id, other = match.groups()
        target = screen if own is not None else ctx.by_id.get(other_id)
        if target is None:
            continue  # references.py names the missing screen
        problem = _problem(target, (own or other).split("."))
        if problem:
            ctx.error(
                "binding-type-mismatch",
                f'"{text}" fills {_describe(path)} on {screen.label}, which shows text, but '
                f"{problem}. Bind a field declared as a string, or declare this one "
                '"type": "string" (and give its "__example__" as text).',
                path,
            )


def _is_text_property(ctx: Context, screen: Screen, path: JsonPath) -> bool:
    key = path[-1]
    if path == (*screen.path, "title"):
        return True
    if len(path) >= 3 and path[-3] == "data-source" and key in ITEM_TEXT:
        return True
    owner = _at(ctx.data, path[:-1])
    ctype = owner.get("type") if isinstance(owner, dict) else None
    return isinstance(ctype, str) and key in TEXT_PROPERTIES.get(ctype, ())


def _problem(screen: Screen, parts: list[str]) -> str | None:
    """Why the declared field at `parts` can't be shown as text, or None when it can (or is unknown)."""
    data = screen.raw.get("data")
    decl = data.get(parts[0]) if isinstance(data, dict) else None
    name = parts[0]
    for part in parts[1:]:
        if not isinstance(decl, dict):
            return None
        kind = decl.get("type")
        if kind == "array":
            return (
                f'"{name}" is declared as an array, and "{part}" is a field of its items: a '
                "path into the item schema names no single value"
            )
        props = decl.get("properties")
        decl = props.get(part) if kind == "object" and isinstance(props, dict) else None
        name = f"{name}.{part}"
    kind = decl.get("type") if isinstance(decl, dict) else None
    if kind in ("boolean", "number", "integer", "array", "object"):
        return f'"{name}" is declared "type": "{kind}"'
    return None


def _describe(path: JsonPath) -> str:
    return f'"{path[-1]}"'


def _at(data: object, path: JsonPath) -> object:
    for part in path:
        try:
            data = data[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None
    return data
