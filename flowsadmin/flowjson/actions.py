"""Actions: which action may sit where, navigation targets and their payloads, next_screen.

Where each action may be used is from Meta's Flow JSON reference,
https://developers.facebook.com/docs/whatsapp/flows/reference/flowjson.
"""

from __future__ import annotations

from .clevertap import CT_KEYS, check_ct_keys
from .context import Action, Context, Screen, cap
from .versions import ACTION_SINCE

ACTION_SLOTS = ("on-click-action", "on-select-action", "on-unselect-action")
KNOWN_ACTIONS = ("navigate", "data_exchange", "complete", "update_data", "open_url")
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


def check_actions(ctx: Context) -> None:
    routing = ctx.data.get("routing_model")
    routing = routing if isinstance(routing, dict) else None
    ids = ", ".join(ctx.by_id) or "none"
    for screen in ctx.screens:
        for action in screen.actions:
            name, path = action.name, action.path
            since = ACTION_SINCE.get(name)
            if since and ctx.before(since):
                ctx.error(
                    "action-too-new",
                    f"The {name} action was introduced in version {since}, but this Flow is "
                    f'version {ctx.version}: raise "version" to {since} or later, or use '
                    "another action.",
                    (*path, "name"),
                )
            if action.slot == "on-click-action":
                allowed = ON_CLICK_ACTIONS.get(action.component, ())
            else:
                allowed = SLOT_ACTIONS[action.slot]
            if allowed and name in KNOWN_ACTIONS and name not in allowed:
                ctx.error(
                    "action-not-allowed-here",
                    f"A {name} action can't be the {action.slot} of a {action.component}: "
                    f"use {' or '.join(allowed)} here.",
                    (*path, "name"),
                )
            if name == "complete" and not screen.terminal:
                ctx.error(
                    "complete-on-non-terminal-screen",
                    f"The complete action ends the Flow, but {screen.label} is not terminal: "
                    'add "terminal": true to the screen, or use navigate or data_exchange '
                    "to go on.",
                    (*path, "name"),
                )
            if name == "navigate":
                _check_navigate(ctx, screen, action, routing, ids)
            elif name == "data_exchange":
                _check_next_screen(ctx, screen, action, routing)
            check_ct_keys(ctx, action)


def _check_navigate(
    ctx: Context, screen: Screen, action: Action, routing: dict | None, ids: str
) -> None:
    nxt = action.raw.get("next")
    target = nxt.get("name") if isinstance(nxt, dict) else None
    if not isinstance(target, str) or not target:
        return  # the schema reports it
    target_path = (*action.path, "next", "name")
    other = ctx.by_id.get(target)
    if other is None:
        ctx.error(
            "unknown-navigate-target",
            f'{cap(screen.label)} navigates to screen "{target}", which does not '
            f"exist: use one of {ids}.",
            target_path,
        )
        return
    if routing is not None and screen.id is not None:
        routes = routing.get(screen.id)
        if not isinstance(routes, list) or target not in routes:
            listed = ", ".join(map(str, routes)) if isinstance(routes, list) else "no entry"
            ctx.error(
                "navigate-not-in-routing-model",
                f'{cap(screen.label)} navigates to "{target}", but routing_model'
                f'["{screen.id}"] does not list it ({listed}): add "{target}" there. Meta '
                "checks every navigation against the routing model.",
                target_path,
            )
    payload = action.raw.get("payload")
    missing = sorted(other.data_keys - set(payload if isinstance(payload, dict) else ()))
    if missing:
        names = ", ".join(f'"{key}"' for key in missing)
        # The screen data contract: the next screen reads every field it declares.
        ctx.warn(
            "navigate-payload-incomplete",
            f"The navigate payload to {other.label} does not supply "
            f"{names}, which that screen declares in its "
            f'"data": WhatsApp shows it empty or refuses the screen. Add "{missing[0]}": '
            "(a value or a ${form...} / ${data...} reference) to the payload, or remove the "
            "declaration.",
            (*action.path, "payload") if isinstance(payload, dict) else target_path,
        )
    if isinstance(payload, dict):
        for key in payload:
            if key not in other.data_keys and key not in CT_KEYS:
                ctx.error(
                    "navigate-payload-undeclared",
                    f'The navigate payload sends "{key}" to {other.label}, which does not '
                    f'declare it in its "data": add "{key}" to that screen\'s "data" '
                    "(with a type and __example__), or remove it from the payload.",
                    (*action.path, "payload", key),
                )


def _check_next_screen(ctx: Context, screen: Screen, action: Action, routing: dict | None) -> None:
    # The hosted endpoint's convention: a literal next_screen in a data_exchange payload
    # (the bus-booking example) is the screen it answers with.
    payload = action.raw.get("payload")
    target = payload.get("next_screen") if isinstance(payload, dict) else None
    if not isinstance(target, str) or "${" in target:
        return
    path = (*action.path, "payload", "next_screen")
    if target not in ctx.by_id:
        ctx.warn(
            "unknown-next-screen",
            f'"next_screen" is "{target}", but there is no such screen: an endpoint that '
            "follows next_screen would send the user nowhere. Use one of "
            f"{', '.join(ctx.by_id)}.",
            path,
        )
    elif routing is not None and screen.id is not None:
        routes = routing.get(screen.id)
        if not isinstance(routes, list) or target not in routes:
            ctx.warn(
                "next-screen-not-in-routing-model",
                f'"next_screen" is "{target}", but routing_model["{screen.id}"] does not list '
                f'it, so WhatsApp will refuse that answer from the endpoint: add "{target}" '
                "there.",
                path,
            )
