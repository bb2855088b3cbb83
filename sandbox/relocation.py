"""When `make run` serves at another address: move the URLs stored with the old one along.

seed_demo writes this server's address (PUBLIC_BASE_URL) into rows: the demo WABA's Graph API base
URL (the sandbox under /sandbox/graph), the sandbox account's webhook callback, the data-exchange
URL the sandbox Meta calls for each published flow, a flow's customer endpoint and preview link, the
header image link in sandbox messages. Served from another port or host, each would point at a
server that is gone; rewriting them keeps the database, which deleting it would not.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Replace

from flowsadmin.models import Flow
from wabas.models import Waba

from .models import Account, Message, SentWebhook
from .models import Flow as SandboxFlow

SANDBOX_GRAPH_PATH = "/sandbox/graph"

# Text columns holding a URL of this server.
URL_FIELDS = [
    (Waba, "graph_base_url"),
    (Flow, "customer_endpoint_url"),
    (Flow, "preview_url"),
    (Account, "webhook_url"),
    (SandboxFlow, "endpoint_uri"),
    (SentWebhook, "target"),  # an undelivered webhook is retried at its target
]


def served_from(waba: Waba) -> str | None:
    """The address of the server whose sandbox the WABA talks to; None when it talks to no sandbox."""
    url = waba.graph_base_url.rstrip("/")
    return url.removesuffix(SANDBOX_GRAPH_PATH) if url.endswith(SANDBOX_GRAPH_PATH) else None


def relocate(old: str, new: str) -> int:
    """Rewrite every stored URL under `old` (a base URL, no trailing slash) to the same path under
    `new`; returns how many rows changed. Plain UPDATEs with REPLACE: SQLite and PostgreSQL alike."""
    old, new = old.rstrip("/"), new.rstrip("/")
    if old == new:
        return 0
    changed = 0
    with transaction.atomic():
        for model, name in URL_FIELDS:
            rows = model.objects.filter(**{f"{name}__startswith": old + "/"})
            changed += rows.update(**{name: Replace(name, Value(old + "/"), Value(new + "/"))})
        # JSON columns: rewritten in Python, which knows their shape on both databases.
        for message in Message.objects.only("pk", "payload", "header_media").iterator():
            payload = _moved(message.payload, old, new)
            media = _moved(message.header_media, old, new)
            if (payload, media) != (message.payload, message.header_media):
                message.payload, message.header_media = payload, media
                message.save(update_fields=["payload", "header_media"])
                changed += 1
    return changed


def _moved(value: object, old: str, new: str) -> object:
    if isinstance(value, str):
        return new + value[len(old) :] if value.startswith(old + "/") else value
    if isinstance(value, dict):
        return {key: _moved(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_moved(item, old, new) for item in value]
    return value
