"""The keys that tie a Flow to its data-exchange endpoint: data_api_version, routing_model and the
retired data_channel_uri, checked against the actions that actually call the endpoint.
"""

from __future__ import annotations

from .context import Context


def check_data_api(ctx: Context) -> None:
    data = ctx.data
    exchanges = [a for s in ctx.screens for a in s.actions if a.name == "data_exchange"]
    has_api = "data_api_version" in data
    if exchanges and not has_api:
        ctx.error(
            "data-exchange-without-data-api-version",
            "This data_exchange action calls an endpoint, but the Flow has no "
            'data_api_version: add "data_api_version": "3.0" and a routing_model at the top '
            "level, or use navigate to move between screens without an endpoint.",
            (*exchanges[0].path, "name"),
        )
    if has_api and "routing_model" not in data:
        ctx.error(
            "missing-routing-model",
            "A Flow with data_api_version talks to an endpoint and needs a routing_model: add "
            '"routing_model": {"FIRST_SCREEN": ["NEXT_SCREEN"], "NEXT_SCREEN": []} listing '
            "where each screen may lead.",
            ("data_api_version",),
        )
    refresh = any(s.raw.get("refresh_on_back") is True for s in ctx.screens)
    if has_api and not exchanges and not refresh:
        ctx.warn(
            "unnecessary-data-api-version",
            "No action calls the endpoint (there is no data_exchange), so data_api_version "
            "is unnecessary unless the endpoint provides the first screen's data: otherwise "
            "remove data_api_version and routing_model.",
            ("data_api_version",),
        )
    if refresh and not has_api:
        ctx.error(
            "refresh-without-endpoint",
            "refresh_on_back asks the endpoint for fresh data, but the Flow has no "
            "data_api_version (no endpoint): remove refresh_on_back or add the endpoint keys.",
            next(
                (*s.path, "refresh_on_back")
                for s in ctx.screens
                if s.raw.get("refresh_on_back") is True
            ),
        )
    if "data_channel_uri" in data and ctx.version and not ctx.before("3.0"):
        ctx.error(
            "data-channel-uri-not-allowed",
            "data_channel_uri is not allowed from version 3.0: remove it and set the endpoint "
            "URL on the Flow instead (this dashboard sends it to Meta as endpoint_uri).",
            ("data_channel_uri",),
        )
