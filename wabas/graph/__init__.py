"""The Meta Graph API client: the one way our code talks to Meta.

`client.GraphClient` funnels every call through one `_request`; `errors` holds what it raises and
`templates` the typed values templates and template messages are built from. Import from here:
`from wabas.graph import GraphClient, MetaError, TemplateContent`.
"""

from __future__ import annotations

from .client import GraphClient
from .errors import MetaAuthError, MetaError, MetaTransientError
from .templates import (
    FlowButton,
    HeaderParameter,
    SentMessage,
    TemplateContent,
    TemplateHeader,
    variables,
)

__all__ = [
    "FlowButton",
    "GraphClient",
    "HeaderParameter",
    "MetaAuthError",
    "MetaError",
    "MetaTransientError",
    "SentMessage",
    "TemplateContent",
    "TemplateHeader",
    "variables",
]
