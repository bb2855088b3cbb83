"""A Flow JSON's screens and routing model, as the endpoint reads them to check where an answer may go.

The flow page's funnel reads them through `screens_of` too, so it counts the screens the endpoint
records visits to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from flowsadmin.flowjson.screens import DECLARED_TYPES


@dataclass(frozen=True)
class Screens:
    """A Flow JSON's screen ids in order, and its routing model (None when it declares none)."""

    ids: tuple[str, ...] = ()
    routes: dict[str, frozenset[str]] | None = None
    # Each screen's declared data model ("data": {"name": {"type": ..., "__example__": ...}}).
    declared: dict[str, dict] = field(default_factory=dict)

    def allows(self, current: str, target: str) -> bool:
        """Whether the answer to a data_exchange on `current` may show `target`: one of the
        routing model's routes from it, or the same screen again; anything, without a model."""
        if self.routes is None or not current or target == current:
            return True
        return target in self.routes.get(current, frozenset())


def read_screens(flow_json: str) -> Screens:
    """The screens and routing model of a Flow JSON; empty when it can't be read."""
    try:
        document = json.loads(flow_json)
    except (ValueError, RecursionError):
        return Screens()
    if not isinstance(document, dict):
        return Screens()
    screens = document.get("screens")
    found = [
        screen
        for screen in (screens if isinstance(screens, list) else [])
        if isinstance(screen, dict) and isinstance(screen.get("id"), str)
    ]
    ids = tuple(screen["id"] for screen in found)
    declared = {
        screen["id"]: screen["data"] for screen in found if isinstance(screen.get("data"), dict)
    }
    model = document.get("routing_model")
    if not isinstance(model, dict):
        return Screens(ids, declared=declared)
    routes = {
        source: frozenset(t for t in targets if isinstance(t, str))
        for source, targets in model.items()
        if isinstance(targets, list)
    }
    return Screens(ids, routes, declared)


@lru_cache(maxsize=128)
def screens_of(flow_json: str) -> Screens:
    """Screens and routing model of a Flow JSON, parsed once per distinct JSON text."""
    return read_screens(flow_json)


def contract_problems(declared: dict, data: dict) -> list[str]:
    """What the data handed to a screen gets wrong against what the screen declares, field by field:
    a declared field missing, or of another type. WhatsApp refuses such a screen on the phone."""
    problems = []
    for name, decl in declared.items():
        kind = decl.get("type") if isinstance(decl, dict) else None
        if name not in data:
            problems.append(f'missing "{name}" (declared {kind or "without a type"})')
            continue
        value = data[name]
        wanted = DECLARED_TYPES.get(kind) if isinstance(kind, str) else None
        if wanted is None:
            continue
        if not isinstance(value, wanted) or (isinstance(value, bool) and kind != "boolean"):
            problems.append(f'"{name}" is {_json_type(value)}, declared {kind}')
    return problems


def undeclared_fields(declared: dict, data: dict) -> list[str]:
    """Fields handed to a screen that it does not declare (error_message is every screen's own)."""
    return [name for name in data if name not in declared and name != "error_message"]


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
