"""Validating Flow JSON: a 100-screen Flow against plain `json.loads` of the same text."""

from __future__ import annotations

import json
import statistics
import time

from flowsadmin.flowjson import validate

from .harness import median_seconds, report


def make_flow(screens: int = 100) -> dict:
    """A valid endpoint Flow of `screens` screens, each with the usual mix of text and inputs.

    Every tenth screen asks the endpoint for the next one (data_exchange with next_screen, as the
    hosted endpoint does); the others navigate, passing what was entered on to the next screen.
    """
    ids = [f"STEP_{_letters(i)}" for i in range(screens)]
    flow: dict = {
        "version": "7.3",
        "data_api_version": "3.0",
        "routing_model": {sid: ids[i + 1 : i + 2] for i, sid in enumerate(ids)},
        "screens": [],
    }
    for i, sid in enumerate(ids):
        last = i == screens - 1
        data = {
            "intro": {"type": "string", "__example__": f"Step {i + 1} of {screens}"},
            "city": {"type": "string", "__example__": "Pune"},
            "rooms": {
                "type": "array",
                "items": {"type": "object", "properties": {"id": {"type": "string"}}},
                "__example__": [{"id": "1", "title": "Single"}],
            },
        }
        payload = {"city": "${form.city}", "intro": "Next", "rooms": "${data.rooms}"}
        if last:
            action = {
                "name": "complete",
                "payload": {
                    "city": "${form.city}",
                    "ct-evt": {
                        "evtName": "Long survey done",
                        "evtData": {"city": "${form.city}", "notes": "${form.notes}"},
                    },
                },
            }
        elif i % 10 == 9:
            action = {"name": "data_exchange", "payload": {**payload, "next_screen": ids[i + 1]}}
        else:
            action = {
                "name": "navigate",
                "next": {"type": "screen", "name": ids[i + 1]},
                "payload": payload,
            }
        options = [{"id": f"{n}_opt", "title": f"Option {n}"} for n in range(5)]
        children = [
            {"type": "TextHeading", "text": f"Question {i + 1}"},
            {"type": "TextBody", "text": "`'Hello ' ${data.intro}`", "markdown": True},
            {"type": "TextInput", "name": "city", "label": "City", "input-type": "text",
             "required": True, "helper-text": "Where are you travelling from?"},
            {"type": "TextArea", "name": "notes", "label": "Notes", "required": False},
            {"type": "Dropdown", "name": "rating", "label": "Rating", "required": True,
             "data-source": options},
            {"type": "RadioButtonsGroup", "name": "room", "label": "Room", "data-source": "${data.rooms}"},
            {"type": "CheckboxGroup", "name": "extras", "label": "Extras", "data-source": options[:4],
             "max-selected-items": 3},
            {"type": "DatePicker", "name": "day", "label": "Day", "min-date": "2025-05-25"},
            {"type": "OptIn", "name": "news", "label": "Send me news", "visible": "${form.city}"},
            {"type": "Footer", "label": "Done" if last else "Continue", "on-click-action": action},
        ]  # fmt: skip
        screen = {"id": sid, "title": f"Step {i + 1}", "data": data, "terminal": last}
        screen["layout"] = {"type": "SingleColumnLayout", "children": children}
        flow["screens"].append(screen)
    return flow


def _letters(n: int) -> str:
    # Screen ids are letters and underscores only.
    return "".join("ABCDEFGHIJ"[int(d)] for d in f"{n:03}")


def test_bench_validating_a_100_screen_flow():
    text = json.dumps(make_flow(100), indent=2, ensure_ascii=False)
    result = validate(text)
    assert result.errors == [] and result.warnings == [], result.messages[:3]

    baseline = median_seconds(lambda: json.loads(text), number=20)
    validating = median_seconds(lambda: validate(text), number=5)
    report("validate 100-screen flow", validating, "json.loads", baseline)
    # Issue 13's bound: 20 ms for 100 screens, checked on the quickest of many single runs (other
    # work only ever slows a run down). On this shared machine a busy spell slows everything by as
    # much as 4x, so then a load-proof ratio decides: validating and 7 json.loads (about as long)
    # taken in turns, so both meet the same weather, and the median of the per-turn ratios. 9x
    # json.loads is 20 ms where json.loads of this text takes its quiet ~2.2 ms.
    quickest = min(_once(lambda: validate(text)) for _ in range(40))
    turns = []
    for _ in range(30):
        loads = _once(lambda: [json.loads(text) for _ in range(7)]) / 7
        turns.append(_once(lambda: validate(text)) / loads)
    ratio = statistics.median(turns)
    print(  # noqa: T201
        f"BENCH validate 100-screen flow: quickest {quickest * 1000:.1f} ms; {ratio:.2f}x "
        "json.loads taken in turns"
    )
    assert quickest < 0.020 or ratio < 9, (
        f"{quickest * 1000:.1f} ms at best, {ratio:.1f}x json.loads"
    )


def _once(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start
