"""CleverTap's payload keys: `ct-evt` records an event, `ct-up` updates the user's profile.

CleverTap reads them from the payload of data_exchange and complete actions only, and Meta carries
only text in Flow payloads, so both are checked for shape and for text values.
"""

from __future__ import annotations

from typing import Any

from .context import Action, Context
from .report import JsonPath
from .syntax import json_type

CT_KEYS = ("ct-evt", "ct-up")
INGESTED_BY = ("data_exchange", "complete")


def check_ct_keys(ctx: Context, action: Action) -> None:
    payload = action.raw.get("payload")
    if not isinstance(payload, dict):
        return
    for key in CT_KEYS:
        if key not in payload:
            continue
        path = (*action.path, "payload", key)
        if action.name not in INGESTED_BY:
            ctx.warn(
                "ct-key-not-ingested",
                f'"{key}" in a {action.name} payload is never ingested: CleverTap reads '
                "ct-evt and ct-up only from data_exchange and complete actions. Move it to "
                "the data_exchange or complete action that follows, or remove it.",
                path,
            )
        elif key == "ct-evt":
            _check_ct_evt(ctx, payload[key], path)
        else:
            _check_ct_up(ctx, payload[key], path)


def _check_ct_evt(ctx: Context, event: Any, path: JsonPath) -> None:
    if not isinstance(event, dict):
        ctx.error(
            "ct-evt-not-object",
            f'"ct-evt" is {json_type(event)}, but CleverTap needs an object: '
            '"ct-evt": {"evtName": "Your event", "evtData": {...}}.',
            path,
        )
        return
    name = event.get("evtName")
    if "evtName" not in event:
        ctx.error(
            "ct-evt-missing-name",
            '"ct-evt" has no "evtName": add "evtName": "Your event name", the name of the '
            "event CleverTap records.",
            path,
        )
    elif not isinstance(name, str) or not name.strip():
        ctx.error(
            "ct-evt-missing-name",
            f'"evtName" is {json_type(name) if name != "" else "empty"}: write the event '
            'name as text, e.g. "evtName": "Stay Feedback".',
            (*path, "evtName"),
        )
    if "evtData" not in event:
        ctx.error(
            "ct-evt-data-not-object",
            '"ct-evt" has no "evtData": add "evtData": {...} with the event properties '
            "(use {} for none).",
            path,
        )
        return
    data = event["evtData"]
    if not isinstance(data, dict):
        ctx.error(
            "ct-evt-data-not-object",
            f'"evtData" is {json_type(data)}, but it must be an object of event properties: '
            '"evtData": {"property": "${form.field}"}.',
            (*path, "evtData"),
        )
        return
    for key, value in data.items():
        if not isinstance(value, str):
            ctx.warn(
                "ct-value-not-text",
                f'The event property "{key}" is {json_type(value)}; Meta carries only text in '
                'Flow payloads: write it in double quotes or as a "${...}" reference.',
                (*path, "evtData", key),
            )


def _check_ct_up(ctx: Context, profile: Any, path: JsonPath) -> None:
    if not isinstance(profile, dict):
        ctx.error(
            "ct-up-not-object",
            f'"ct-up" is {json_type(profile)}, but it must be an object of profile '
            'properties: "ct-up": {"Email": "${form.email}"}.',
            path,
        )
        return
    for key, value in profile.items():
        if not isinstance(value, str):
            ctx.error(
                "ct-up-value-not-text",
                f'The profile property "{key}" in "ct-up" is {json_type(value)}; profile '
                'values must be text: write it in double quotes or as a "${form.…}" '
                "reference.",
                (*path, key),
            )
