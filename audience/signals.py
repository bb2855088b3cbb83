"""Signals audience and the endpoint send for the apps above them (campaigns listens).

`flow_token_seen` says that one of our flow tokens naming a campaign came back: the person opened
the flow (the first endpoint request with it) or completed it (its nfm_reply). Sent with
`token` (read_flow_token's dict: whatsapp_id, campaign_id, flow), `kind` ("opened" or "completed")
and `at` (an aware datetime). Only for tokens that read as ours with a campaign id, so a business's
own tokens cost nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from threading import Lock

from django.dispatch import Signal

flow_token_seen = Signal()

OPENED, COMPLETED = "opened", "completed"
# Each endpoint request of a flow carries the same token: a process remembers the last tokens it
# announced as opened, so only the first request of a person's flow costs the listener a write.
_SEEN_MAX = 10_000
_seen: OrderedDict[str, None] = OrderedDict()
_seen_lock = Lock()


def announce_flow_token(raw: str, token: dict | None, *, kind: str, at: datetime) -> None:
    """Send flow_token_seen for a token of ours that names a campaign; "opened" once per process."""
    if not token or token.get("campaign_id") is None:
        return
    if kind == OPENED:
        with _seen_lock:
            if raw in _seen:
                return
            _seen[raw] = None
            if len(_seen) > _SEEN_MAX:
                _seen.popitem(last=False)
    flow_token_seen.send(sender=None, token=token, kind=kind, at=at)


def forget_announced() -> None:
    """Tests start without remembered tokens."""
    with _seen_lock:
        _seen.clear()
