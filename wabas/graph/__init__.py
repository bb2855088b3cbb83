"""The Meta Graph API client: the one way our code talks to Meta.

`client.GraphClient` funnels every call through one `_request`; `errors` holds what it raises.
Import from here: `from wabas.graph import GraphClient, MetaError`.
"""

from __future__ import annotations

from .client import GraphClient
from .errors import MetaAuthError, MetaError, MetaTransientError

__all__ = ["GraphClient", "MetaAuthError", "MetaError", "MetaTransientError"]
