"""The Flow as a journey: how many screens, where it may end and how, and whether every screen can be reached.

Meta's Flow JSON reference (https://developers.facebook.com/docs/whatsapp/flows/reference/flowjson):
at most 100 screens; `success` (3.1+) belongs to terminal screens and at least one terminal screen
ends in success (it is `true` unless said otherwise); every screen can be reached; a navigate
action never leads to its own screen (the routing model's own self-edge is a cycle, which
routing.py reports).

Which screens lead where: the routing model when there is one (an endpoint Flow, or a static one
that declares it), else the navigate actions. The Flow opens on its first screen; with a routing
model, a screen no other screen leads to is an entry screen too (a message can open it).
"""

from __future__ import annotations

from .context import Context, cap

MAX_SCREENS = 100


def check_journey(ctx: Context) -> None:
    screens = ctx.data.get("screens")
    if isinstance(screens, list) and len(screens) > MAX_SCREENS:
        ctx.error(
            "too-many-screens",
            f"The Flow has {len(screens)} screens; Meta allows at most {MAX_SCREENS}: split it "
            "into two Flows.",
            ("screens", MAX_SCREENS),
        )
    _check_success(ctx)
    _check_self_navigation(ctx)
    _check_reachable(ctx)


def _check_success(ctx: Context) -> None:
    for screen in ctx.screens:
        if "success" in screen.raw and not screen.terminal:
            ctx.error(
                "success-on-non-terminal-screen",
                f'{cap(screen.label)} has "success" but is not terminal: "success" says whether '
                "ending there is a good outcome, so it belongs only on terminal screens. Remove "
                'it, or add "terminal": true.',
                (*screen.path, "success"),
            )
    terminal = [s for s in ctx.screens if s.terminal]
    if terminal and all(s.raw.get("success") is False for s in terminal):
        ctx.error(
            "no-successful-ending",
            'Every terminal screen has "success": false, so the Flow can never end well: '
            'Meta needs at least one terminal screen with "success": true (the default). '
            'Remove "success": false from the screen where the Flow succeeds.',
            (*terminal[0].path, "success"),
        )


def _check_self_navigation(ctx: Context) -> None:
    for screen in ctx.screens:
        for action in screen.actions:
            nxt = action.raw.get("next") if action.name == "navigate" else None
            if isinstance(nxt, dict) and screen.id is not None and nxt.get("name") == screen.id:
                ctx.error(
                    "navigate-to-same-screen",
                    f"{cap(screen.label)} navigates to itself: Meta refuses a route from a "
                    "screen to itself. To show the screen again with new data use update_data "
                    "(6.0+) or a data_exchange; otherwise navigate to another screen.",
                    (*action.path, "next", "name"),
                )


def _check_reachable(ctx: Context) -> None:
    if len(ctx.by_id) < 2:
        return
    if any(code == "unknown-navigate-target" for _, code, _, _ in ctx.pending):
        return  # a target being renamed: that message says it, "unreachable" would only echo it
    routing = ctx.data.get("routing_model")
    if not isinstance(routing, dict) and "data_api_version" in ctx.data:
        return  # the endpoint leads on, and without a routing model data_api.py already complains
    edges: dict[str, set[str]] = {}
    if isinstance(routing, dict):
        for source, targets in routing.items():
            if isinstance(targets, list):
                edges[source] = {t for t in targets if isinstance(t, str)}
    else:
        for screen in ctx.screens:
            for action in screen.actions:
                nxt = action.raw.get("next") if action.name == "navigate" else None
                if isinstance(nxt, dict) and isinstance(nxt.get("name"), str) and screen.id:
                    edges.setdefault(screen.id, set()).add(nxt["name"])
    first = ctx.screens[0].id
    entries = {first} if first else set()
    if isinstance(routing, dict):
        led_to = set().union(*edges.values()) if edges else set()
        entries |= {sid for sid in ctx.by_id if sid not in led_to}
    seen = set(entries)
    todo = list(entries)
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for sid, screen in ctx.by_id.items():
        if sid in seen:
            continue
        how = (
            f'add "{sid}" to the routing_model entry of the screen that leads to it'
            if isinstance(routing, dict)
            else f'add a navigate action to "{sid}" on an earlier screen'
        )
        ctx.error(
            "unreachable-screen",
            f"{cap(screen.label)} can't be reached: no path from the first screen "
            f'("{first}") leads to it. Meta refuses Flows with screens nobody can reach: {how}, '
            "or remove the screen.",
            (*screen.path, "id"),
        )
