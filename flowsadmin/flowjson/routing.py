"""The routing model: which screen may lead to which, as Meta checks every navigation against it.

Every entry must name real screens, every screen should have an entry, a screen may lead to at
most 10 others, and there may be no cycles (going back is implicit, never declared).
"""

from __future__ import annotations

from .context import Context


def check_routing_model(ctx: Context) -> None:
    routing = ctx.data.get("routing_model")
    if not isinstance(routing, dict):
        return
    ids = ctx.by_id
    known = ", ".join(ids) or "none"
    edges: dict[str, list[tuple[str, int]]] = {}
    for source, targets in routing.items():
        if source not in ids:
            ctx.error(
                "routing-unknown-screen",
                f'routing_model has an entry for "{source}", which is not a screen: use one '
                f"of {known}.",
                ("routing_model", source),
            )
        if not isinstance(targets, list):
            continue  # the schema reports it
        if len(targets) > 10:
            ctx.warn(
                "routing-too-many-branches",
                f'routing_model["{source}"] lists {len(targets)} screens; Meta allows at most '
                "10 next screens per screen: split the choice over two screens.",
                ("routing_model", source),
            )
        for index, target in enumerate(targets):
            if not isinstance(target, str):
                continue
            if target not in ids:
                ctx.error(
                    "routing-unknown-screen",
                    f'routing_model["{source}"] lists "{target}", which is not a screen: use '
                    f"one of {known}.",
                    ("routing_model", source, index),
                )
            elif source in ids:
                edges.setdefault(source, []).append((target, index))
    missing = [sid for sid in ids if sid not in routing]
    if missing:
        entries = ", ".join(f'"{sid}": {"[]" if ids[sid].terminal else "[...]"}' for sid in missing)
        ctx.warn(
            "routing-model-incomplete",
            f"routing_model has no entry for {', '.join(missing)}. Meta's reference says it "
            f"must include every screen (a terminal screen maps to []): add {entries}.",
            ("routing_model",),
        )
    _check_cycles(ctx, edges)


def _check_cycles(ctx: Context, edges: dict[str, list[tuple[str, int]]]) -> None:
    # Iterative depth-first search; an edge back to a screen on the current path closes a cycle.
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in edges:
        if start in state:
            continue
        state[start] = 1
        trail = [start]
        stack = [iter(edges.get(start, ()))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[trail.pop()] = 2
                stack.pop()
                continue
            target, index = step
            if state.get(target) == 1:
                loop = [*trail[trail.index(target) :], target]
                ctx.error(
                    "routing-cycle",
                    f"routing_model has a cycle: {' → '.join(loop)}. Meta rejects routing "
                    "models with cycles (going back is implicit and is not declared): remove "
                    f'"{target}" from routing_model["{trail[-1]}"].',
                    ("routing_model", trail[-1], index),
                )
            elif target not in state:
                state[target] = 1
                trail.append(target)
                stack.append(iter(edges.get(target, ())))
