"""A Flow JSON's screens and routing model, as the endpoint reads them to check where an answer may go.

The flow page's funnel reads them through `screens_of` too, so it counts the screens the endpoint
records visits to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Screens:
    """A Flow JSON's screen ids in order, and its routing model (None when it declares none)."""

    ids: tuple[str, ...] = ()
    routes: dict[str, frozenset[str]] | None = None

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
    ids = tuple(
        screen["id"]
        for screen in (screens if isinstance(screens, list) else [])
        if isinstance(screen, dict) and isinstance(screen.get("id"), str)
    )
    model = document.get("routing_model")
    if not isinstance(model, dict):
        return Screens(ids)
    routes = {
        source: frozenset(t for t in targets if isinstance(t, str))
        for source, targets in model.items()
        if isinstance(targets, list)
    }
    return Screens(ids, routes)


@lru_cache(maxsize=128)
def screens_of(flow_json: str) -> Screens:
    """Screens and routing model of a Flow JSON, parsed once per distinct JSON text."""
    return read_screens(flow_json)
