"""What the Flow JSON tests share: the fixture flows, the examples, and small readers of a Report."""

from __future__ import annotations

import json
from pathlib import Path

from flowsadmin.flowjson import Message, Report, validate

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "flowjson"
EXAMPLES = ROOT / "flowsadmin" / "examples"
HOTEL = EXAMPLES / "hotel-feedback.static.flow.json"
BUS = EXAMPLES / "bus-booking.clevertap-endpoint.flow.json"
WEATHER = EXAMPLES / "weather-or-age.customer-endpoint.flow.json"
JSONC = FIXTURES / "profile-update-with-comments.fragment.jsonc"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def static_flow() -> dict:
    """CONTACT (email, topic) --navigate--> DONE (terminal, complete with ct-evt)."""
    return load("two-screens.flow.json")


def endpoint_flow() -> dict:
    """CONTACT --data_exchange--> DONE, with data_api_version and routing_model (a routing model and Data API version)."""
    return load("endpoint.flow.json")


def check(flow: dict) -> Report:
    return validate(json.dumps(flow, indent=2, ensure_ascii=False))


def only(report: Report, code: str) -> Message:
    found = [m for m in report.errors + report.warnings if m.code == code]
    assert len(found) == 1, report.messages
    return found[0]


def codes(report: Report) -> list[str]:
    return [m.code for m in report.messages]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    at = -1
    for _ in range(occurrence):
        at = text.index(needle, at + 1)
    return text.count("\n", 0, at) + 1


def footer(flow: dict, screen: int) -> dict:
    return next(c for c in flow["screens"][screen]["layout"]["children"] if c["type"] == "Footer")


def children(flow: dict, screen: int) -> list:
    return flow["screens"][screen]["layout"]["children"]
