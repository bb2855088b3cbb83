"""What a flow's Insights show: its completion funnel and our endpoint's health over time.

The funnel follows the flow's routes (flowsadmin.routing): each screen sits under the screen that
leads to it, with the share of that screen's people who went on to it and how many stopped there.
Only flows that call our endpoint report their screens to us; a static flow (no data_api_version)
or one whose endpoint is somebody else's URL gets its completions alone, and says why.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from django.conf import settings

from audience.models import Event
from flowsadmin.models import Flow
from flowsadmin.routing import entry_screens, routes

from .metrics import BUCKETS_MS, HealthWindow, endpoint_health, tokens_reaching
from .screens import screens_of

# Meta's alert thresholds for a flow's endpoint (reference/webhooks.md §6.2-6.3, endpoint-contract.md
# §8): the error rate over about 30 minutes, and the p90 latency (not p99) over about 30 minutes.
ERROR_RATE_THRESHOLDS = (5, 10, 50)  # percent
P90_THRESHOLDS_MS = (1000, 5000, 7000)
# A latency past the last bucket has no upper bound: the chart draws it here and says so.
BEYOND_MS = BUCKETS_MS[-1] * 2

ENDPOINT, STATIC, ELSEWHERE = "endpoint", "static", "elsewhere"


def insights_context(flow: Flow) -> dict:
    """The template context of flowsadmin/_insights.html."""
    health = endpoint_health(flow.pk)
    return {
        "funnel": funnel(flow),
        "health": health,
        "health_rows": [
            ("Last hour", health["hour"]),
            ("Last 24 hours", health["day"]),
            ("Last 7 days", health["week"]),
        ],
        "health_charts": chart_data(health) if health["available"] else None,
        "error_rate_thresholds": ERROR_RATE_THRESHOLDS,
        "p90_thresholds": [f"{ms // 1000} s" for ms in P90_THRESHOLDS_MS],
        "endpoint_errors": flow.endpoint_errors.all()[:10],
        "problem_repeat_seconds": int(settings.ENDPOINT_ERROR_REPEAT_SECONDS),
    }


# --- the funnel ----------------------------------------------------------------------------------


@dataclass
class Step:
    """One screen of the funnel, placed under the screen that first leads to it."""

    screen: str
    depth: int
    reached: int = 0
    # Percent of the people on the screens before it (`after`) who went on to this one; for an
    # entry screen, percent of everyone the endpoint saw. None when nobody was before it.
    share: int | None = None
    after: list[str] = field(default_factory=list)
    # Reached this screen and no screen after it; None for an end screen (see Funnel.completed).
    stopped: int | None = None

    @property
    def bar(self) -> int:
        return min(self.share or 0, 100)

    @property
    def indent(self) -> int:
        return min(self.depth, 6)  # CSS classes depth-0..depth-6


@dataclass
class Funnel:
    kind: str  # ENDPOINT, STATIC or ELSEWHERE
    completed: int
    available: bool = True  # False when Redis, which keeps the screens reached, does not answer
    opened: int | None = None  # distinct flow tokens the endpoint saw; None when not reported
    steps: list[Step] = field(default_factory=list)
    ended: int | None = None  # reached one of the end screens
    branches: bool = False

    @property
    def completed_share(self) -> int | None:
        return _percent(self.completed, self.ended)

    @property
    def stopped_at_the_end(self) -> int | None:
        return None if self.ended is None else max(self.ended - self.completed, 0)


def _percent(part: int, whole: int | None) -> int | None:
    return round(part * 100 / whole) if whole else None


def reports_screens(flow: Flow) -> str:
    """ENDPOINT when Meta calls our endpoint on each screen, else why it doesn't."""
    try:
        document = json.loads(flow.flow_json or "")
    except ValueError:
        document = None
    # Without data_api_version the flow never calls an endpoint: it runs on the phone alone.
    if not isinstance(document, dict) or "data_api_version" not in document:
        return STATIC
    return ENDPOINT if flow.endpoint == Flow.Endpoint.HOSTED else ELSEWHERE


def funnel(flow: Flow) -> Funnel:
    """The flow's funnel: screens reached along its routes for a flow that calls our endpoint;
    completions alone, and why, for one that doesn't."""
    result = Funnel(kind=reports_screens(flow), completed=Event.objects.responses(flow).count())
    if result.kind != ENDPOINT:
        return result
    text = flow.flow_json or ""
    # The screens as the endpoint that records the visits reads them.
    ids = list(screens_of(text).ids)
    if not ids:
        return result
    nexts = {s: [t for t in targets if t in ids] for s, targets in routes(text).items() if s in ids}
    before = {s: [p for p in ids if s in nexts.get(p, [])] for s in ids}
    steps = _tree(ids, nexts, entry_screens(text))
    ends = [s for s in ids if not nexts.get(s)]

    # Every count in one pipeline: each screen, unions for "went on" and "came from".
    groups: dict[tuple[str, ...], int] = {}

    def ask(*screens: str) -> None:
        groups.setdefault(tuple(sorted(set(screens))), len(groups))

    for step in steps:
        ask(step.screen)
        for others in (before[step.screen], nexts.get(step.screen)):
            if others:
                ask(*others)
                ask(step.screen, *others)
    ask(*ids)
    if ends:
        ask(*ends)
    counts = tokens_reaching(flow.pk, [list(key) for key in groups])
    if counts is None:
        result.available = False
        return result

    def count(*screens: str) -> int:
        return counts[groups[tuple(sorted(set(screens)))]]

    result.opened = count(*ids)
    result.ended = count(*ends) if ends else None
    result.branches = any(len(targets) > 1 for targets in nexts.values())
    for step in steps:
        step.reached = count(step.screen)
        came_from = before[step.screen]
        step.after = came_from
        if came_from:
            # People on a screen before it who also reached it: |P ∩ S| = |P| + |S| - |P ∪ S|.
            earlier = count(*came_from)
            went_on = earlier + step.reached - count(step.screen, *came_from)
            step.share = _percent(min(max(went_on, 0), step.reached), earlier)
        else:
            step.share = _percent(step.reached, result.opened)
        if nexts.get(step.screen):
            # On this screen and on none after it: |S ∪ N| - |N|.
            later = nexts[step.screen]
            step.stopped = max(count(step.screen, *later) - count(*later), 0)
    result.steps = steps
    return result


def _tree(ids: list[str], nexts: dict[str, list[str]], entries: list[str]) -> list[Step]:
    """The screens depth first from the entry screens, each once, under the first screen that leads
    to it; screens no route reaches follow as roots of their own. Iterative: the JSON is the user's."""
    placed: set[str] = set()
    steps: list[Step] = []
    for root in [*entries, *ids]:
        stack = [(root, 0)]
        while stack:
            screen, depth = stack.pop()
            if screen in placed:
                continue
            placed.add(screen)
            steps.append(Step(screen=screen, depth=depth))
            stack.extend((t, depth + 1) for t in reversed(nexts.get(screen, [])))
    return steps


# --- endpoint health charts ----------------------------------------------------------------------


def _ms(value: float | None) -> float | None:
    if value is None:
        return None
    return BEYOND_MS if math.isinf(value) else value


def _series(points: list[HealthWindow]) -> dict:
    return {
        "t": [p.start for p in points],
        "requests": [p.requests for p in points],
        "errors": [p.errors for p in points],
        "error_rate": [
            None if p.error_rate is None else round(p.error_rate * 100, 2) for p in points
        ],
        "p50": [_ms(p.p50_ms) for p in points],
        "p90": [_ms(p.p90_ms) for p in points],
        "p99": [_ms(p.p99_ms) for p in points],
    }


def chart_data(health: dict) -> dict:
    """What static/js/insights.js draws: a series per minute and per hour, and Meta's thresholds."""
    return {
        "minute": _series(health["minutes"]),
        "hour": _series(health["hours"]),
        "thresholds": {"error_rate": ERROR_RATE_THRESHOLDS, "p90_ms": P90_THRESHOLDS_MS},
        "beyond_ms": BEYOND_MS,
    }
