"""Where a Flow JSON problem is placed (line, column, JSON path), how it is worded, and the validate_flow
command that prints them."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import jsonschema
import pytest
from django.core.management import CommandError, call_command

from flowsadmin import flowjson
from flowsadmin.flowjson import (
    Message,
    format_message,
    validate,
)

from .flowjson_support import (
    BUS,
    FIXTURES,
    HOTEL,
    JSONC,
    ROOT,
    WEATHER,
    line_of,
    only,
)

# --- positions and formatting -------------------------------------------------------------------


def test_line_numbers_are_right_for_an_error_deep_in_the_file():
    text = BUS.read_text(encoding="utf-8")
    broken = text.replace('"evtName": "Bus booking Done"', '"evtName": ""')
    error = only(validate(broken), "ct-evt-missing-name")
    assert error.path == ("$.screens[2].layout.children[10].on-click-action.payload.ct-evt.evtName")
    assert (error.line, error.column) == (line_of(broken, '"evtName": ""'), 19)


def test_every_message_has_a_line_and_column_even_after_duplicate_keys():
    text = '{"version": "7.3", "screens": [], "screens": [{"id": "A"}]}'
    error = only(validate(text), "missing-property")  # json.loads keeps the last "screens"
    assert (error.path, error.line, error.column) == ("$.screens[0]", 1, 47)


def test_format_message_is_compiler_style():
    msg = Message("error", "x", "Something is wrong.", "$.screens[0]", 12, 5)
    assert format_message(msg, "flows/a.json") == (
        "flows/a.json:12:5: error: Something is wrong. [$.screens[0]]"
    )
    assert format_message(msg) == "12:5: error: Something is wrong. [$.screens[0]]"


def test_paths_quote_keys_that_are_not_plain():
    assert flowjson.format_path(("screens", 0, "data", "two words")) == (
        '$.screens[0].data["two words"]'
    )


def test_the_fast_schema_check_agrees_with_jsonschema():
    """flowjson checks the schemas with jsonschema-rs; jsonschema, the reference implementation in
    Python, must give the same verdicts.

    If they ever disagreed, an invalid component would pass silently (or a valid one be refused);
    so mutate every property of realistic components and Flows and compare the two answers.
    """
    samples: list[tuple[str, dict]] = []
    for path in (HOTEL, BUS, WEATHER, FIXTURES / "two-screens.flow.json"):
        flow = json.loads(path.read_text(encoding="utf-8"))
        samples.append(("root", flow))
        stack = [flow]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if isinstance(item.get("type"), str) and item["type"] in flowjson.COMPONENT_SINCE:
                    samples.append((item["type"], item))
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    samples += [
        ("If", {"type": "If", "condition": "${form.a}", "then": [], "else": [{"type": "X"}]}),
        ("Switch", {"type": "Switch", "value": "${form.a}", "cases": {"a": []}}),
        ("NavigationList", {"type": "NavigationList", "name": "n", "list-items": [
            {"id": "1", "main-content": {"title": "One"}, "tags": ["a"]}]}),
        ("ImageCarousel", {"type": "ImageCarousel", "images": [{"src": "x", "alt-text": "y"}]}),
        ("EmbeddedLink", {"type": "EmbeddedLink", "text": "More", "on-click-action": {
            "name": "open_url", "url": "https://example.com"}}),
        ("CalendarPicker", {"type": "CalendarPicker", "name": "c", "label": "Day", "mode": "range",
                            "include-days": ["Mon"], "min-days": 1}),
    ]  # fmt: skip
    weird = [None, True, 0, 2.0, 2.5, "", " ", "x" * 300, [], [{}], {}, {"name": "navigate"}]
    # Blank to Python's re, not to Rust's: the schema's pattern names it so that both agree.
    weird.append("\u001f")
    compared = 0
    for family_name in ("2", "4plus"):
        family = flowjson.schema.family(family_name)
        raw = json.loads((flowjson.schema.SCHEMA_DIR / f"flowjson-{family_name}.json").read_text())
        reference = jsonschema.Draft202012Validator(raw)
        for kind, sample in samples:
            schema = family.root if kind == "root" else family.components.get(kind)
            if schema is None:
                continue
            # evolve() keeps the root's resolver, so "#/$defs/..." in a component resolves.
            reference_for = reference.evolve(
                schema=raw if kind == "root" else raw["$defs"]["components"][kind]
            )
            variants = [sample, {**sample, "extra": 1}]
            for key in sample:
                variants.append({k: v for k, v in sample.items() if k != key})
                variants += [{**sample, key: value} for value in weird]
            for variant in variants:
                assert schema.is_valid(variant) == reference_for.is_valid(variant), variant
                compared += 1
    assert compared > 5_000


# --- the validate_flow command ------------------------------------------------------------------


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("validate_flow", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_passes_the_examples_with_their_warnings():
    out, _ = run_command(str(HOTEL), str(BUS), str(WEATHER))
    assert f"{HOTEL}: OK (version 7.2): 0 errors, 0 warnings" in out
    assert f"{BUS}: OK with warnings (version 7.2): 0 errors, 3 warnings" in out
    assert f"{WEATHER}:4:3: warning: routing_model has no entry for YOUR_AGE" in out
    assert out.rstrip().endswith("3 files: 0 with errors, 0 unreadable.")


def test_the_command_fails_with_1_and_prints_file_line_column_and_path():
    bad = FIXTURES / "unknown-navigate-target.flow.json"
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("validate_flow", str(HOTEL), str(bad), stdout=out)
    assert raised.value.returncode == 1
    assert (
        f'{bad}:44:17: error: Screen "CONTACT" navigates to screen "THANKS", which does not '
        "exist: use one of CONTACT, DONE. [$.screens[0].layout.children[3].on-click-action.next.name]"
    ) in out.getvalue()
    assert f"{bad}: FAILED (version 7.3): 1 error, 0 warnings" in out.getvalue()


def test_the_command_fails_with_2_for_a_missing_file_and_still_checks_the_others(tmp_path):
    missing = tmp_path / "nope.json"
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("validate_flow", str(missing), str(HOTEL), stdout=out, stderr=err)
    assert raised.value.returncode == 2
    assert f"{missing}: cannot read the file: No such file or directory" in err.getvalue()
    assert f"{HOTEL}: OK" in out.getvalue()


def test_the_command_reports_a_file_that_is_not_utf8(tmp_path):
    latin = tmp_path / "latin1.json"
    latin.write_bytes('{\n  "version": "7.3", "title": "Caf\xe9"\n}'.encode("latin-1"))
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("validate_flow", str(latin), stdout=out)
    assert raised.value.returncode == 1
    assert f"{latin}:2:34: error: The file is not UTF-8 text" in out.getvalue()


def test_the_command_prints_json_on_request():
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("validate_flow", "--json", str(WEATHER), str(JSONC), stdout=out)
    results = json.loads(out.getvalue())
    assert [(r["file"], r["ok"]) for r in results] == [(str(WEATHER), True), (str(JSONC), False)]
    assert results[0]["warnings"][0]["code"] == "routing-model-incomplete"
    assert results[1]["errors"][0] == {
        "level": "error",
        "code": "json-comment",
        "message": results[1]["errors"][0]["message"],
        "path": "$",
        "line": 6,
        "column": 41,
    }


def run_manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "validate_flow", *args],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )


LINE = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<level>error|warning): .+ \[\$\S*\]$"
)


def test_the_command_line_exits_0_for_the_examples():
    done = run_manage(str(HOTEL), str(BUS), str(WEATHER))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if LINE.match(line)]
    assert len(lines) == 4 and all(LINE.match(line)["level"] == "warning" for line in lines)


def test_the_command_line_exits_1_when_a_file_has_an_error():
    done = run_manage(str(HOTEL), str(JSONC))
    assert done.returncode == 1
    assert f"{JSONC}:6:41: error: JSON has no comments: remove the comment on line 6" in done.stdout
    assert "1 of 2 files have errors" in done.stderr


def test_the_command_line_exits_2_for_a_missing_file():
    done = run_manage("does-not-exist.flow.json")
    assert done.returncode == 2
    assert "does-not-exist.flow.json: cannot read the file" in done.stderr
