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
    document, ids = screens_of(text)
    routing = document.get("routing_model")
    targets: set[str] = set()
    if isinstance(routing, dict):
        for source, nexts in routing.items():
            for target in nexts if isinstance(nexts, list) else []:
                # Meta writes routes as screen ids; some builders write {"target": id}.
                name = target.get("target") if isinstance(target, dict) else target
                if isinstance(name, str) and name != source:
                    targets.add(name)
    else:
        screens = document.get("screens") or []
        for screen in screens:
            if isinstance(screen, dict):
                targets.update(t for t in _navigate_targets(screen) if t != screen.get("id"))
    return [i for i in ids if i not in targets] or ids[:1]


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
