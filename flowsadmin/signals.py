"""Signals other apps listen to without flowsadmin importing them."""

from django.dispatch import Signal

# Sent after a flow is deprecated on Meta, with `flow`: templates using it must drop it.
flow_deprecated = Signal()
