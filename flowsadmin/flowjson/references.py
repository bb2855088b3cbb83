"""`${data.x}`, `${form.x}` and `${screen.ID.data.x}` references: each must name something declared.

A screen's `${data.x}` needs `x` in that screen's "data"; `${form.x}` needs an input named `x` on
the same screen; `${screen.ID.form.x}` (version 4.0 and later) reads another screen's input.
"""

from __future__ import annotations

import re

from .context import Context, Screen
from .report import JsonPath

_REF = re.compile(
    r"\$\{\s*(?:(data|form)\.([^.\[\]\s}]+)|screen\.([^.\s}]+)\.(data|form)\.([^.\[\]\s}]+))"
)


def check_references(ctx: Context, screen: Screen) -> None:
    for text, path in screen.refs:
        for match in _REF.finditer(text):
            kind, key, other_id, other_kind, other_key = match.groups()
            if kind == "data" and key not in screen.data_keys:
                declared = ", ".join(sorted(screen.data_keys)) or "nothing"
                ctx.error(
                    "undeclared-data",
                    f'"${{data.{key}}}" on {screen.label}: the screen does not declare "{key}" '
                    f'in its "data" (it declares {declared}). Add "{key}": {{"type": "string", '
                    '"__example__": "..."} to the screen\'s "data", or fix the name.',
                    path,
                )
            elif kind == "form" and key not in screen.fields:
                inputs = ", ".join(sorted(screen.fields)) or "none"
                ctx.error(
                    "unknown-form-field",
                    f'"${{form.{key}}}" on {screen.label}: there is no input named "{key}" on '
                    f"this screen (inputs: {inputs}). Use the name of an input on this "
                    "screen; to read an earlier screen's input pass it in the navigate "
                    f"payload or use ${{screen.SCREEN_ID.form.{key}}} (4.0+).",
                    path,
                )
            elif other_id is not None:
                _check_global_ref(ctx, screen, other_id, other_kind, other_key, path)


def _check_global_ref(
    ctx: Context, screen: Screen, other_id: str, kind: str, key: str, path: JsonPath
) -> None:
    ref = f"${{screen.{other_id}.{kind}.{key}}}"
    if ctx.before("4.0"):
        ctx.error(
            "global-reference-too-new",
            f'"{ref}" on {screen.label}: references to other screens need version 4.0 or '
            f'later, but this Flow is version {ctx.version}: raise "version", or pass the '
            "value in the navigate payload.",
            path,
        )
        return
    other = ctx.by_id.get(other_id)
    if other is None:
        ctx.error(
            "unknown-screen-reference",
            f'"{ref}" on {screen.label} names screen "{other_id}", which does not exist: use '
            f"one of {', '.join(ctx.by_id) or 'the screen ids'}.",
            path,
        )
    elif kind == "form" and key not in other.fields:
        ctx.error(
            "unknown-form-field",
            f'"{ref}" on {screen.label}: screen "{other_id}" has no input named "{key}" '
            f"(inputs: {', '.join(sorted(other.fields)) or 'none'}).",
            path,
        )
    elif kind == "data" and key not in other.data_keys:
        ctx.error(
            "undeclared-data",
            f'"{ref}" on {screen.label}: screen "{other_id}" does not declare "{key}" in its '
            f'"data" (it declares {", ".join(sorted(other.data_keys)) or "nothing"}).',
            path,
        )
