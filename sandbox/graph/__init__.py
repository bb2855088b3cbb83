"""The Graph API stand-in, one module per concern; importing them registers their routes.

`core` holds the request plumbing (errors, auth, routing, paging) and the one view, `graph`; the other
modules each add the handlers for one part of Meta's API.
"""

from __future__ import annotations

from . import flows, messages, numbers, templates, uploads  # noqa: F401  (they register routes)
from .core import graph, unknown_version

__all__ = ["graph", "unknown_version"]
