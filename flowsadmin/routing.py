"""Which screens a flow can be opened at: the rule a template's Navigation landing screen must follow.

Meta refuses a routing model without "a screen with no inbound edges as the entry screen" (its
INVALID_ROUTING_MODEL error), and a template's navigate_screen must be such an entry screen
(https://developers.facebook.com/docs/whatsapp/flows/reference/flowjson, "Routing Model"). A flow
without a routing model (no endpoint) gets one Meta derives from its `navigate` actions, so the same
rule runs over those. When every screen has a way in (a loop), only the first screen is offered.
Framework-free, and forgiving: broken JSON has no entry screens.
"""

from __future__ import annotations

import json


def screens_of(text: str) -> tuple[dict, list[str]]:
    """The parsed document and its screen ids in order; ({}, []) when the JSON is missing or broken."""
    try:
        document = json.loads(text) if text else {}
    except ValueError:
        return {}, []
    if not isinstance(document, dict):
        return {}, []
    screens = document.get("screens")
    ids = [
        screen["id"]
        for screen in (screens if isinstance(screens, list) else [])
        if isinstance(screen, dict) and isinstance(screen.get("id"), str)
    ]
    return document, ids


def entry_screens(text: str) -> list[str]:
    """The screen ids a flow can be opened at, in the JSON's order."""
    _, ids = screens_of(text)
    targets = {target for nexts in routes(text).values() for target in nexts}
    return [i for i in ids if i not in targets] or ids[:1]


def routes(text: str) -> dict[str, list[str]]:
    """Screen id -> the screens it leads to, in order, without routes back to itself: the routing
    model's when there is one, else the ones Meta derives from each screen's `navigate` actions."""
    document, ids = screens_of(text)
    found: dict[str, list[str]] = {}

    def add(source: object, target: object) -> None:
        if isinstance(source, str) and isinstance(target, str) and target != source:
            nexts = found.setdefault(source, [])
            if target not in nexts:
                nexts.append(target)

    routing = document.get("routing_model")
    if isinstance(routing, dict):
        for source, nexts in routing.items():
            for target in nexts if isinstance(nexts, list) else []:
                # Meta writes routes as screen ids; some builders write {"target": id}.
                add(source, target.get("target") if isinstance(target, dict) else target)
    else:
        for screen in document.get("screens") or []:
            if isinstance(screen, dict):
                for target in _navigate_targets(screen):
                    add(screen.get("id"), target)
    return found


def _navigate_targets(node: object) -> list[str]:
    """The screens every navigate action under a node of Flow JSON leads to."""
    found: list[str] = []
    if isinstance(node, dict):
        target = node.get("next")
        name = target.get("name") if isinstance(target, dict) else None
        if node.get("name") == "navigate" and isinstance(name, str):
            found.append(name)
        for value in node.values():
            found.extend(_navigate_targets(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_navigate_targets(value))
    return found
