"""What a person chose, in the words they saw: option ids of a submission turned into titles.

A radio, dropdown, checkbox or chips answer arrives as the option's `id` (`1_★★★★☆_•_Good_(4/5)`);
the person saw its `title` (`★★★★☆ • Good (4/5)`). The titles are in the Flow JSON's data sources,
written out (static) or as the screen data's `__example__` (dynamic, for flows that call an endpoint).

A submission's keys are not the form fields' names: the `complete` action's payload (or the evtData
of its `ct-evt`) renames them (`"stay_experience": "${form.Stay_Experience_f2b4e8}"`), and a value
can travel from an earlier screen through a navigate payload into `${data.x}`. So the titles are
found by following those references back to the field; failing that, by a field of the same name;
failing that, by an option id that means the same title everywhere in the Flow.

Framework-free like `preview.py`, and like it never raises on bad input: what can't be followed
is shown as it was given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

# Components whose answer is one option id (or, for checkboxes and chips, a list of them).
CHOICE_TYPES = {"RadioButtonsGroup", "Dropdown", "CheckboxGroup", "ChipsSelector"}

_FORM_REF = re.compile(r"\s*\$\{form\.([^}.]+)\}\s*")
_DATA_REF = re.compile(r"\s*\$\{data\.([^}.]+)\}\s*")
_SCREEN_FORM_REF = re.compile(r"\s*\$\{screen\.([^}.]+)\.form\.([^}.]+)\}\s*")
_EVENT_KEY = "ct-evt"
# Far more than any real Flow has screens: a chain of navigate payloads settles in one pass per screen.
MAX_PASSES = 50

Titles = dict[str, str]  # option id -> title


def _walk(node: Any) -> Iterator[dict]:
    """Every object in a JSON value, iteratively (a hostile paste can nest deeper than recursion)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def _options(source: Any, examples: dict) -> Titles:
    """A data-source's id -> title, written out or read from the screen's __example__ data."""
    if isinstance(source, str) and (match := _DATA_REF.fullmatch(source)):
        source = examples.get(match.group(1))
    titles: Titles = {}
    if isinstance(source, list):
        for item in source:
            if isinstance(item, dict) and isinstance(item.get("id"), str | int):
                title = item.get("title")
                titles[str(item["id"])] = title if isinstance(title, str) else str(item["id"])
    return titles


class ChoiceTitles:
    """The titles of a Flow's options, per submission key: `readable(key, value)`."""

    def __init__(self, by_key: dict[str, Titles], anywhere: Titles) -> None:
        self.by_key = by_key
        self.anywhere = anywhere

    def title(self, key: str, option_id: str) -> str:
        titles = self.by_key.get(key)
        if titles and option_id in titles:
            return titles[option_id]
        return self.anywhere.get(option_id, option_id)

    def readable(self, key: str, value: Any) -> Any:
        """The value with option ids replaced by titles; anything else as it was."""
        if isinstance(value, str):
            return self.title(key, value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [self.title(key, v) for v in value]
        return value


def choice_titles(text: str) -> ChoiceTitles:
    """Read a Flow JSON text for the titles of its choices; an unreadable text maps nothing."""
    try:
        data = json.loads(text.removeprefix("\ufeff")) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        data = None
    screens = data.get("screens") if isinstance(data, dict) else None
    if not isinstance(screens, list):
        return ChoiceTitles({}, {})
    screens = [s for s in screens if isinstance(s, dict) and isinstance(s.get("id"), str)]

    # Each screen's choice fields: name -> titles.
    fields: dict[str, dict[str, Titles]] = {}
    for screen in screens:
        declared = screen.get("data") if isinstance(screen.get("data"), dict) else {}
        examples = {
            k: v["__example__"]
            for k, v in declared.items()
            if isinstance(v, dict) and "__example__" in v
        }
        found: dict[str, Titles] = {}
        for node in _walk(screen.get("layout")):
            if node.get("type") in CHOICE_TYPES and isinstance(node.get("name"), str):
                titles = _options(node.get("data-source"), examples)
                if titles:
                    found.setdefault(node["name"], titles)
        fields[screen["id"]] = found

    # Screen data that carries a choice: filled by navigate payloads of the screens before it.
    carried: dict[str, dict[str, Titles]] = {s["id"]: {} for s in screens}
    answers: dict[str, Titles] = {}

    def follow(screen_id: str, value: Any) -> Titles | None:
        if not isinstance(value, str):
            return None
        if match := _FORM_REF.fullmatch(value):
            return fields.get(screen_id, {}).get(match.group(1))
        if match := _DATA_REF.fullmatch(value):
            return carried.get(screen_id, {}).get(match.group(1))
        if match := _SCREEN_FORM_REF.fullmatch(value):
            return fields.get(match.group(1), {}).get(match.group(2))
        return None

    for _ in range(MAX_PASSES):
        changed = False
        for screen in screens:
            for node in _walk(screen.get("layout")):
                payload = node.get("payload")
                if not isinstance(node.get("name"), str) or not isinstance(payload, dict):
                    continue
                if node["name"] == "navigate":
                    target = node.get("next", {})
                    target = target.get("name") if isinstance(target, dict) else None
                    into = carried.get(target) if isinstance(target, str) else None
                elif node["name"] == "complete":
                    into = answers
                else:
                    continue
                if into is None:
                    continue
                pairs = list(payload.items())
                if into is answers:
                    # Flows written for ingestion carry their answers inside ct-evt's evtData.
                    events = payload.get(_EVENT_KEY)
                    for event in events if isinstance(events, list) else [events]:
                        if isinstance(event, dict) and isinstance(event.get("evtData"), dict):
                            pairs.extend(event["evtData"].items())
                for key, value in pairs:
                    titles = follow(screen["id"], value)
                    if titles and key not in into:
                        into[key] = titles
                        changed = True
        if not changed:
            break

    # A field's own name, when no payload renames it (and the option ids that mean one thing).
    anywhere: Titles = {}
    ambiguous: set[str] = set()
    for per_screen in fields.values():
        for name, titles in per_screen.items():
            answers.setdefault(name, titles)
            for option_id, title in titles.items():
                if anywhere.get(option_id, title) != title:
                    ambiguous.add(option_id)
                anywhere.setdefault(option_id, title)
    for option_id in ambiguous:
        del anywhere[option_id]
    return ChoiceTitles(answers, anywhere)
