"""Writes about flows that call Meta."""

from __future__ import annotations

from wabas.graph import GraphClient

from .models import Flow


def refresh_flow(flow: Flow, *, client: GraphClient) -> Flow:
    """Pull status, validation errors, preview link and health from Meta onto the flow."""
    if flow.meta_flow_id:
        flow.apply_meta_state(client.get_flow(flow.meta_flow_id))
    return flow
