"""System checks of the project's settings (`manage.py check --deploy` runs the deploy-tagged ones)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def sandbox_in_production(app_configs: object, **kwargs: object) -> list[Warning]:
    """The sandbox Meta answers Graph API calls and plays flows for anyone: development only."""
    if settings.SANDBOX_ENABLED and not settings.DEBUG:
        return [
            Warning(
                "SANDBOX_ENABLED is on while DEBUG is off: the stand-in for Meta is served in "
                "production, to anyone who can reach /sandbox/.",
                hint="Set SANDBOX_ENABLED=false outside development.",
                id="flowsadmin.W001",
            )
        ]
    return []
