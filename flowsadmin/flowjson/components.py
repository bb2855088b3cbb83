"""Components: each one checked for its version and schema, and what the other rules need collected.

The walk goes through Form, If and Switch into nested components. On the way it notes each
screen's inputs (for `${form.x}`), Footers, actions and texts with `${...}` references, which the
reference and action rules read afterwards.
"""

from __future__ import annotations

from typing import Any

from .actions import ACTION_SLOTS
from .context import Action, Context, Screen
from .report import JsonPath
from .schema import Family, check
from .versions import COMPONENT_SINCE, PROPERTY_SINCE, RECOMMENDED_VERSION

# Components whose value a Flow can read with ${form.<name>}.
INPUT_COMPONENTS = frozenset(
    (
        "TextInput",
        "TextArea",
        "CheckboxGroup",
        "RadioButtonsGroup",
        "Dropdown",
        "ChipsSelector",
        "OptIn",
        "DatePicker",
        "CalendarPicker",
        "PhotoPicker",
        "DocumentPicker",
    )
)
# Form, If and Switch nest components; Meta allows If three deep, this guards our own recursion.
MAX_COMPONENT_NESTING = 20


def walk(
    ctx: Context,
    screen: Screen,
    family: Family,
    children: Any,
    path: JsonPath,
    *,
    in_form: bool,
    depth: int,
) -> None:
    if not isinstance(children, list):
        return  # the schema reports it
    if depth > MAX_COMPONENT_NESTING:
        ctx.error(
            "nested-too-deeply",
            f"Components on {screen.label} are nested more than {MAX_COMPONENT_NESTING} "
            "levels deep (Form, If, Switch): Meta allows If three levels deep. Flatten them.",
            path,
        )
        return
    for index, component in enumerate(children):
        if isinstance(component, dict):
            _component(
                ctx,
                screen,
                family,
                component,
                (*path, index),
                in_form=in_form,
                depth=depth,
            )


def _component(
    ctx: Context,
    screen: Screen,
    family: Family,
    comp: dict,
    path: JsonPath,
    *,
    in_form: bool,
    depth: int,
) -> None:
    ctype = comp.get("type")
    if not isinstance(ctype, str):
        return  # the schema reports the missing type
    name = comp.get("name")
    since = COMPONENT_SINCE.get(ctype)
    if since is None:
        # Meta refuses a type it does not know; the preview still draws it as a placeholder.
        ctx.error(
            "unknown-component",
            f'Unknown component type "{ctype}" on {screen.label}: Meta refuses components it '
            "does not know (the preview draws it as a placeholder). Check the spelling (known "
            f"types: {', '.join(sorted(COMPONENT_SINCE))}).",
            (*path, "type"),
        )
        if isinstance(name, str):
            screen.fields.add(name)  # be lenient: it may well be an input
        return
    if ctx.before(since):
        ctx.error(
            "component-too-new",
            f"{ctype} was introduced in Flow JSON version {since}, but this Flow is version "
            f'{ctx.version}: raise "version" to {since} or later ({RECOMMENDED_VERSION} is '
            f"recommended), or remove the {ctype}.",
            (*path, "type"),
        )
    elif ctype in family.components:
        label = f'{ctype} "{name}"' if isinstance(name, str) and name else ctype
        check(ctx, family.components[ctype], comp, path, owner=f"{label} on {screen.label}")
        _check_component_properties(ctx, screen, family, ctype, comp, path)
        if ctype in ("TextBody", "TextCaption") and isinstance(comp.get("text"), list):
            _check_text_list(ctx, screen, ctype, comp, path)
        for low, high in _MIN_MAX:
            if low in comp and high in comp:
                _check_min_max(ctx, screen, ctype, comp, path, low, high)

    if ctype in INPUT_COMPONENTS:
        if isinstance(name, str):
            screen.fields.add(name)
        if not in_form and ctx.before("4.0"):
            ctx.error(
                "input-outside-form",
                f"Before version 4.0 every input must sit inside a Form, but this {ctype} on "
                f'{screen.label} does not: wrap the inputs in {{"type": "Form", "name": '
                f'"form", "children": [...]}}, or move the Flow to version 4.0 or later.',
                path,
            )
    if ctype == "Footer":
        screen.has_footer = True

    _collect_actions(screen, ctype, comp, path)
    containers = {"Form": ("children",), "If": ("then", "else"), "Switch": ("cases",)}
    skip = containers.get(ctype, ())
    _collect_refs(screen, comp, path, skip)
    for children, where, form in _nested(ctype, comp, path, in_form):
        walk(ctx, screen, family, children, where, in_form=form, depth=depth + 1)


def _nested(
    ctype: str, comp: dict, path: JsonPath, in_form: bool
) -> list[tuple[Any, JsonPath, bool]]:
    """The component lists a Form, If or Switch holds: each with its path, and whether it is
    inside a Form (inputs before 4.0 must be). What branches may hold is layout.py's."""
    if ctype == "Form":
        return [(comp.get("children"), (*path, "children"), True)]
    if ctype == "If":
        return [(comp.get(branch), (*path, branch), in_form) for branch in ("then", "else")]
    if ctype == "Switch" and isinstance(comp.get("cases"), dict):
        return [
            (children, (*path, "cases", case), in_form) for case, children in comp["cases"].items()
        ]
    return []


def _check_component_properties(
    ctx: Context, screen: Screen, family: Family, ctype: str, comp: dict, path: JsonPath
) -> None:
    known = family.component_properties[ctype]
    blank_refused = not ctx.before("6.0") and ctx.version is not None
    for key, value in comp.items():
        since = PROPERTY_SINCE.get((ctype, key))
        if since and ctx.before(since):
            ctx.warn(
                "property-too-new",
                f'"{key}" on {ctype} needs version {since} or later, but this Flow is version '
                f'{ctx.version}: raise "version" or remove "{key}".',
                (*path, key),
            )
        elif key not in known:
            ctx.warn(
                "unknown-property",
                f'{ctype} has no property "{key}" (it has {", ".join(sorted(known - {"type"}))})'
                ": Meta refuses properties it does not know. Check the spelling or remove it.",
                (*path, key),
            )
        if blank_refused and isinstance(value, str) and not value.strip():
            ctx.error(
                "blank-text",
                f'"{key}" of {ctype} on {screen.label} is empty; from version 6.0 Meta '
                "refuses empty or blank text: write a value or remove the property.",
                (*path, key),
            )


def _check_text_list(ctx: Context, screen: Screen, ctype: str, comp: dict, path: JsonPath) -> None:
    # Meta's components reference: from 5.1 TextBody and TextCaption take "text" as a list of
    # strings (one paragraph each), with "markdown": true.
    where = (*path, "text")
    if ctx.before("5.1"):
        ctx.error(
            "text-list-too-new",
            f'"text" of {ctype} on {screen.label} is a list; a list of strings needs version 5.1 '
            'or later (with "markdown": true): raise "version", or join the text into one string.',
            where,
        )
    elif comp.get("markdown") is not True:
        ctx.error(
            "text-list-needs-markdown",
            f'"text" of {ctype} on {screen.label} is a list of strings, which Meta accepts only '
            'with markdown: add "markdown": true to the component, or join the text into one '
            "string.",
            where,
        )


# Lower and upper bounds Meta compares: a minimum above its maximum can never be met.
_MIN_MAX = (
    ("min-chars", "max-chars"),
    ("min-selected-items", "max-selected-items"),
    ("min-uploaded-photos", "max-uploaded-photos"),
    ("min-uploaded-documents", "max-uploaded-documents"),
    ("min-days", "max-days"),
)


def _check_min_max(
    ctx: Context, screen: Screen, ctype: str, comp: dict, path: JsonPath, low: str, high: str
) -> None:
    lo, hi = comp.get(low), comp.get(high)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi))
    if numbers and lo > hi:
        ctx.error(
            "min-above-max",
            f'"{low}" ({lo}) of {ctype} on {screen.label} is above its "{high}" ({hi}), so no '
            f'answer can meet both: lower "{low}" or raise "{high}".',
            (*path, low),
        )


_SLOTS = frozenset(ACTION_SLOTS)


def _collect_actions(screen: Screen, ctype: str, comp: dict, path: JsonPath) -> None:
    for slot in ACTION_SLOTS:
        action = comp.get(slot)
        if isinstance(action, dict) and isinstance(action.get("name"), str):
            screen.actions.append(Action(action["name"], action, (*path, slot), ctype, slot))
    # Options and navigation list items carry their own actions (most carry none: a set
    # intersection in C finds out without a lookup per slot).
    for list_key in ("data-source", "list-items"):
        items = comp.get(list_key)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not (item.keys() & _SLOTS):
                continue
            for slot in ACTION_SLOTS:
                action = item.get(slot)
                if isinstance(action, dict) and isinstance(action.get("name"), str):
                    screen.actions.append(
                        Action(action["name"], action, (*path, list_key, index, slot), ctype, slot)
                    )


def _collect_refs(screen: Screen, value: dict, path: JsonPath, skip: tuple) -> None:
    # Iterative: a payload may nest deeper than Python's recursion limit allows. Most values hold
    # no reference, so plain text is tested first and a container's path is built only when
    # something inside it is kept (the 20 ms budget for 100 screens is spent mostly here).
    stack: list[tuple[Any, JsonPath]] = []
    for key, item in value.items():
        if type(item) is str:
            if "${" in item:
                screen.refs.append((item, (*path, key)))
        elif isinstance(item, dict | list) and key not in skip:
            stack.append((item, (*path, key)))
    while stack:
        container, where = stack.pop()
        pairs = container.items() if isinstance(container, dict) else enumerate(container)
        for key, item in pairs:
            if type(item) is str:
                if "${" in item:
                    screen.refs.append((item, (*where, key)))
            elif isinstance(item, dict | list):
                stack.append((item, (*where, key)))
