"""Screens: their ids, properties and data declarations, their components, and terminal screens.

`collect_screens` fills `ctx.screens` and `ctx.by_id`, walking each screen's components on the
way; the reference, action and routing rules run on what it collected.
"""

from __future__ import annotations

import re

from .components import walk
from .context import Context, Screen, cap
from .report import JsonPath
from .schema import Family
from .syntax import json_type
from .versions import PROPERTY_SINCE

_SCREEN_ID = re.compile(r"[A-Za-z_]+\Z")
# The Python types a value may have for each declared "type" of a screen's data field (its
# "__example__" here; what the endpoint hands the screen in exchange/screens.py).
DECLARED_TYPES = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def collect_screens(ctx: Context, family: Family) -> None:
    screens = ctx.data.get("screens")
    if not isinstance(screens, list):
        return
    first_index: dict[str, int] = {}
    for index, raw in enumerate(screens):
        if not isinstance(raw, dict):
            continue
        path: JsonPath = ("screens", index)
        sid = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
        screen = Screen(index, raw, sid, path, terminal=raw.get("terminal") is True)
        ctx.screens.append(screen)
        if sid is not None:
            _check_screen_id(ctx, screen, first_index)
        _check_screen_properties(ctx, screen, family)
        _check_data_declarations(ctx, screen)
        title = raw.get("title")
        if isinstance(title, str) and "${" in title:
            screen.refs.append((title, (*path, "title")))
        layout = raw.get("layout")
        if isinstance(layout, dict):
            walk(
                ctx,
                screen,
                family,
                layout.get("children"),
                (*path, "layout", "children"),
                in_form=False,
                depth=0,
            )


def _check_screen_id(ctx: Context, screen: Screen, first_index: dict[str, int]) -> None:
    sid = screen.id
    assert sid is not None
    id_path = (*screen.path, "id")
    if sid in first_index:
        ctx.error(
            "duplicate-screen-id",
            f'Screen id "{sid}" is already used by screen {first_index[sid] + 1}: screen ids '
            "must be unique. Rename one, and the navigate actions and routing_model entries "
            "that should point to it.",
            id_path,
        )
        return
    first_index[sid] = screen.index
    ctx.by_id[sid] = screen
    if sid == "SUCCESS":
        ctx.error(
            "reserved-screen-id",
            'The screen id "SUCCESS" is reserved by Meta (an endpoint answers with it to close '
            "the Flow): rename this screen.",
            id_path,
        )
    elif not _SCREEN_ID.match(sid):
        ctx.warn(
            "screen-id-characters",
            f'Screen id "{sid}" has characters other than letters and underscores; Meta '
            "expects ids like PICK_SLOT and may refuse others: consider renaming it.",
            id_path,
        )


def _check_screen_properties(ctx: Context, screen: Screen, family: Family) -> None:
    blank_refused = ctx.version is not None and not ctx.before("6.0")
    for key, value in screen.raw.items():
        if blank_refused and isinstance(value, str) and not value.strip():
            ctx.error(
                "blank-text",
                f'"{key}" of {screen.label} is empty; from version 6.0 Meta refuses empty or '
                "blank text: write a value or remove the property.",
                (*screen.path, key),
            )
        since = PROPERTY_SINCE.get(("Screen", key))
        if since and ctx.before(since):
            ctx.warn(
                "property-too-new",
                f'The screen property "{key}" needs version {since} or later, but this Flow '
                f'is version {ctx.version}: raise "version" or remove it.',
                (*screen.path, key),
            )
        elif key not in family.screen_properties:
            ctx.warn(
                "unknown-property",
                f'"{key}" is not a screen property (those are '
                f"{', '.join(sorted(family.screen_properties))}); Meta refuses properties it "
                "does not know: check the spelling or remove it.",
                (*screen.path, key),
            )


def _check_data_declarations(ctx: Context, screen: Screen) -> None:
    data = screen.raw.get("data")
    if not isinstance(data, dict):
        return
    screen.data_keys = set(data)
    for key, decl in data.items():
        if not isinstance(decl, dict):
            continue  # the schema reports it
        path = (*screen.path, "data", key)
        kind = decl.get("type")
        if not isinstance(kind, str):
            continue  # a list or object as "type": the schema reports it, nothing more to check
        if kind == "array" and "items" not in decl:
            ctx.warn(
                "data-declaration-incomplete",
                f'Data field "{key}" on {screen.label} is an array without "items": Meta\'s '
                'reference asks for them. Add "items": {"type": "string"} (or the item shape).',
                path,
            )
        elif kind == "object" and "properties" not in decl:
            ctx.warn(
                "data-declaration-incomplete",
                f'Data field "{key}" on {screen.label} is an object without "properties": '
                'Meta\'s reference asks for them. Add "properties": {...} describing its '
                "fields.",
                path,
            )
        if "__example__" in decl and kind in DECLARED_TYPES:
            example = decl["__example__"]
            wrong = not isinstance(example, DECLARED_TYPES[kind]) or (
                isinstance(example, bool) and kind != "boolean"
            )
            if wrong:
                ctx.error(
                    "example-type-mismatch",
                    f'The "__example__" of data field "{key}" on {screen.label} is '
                    f'{json_type(example)}, but its "type" is "{kind}": make them agree.',
                    (*path, "__example__"),
                )


def check_terminal_screens(ctx: Context) -> None:
    if not ctx.screens:
        return
    for screen in ctx.screens:
        if screen.terminal and not screen.has_footer:
            ctx.error(
                "terminal-without-footer",
                f"{cap(screen.label)} is terminal (the Flow can end there) but has no "
                'Footer: add {"type": "Footer", "label": "Done", "on-click-action": '
                '{"name": "complete", "payload": {}}} to its layout.',
                (*screen.path, "terminal"),
            )
    if not any(screen.terminal for screen in ctx.screens):
        ctx.error(
            "no-terminal-screen",
            'No screen is terminal, so the Flow can never end: add "terminal": true to the '
            "last screen (it needs a Footer, usually with a complete action).",
            ("screens",),
        )
