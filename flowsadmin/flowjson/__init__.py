"""Flow JSON: parse it, validate it and say what is wrong, with the line and column of every message.

Framework-free on purpose: no Django, no requests, no models. The flow form, the preview and the
`validate_flow` command all call `validate(text)` and show `report.errors` and `report.warnings`.

Three layers, each message saying what is wrong and what to do:

1. syntax (`syntax.py`): `json.loads`, and on failure a hint for the usual culprits of a paste
   (comments, trailing commas, smart or single quotes, unquoted keys, a BOM);
2. structure (`versions.py`, `schema.py`): the version, then the JSON Schema of its version family
   in `flowsadmin/schemas/`, component by component, so that an unknown component type can be a
   warning (the preview draws a placeholder) while a component newer than the Flow's `version` is
   an error naming the version that introduced it;
3. cross-references: screen ids and terminal screens (`screens.py`, `components.py`), `${data.x}`
   / `${form.x}` references (`references.py`) and their types (`bindings.py`), what a screen
   may hold (`layout.py`: per-screen counts, If and Switch branches), the journey (`journey.py`:
   screen count, success, reachability), actions and navigation targets (`actions.py`),
   CleverTap's `ct-evt` / `ct-up` payload keys (`clevertap.py`), the endpoint keys
   (`data_api.py`) and the routing model (`routing.py`).

Messages carry a JSON path; `locate.py` turns it into the line and column of the text. Rules that
Meta's reference leaves unconfirmed are warnings where they would reject one of the example Flows.
"""

from __future__ import annotations

from . import (
    actions,
    bindings,
    data_api,
    journey,
    layout,
    references,
    routing,
    schema,
    screens,
    versions,
)
from .components import INPUT_COMPONENTS
from .context import Context
from .report import JsonPath, Message, Report, format_message, format_path
from .syntax import MAX_TEXT_CHARS, nesting_error, parse
from .versions import (
    ACTION_SINCE,
    COMPONENT_SINCE,
    DATA_API_VERSIONS,
    FROZEN_VERSIONS,
    KNOWN_VERSIONS,
    PROPERTY_SINCE,
    RECOMMENDED_VERSION,
    is_publishable,
)

__all__ = [
    "ACTION_SINCE",
    "COMPONENT_SINCE",
    "DATA_API_VERSIONS",
    "FROZEN_VERSIONS",
    "INPUT_COMPONENTS",
    "KNOWN_VERSIONS",
    "MAX_TEXT_CHARS",
    "PROPERTY_SINCE",
    "RECOMMENDED_VERSION",
    "JsonPath",
    "Message",
    "Report",
    "format_message",
    "format_path",
    "is_publishable",
    "validate",
]


def validate(text: str) -> Report:
    """Check a Flow JSON text: syntax, structure for its version, and cross-references."""
    parsed = parse(text)
    if parsed.data is None:
        return Report(errors=parsed.errors, warnings=parsed.warnings)
    ctx = Context(parsed.text, parsed.data)
    try:
        _run(ctx)
    except RecursionError:
        ctx.error("nested-too-deeply", nesting_error(parsed.text).message, ())
    report = ctx.report()
    report.warnings = sorted(parsed.warnings + report.warnings, key=lambda m: (m.line, m.column))
    return report


def _run(ctx: Context) -> None:
    # In the order a reader would fix them; each rule reads what the ones before collected.
    versions.check_version(ctx)
    family = schema.family(versions.family_for(ctx.version))
    schema.check_root(ctx, family)
    screens.collect_screens(ctx, family)
    for screen in ctx.screens:
        references.check_references(ctx, screen)
        bindings.check_bindings(ctx, screen)
    layout.check_layouts(ctx)
    actions.check_actions(ctx)
    screens.check_terminal_screens(ctx)
    journey.check_journey(ctx)
    data_api.check_data_api(ctx)
    routing.check_routing_model(ctx)
