"""What a flow's Insights show: its completion funnel and our endpoint's health."""

from __future__ import annotations

from audience.models import Event
from flowsadmin.models import Flow

from .metrics import endpoint_health, screens_reached
from .screens import screens_of


def insights_context(flow: Flow) -> dict:
    """The template context of flowsadmin/_insights.html."""
    health = endpoint_health(flow.pk)
    return {
        "funnel": funnel(flow),
        "health": health,
        "health_rows": [("Last hour", health["hour"]), ("Last day", health["day"])],
        "endpoint_errors": flow.endpoint_errors.all()[:10],
    }


def funnel(flow: Flow) -> list[dict] | None:
    """Each screen in the JSON's order, then "Completed": distinct tokens, percent of the first row.
    None when Redis, which keeps the screens reached, does not answer."""
    # The screens as the endpoint that records the visits reads them.
    screens = list(screens_of(flow.flow_json or "").ids)
    reached = screens_reached(flow.pk, screens)
    if reached is None:
        return None
    rows = [{"label": screen, "count": reached[screen]} for screen in screens]
    rows.append({"label": "Completed", "count": Event.objects.responses(flow).count()})
    base = rows[0]["count"] or max(row["count"] for row in rows)
    for row in rows:
        row["percent"] = min(100, round(row["count"] * 100 / base)) if base else 0
    return rows
