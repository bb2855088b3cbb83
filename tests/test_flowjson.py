"""Flow JSON validation: every check and every bad input, as the person fixing the JSON sees it.

Most tests start from one of the fixture Flows (valid, no messages at all) and break exactly one
thing, so a test can't pass because something else went wrong.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from django.core.management import CommandError, call_command

from flowsadmin import flowjson
from flowsadmin.flowjson import (
    FROZEN_VERSIONS,
    KNOWN_VERSIONS,
    MAX_TEXT_CHARS,
    Message,
    Report,
    format_message,
    is_publishable,
    validate,
)

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
    """CONTACT --data_exchange--> DONE, with data_api_version and routing_model (reference §11)."""
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


# --- the fixtures and the product document's examples -------------------------------------------


@pytest.mark.parametrize("name", ["two-screens.flow.json", "endpoint.flow.json"])
def test_the_fixture_flows_have_no_messages_at_all(name):
    report = validate((FIXTURES / name).read_text(encoding="utf-8"))
    assert report.messages == []
    assert report.ok and report.publishable and report.version == "7.3"
    assert report.data["screens"][0]["id"] == "CONTACT"


@pytest.mark.parametrize(
    ("path", "warnings"),
    [
        (HOTEL, []),
        (
            BUS,
            [
                ("routing-model-incomplete", "$.routing_model"),
                ("data-declaration-incomplete", "$.screens[1].data.selected_seats"),
                ("data-declaration-incomplete", "$.screens[2].data.selected_seats"),
            ],
        ),
        (WEATHER, [("routing-model-incomplete", "$.routing_model")]),
    ],
    ids=["hotel", "bus", "weather"],
)
def test_the_three_example_flows_have_no_errors_and_only_true_warnings(path, warnings):
    report = validate(path.read_text(encoding="utf-8"))
    assert report.errors == []
    assert [(m.code, m.path) for m in report.warnings] == warnings


def test_the_weather_example_is_told_which_terminal_screens_routing_model_leaves_out():
    warning = only(validate(WEATHER.read_text(encoding="utf-8")), "routing-model-incomplete")
    assert warning.level == "warning" and (warning.line, warning.column) == (4, 3)
    assert '"YOUR_AGE": [], "TODAYS_WEATHER": []' in warning.message


def test_non_ascii_option_ids_are_fine_and_columns_count_characters():
    text = HOTEL.read_text(encoding="utf-8")
    assert validate(text).ok
    # Break the line right after a star-studded id: the column counts characters, not bytes.
    star_id = '"id": "0_★★★★★_•_Excellent_(5/5)",'
    broken = text.replace(star_id, star_id + ' "enabled": 3,', 1)
    error = only(validate(broken), "wrong-type")
    assert error.path == "$.screens[1].layout.children[0].children[1].data-source[0].enabled"
    line = broken.splitlines()[error.line - 1]
    assert line[error.column - 1 :].startswith('"enabled": 3')


def test_html_and_script_in_titles_are_just_text():
    flow = static_flow()
    flow["screens"][0]["title"] = "<script>alert('hi')</script><b>Welcome</b>"
    children(flow, 0)[0]["text"] = "<img src=x onerror=alert(1)>"
    assert check(flow).messages == []


# --- syntax -------------------------------------------------------------------------------------


def test_the_jsonc_example_is_rejected_naming_its_comment_line():
    report = validate(JSONC.read_text(encoding="utf-8"))
    error = only(report, "json-comment")
    assert (error.line, error.column) == (6, 41)
    assert error.message.startswith("JSON has no comments: remove the comment on line 6")
    assert report.data is None and not report.ok


def test_every_comment_line_is_named():
    text = '{\n  // first\n  "version": "7.3", /* second */\n  "screens": [] // third\n}'
    error = only(validate(text), "json-comment")
    assert error.line == 2
    assert "on line 2 (and the ones on lines 3, 4)" in error.message


@pytest.mark.parametrize(
    ("text", "code", "line", "column", "words"),
    [
        ('{\n  "version": "7.3",\n  "screens": [],\n}', "json-trailing-comma", 3, 16,
         "Trailing comma on line 3"),
        ('{"screens": [1, 2,\n]}', "json-trailing-comma", 1, 18, "Remove this comma"),
        ('{\n  “version”: "7.3"\n}', "json-smart-quote", 2, 3, "Smart quote “ on line 2"),
        ('{\n  "version": ”7.3”\n}', "json-smart-quote", 2, 14, 'straight double quotes (")'),
        ("{'version': '7.3'}", "json-single-quote", 1, 2, "not single quotes"),
        ('{\n  version: "7.3"\n}', "json-unquoted-key", 2, 3, 'write "version" instead of version'),
        ('{"terminal": True}', "json-bare-word", 1, 14, "write true instead of True"),
        ('{"a": NaN}', "json-syntax", 1, 7, "NaN on line 1 is not a JSON value"),
        ('{\n  "a": 1\n  "b": 2\n}', "json-missing-comma", 2, 9, "A comma is missing on line 2"),
        ('{\n  "screens": [\n', "json-truncated", 3, 1, "stops before it is complete"),
        ('{"a": 1} {"b": 2}', "json-extra-data", 1, 10, "More text follows"),
        ('{"a": "two\nlines"}', "json-control-character", 1, 11, "write line breaks as \\n"),
        ('{"a": "C:\\path"}', "json-bad-escape", 1, 10, "write \\\\ for a backslash"),
    ],
    ids=["trailing-comma-object", "trailing-comma-list", "smart-quotes-key", "smart-quotes-value",
         "single-quotes", "unquoted-key", "python-true", "nan", "missing-comma", "truncated",
         "two-objects", "line-break-in-string", "bad-escape"],
)  # fmt: skip
def test_syntax_errors_point_at_the_culprit_in_plain_words(text, code, line, column, words):
    report = validate(text)
    error = only(report, code)
    assert (error.level, error.path, error.line, error.column) == ("error", "$", line, column)
    assert words in error.message
    assert report.data is None


def test_a_bom_is_ignored_with_a_warning_and_positions_stay_right():
    flow = static_flow()
    flow["screens"][0]["title"] = ""
    text = "\ufeff" + json.dumps(flow, indent=2)
    report = validate(text)
    bom = only(report, "bom")
    assert bom.level == "warning" and "save the file as UTF-8 without BOM" in bom.message
    blank = only(report, "blank-text")  # a title "" on 7.3: the only error
    assert blank.line == line_of(text, '"title": ""')
    assert report.data["version"] == "7.3"


def test_empty_input_says_what_to_paste():
    for text in ("", "  \n\t "):
        error = only(validate(text), "empty")
        assert error.message == "The Flow JSON is empty: paste the JSON from Meta's Flow builder."


@pytest.mark.parametrize("text", ["[]", '[{"version": "7.3"}]', '"a flow"', "42", "null", "true"])
def test_a_top_level_that_is_not_an_object_is_refused(text):
    error = only(validate(text), "not-an-object")
    assert 'must be one object {...} with "version" and "screens"' in error.message
    assert (error.line, error.column) == (1, 1)


def test_deeply_nested_arrays_are_reported_not_crashed_on():
    report = validate("[" * 100_000)
    error = only(report, "nested-too-deeply")
    assert (error.line, error.column) == (1, 101)
    assert "nested too deeply" in error.message


def test_a_deep_but_parseable_payload_does_not_crash_the_checks():
    flow = static_flow()
    deep: dict = {"leaf": "${form.nope}"}
    for _ in range(400):
        deep = {"next": deep}
    footer(flow, 0)["on-click-action"]["payload"]["deep"] = deep
    report = check(flow)
    assert set(codes(report)) == {"unknown-form-field", "navigate-payload-undeclared"}


def test_5_mb_of_json_validates_and_an_error_at_the_end_has_the_right_line():
    flow = static_flow()
    options = [{"id": f"option_{n}", "title": f"Option number {n}"} for n in range(60_000)]
    flow["screens"][0]["data"]["options"] = {
        "type": "array",
        "items": {"type": "object", "properties": {"id": {"type": "string"}}},
        "__example__": options,
    }
    footer(flow, 1)["on-click-action"]["payload"]["ct-up"] = {"Age": 42}
    text = json.dumps(flow, indent=2)
    assert len(text) > 5_000_000

    report = validate(text)
    error = only(report, "ct-up-value-not-text")
    assert error.line == line_of(text, '"Age": 42') > 200_000
    assert len(report.errors) == 1 and report.warnings == []


def test_text_beyond_the_size_limit_is_refused_before_parsing():
    error = only(validate(" " * (MAX_TEXT_CHARS + 1)), "too-large")
    assert "the limit is 10 million" in error.message


# --- versions -----------------------------------------------------------------------------------


def test_an_unknown_version_lists_the_supported_ones():
    flow = static_flow()
    flow["version"] = "8.0"
    error = only(check(flow), "unknown-version")
    assert error.path == "$.version"
    assert 'Version "8.0" is not a Flow JSON version' in error.message
    assert ", ".join(KNOWN_VERSIONS) in error.message


def test_a_version_written_as_a_number_is_told_to_use_quotes():
    flow = static_flow()
    flow["version"] = 7.3
    report = check(flow)
    assert codes(report) == ["version-not-text"]
    assert 'write "version": "7.3" with quotes' in report.errors[0].message


def test_a_frozen_version_is_a_warning_that_says_it_can_be_sent_but_not_published():
    flow = static_flow()
    flow["version"] = "5.0"
    report = check(flow)
    warning = only(report, "frozen-version")
    assert warning.level == "warning" and warning.path == "$.version"
    assert "can be kept and sent, but Meta no longer lets you publish it or update it" in (
        warning.message
    )
    assert report.ok and not report.publishable


@pytest.mark.parametrize("version", KNOWN_VERSIONS)
def test_is_publishable_follows_the_frozen_list(version):
    assert is_publishable(version) is (version not in FROZEN_VERSIONS)


def test_is_publishable_refuses_unknown_versions():
    assert not is_publishable("8.0") and not is_publishable("")


# --- components ---------------------------------------------------------------------------------


def test_an_unknown_component_type_is_a_warning_not_an_error():
    flow = static_flow()
    children(flow, 0).insert(1, {"type": "StarRating", "name": "stars"})
    report = check(flow)
    warning = only(report, "unknown-component")
    assert report.ok and warning.path == "$.screens[0].layout.children[1].type"
    assert 'Unknown component type "StarRating"' in warning.message
    assert "placeholder" in warning.message


def test_a_component_newer_than_the_flow_version_names_the_version_that_introduced_it():
    flow = static_flow()
    flow["version"] = "6.2"
    children(flow, 0)[2]["type"] = "ChipsSelector"
    error = only(check(flow), "component-too-new")
    assert error.path == "$.screens[0].layout.children[2].type"
    assert error.message.startswith(
        "ChipsSelector was introduced in Flow JSON version 6.3, but this Flow is version 6.2"
    )


def test_a_footer_without_its_action_is_told_what_to_add():
    flow = static_flow()
    del footer(flow, 1)["on-click-action"]
    report = check(flow)
    error = only(report, "missing-property")
    assert error.path == "$.screens[1].layout.children[1]"
    assert error.message.startswith('Footer on screen "DONE" has no "on-click-action": add')


def test_an_input_without_a_label_is_an_error():
    flow = static_flow()
    del children(flow, 0)[1]["label"]
    error = only(check(flow), "missing-property")
    assert 'TextInput "email" on screen "CONTACT" has no "label"' in error.message


def test_a_navigate_action_without_next_is_an_error():
    flow = static_flow()
    del footer(flow, 0)["on-click-action"]["next"]
    error = only(check(flow), "missing-property")
    assert error.path == "$.screens[0].layout.children[3].on-click-action"
    assert '"on-click-action" of Footer on screen "CONTACT" has no "next"' in error.message


def test_a_value_meta_does_not_accept_lists_the_ones_it_does():
    flow = static_flow()
    children(flow, 0)[1]["input-type"] = "emial"
    error = only(check(flow), "invalid-value")
    assert error.path == "$.screens[0].layout.children[1].input-type"
    assert '"input-type" of TextInput "email" on screen "CONTACT" is "emial"' in error.message
    assert '"email"' in error.message and '"passcode"' in error.message


def test_the_layout_type_must_be_single_column():
    flow = static_flow()
    flow["screens"][0]["layout"]["type"] = "TwoColumnLayout"
    error = only(check(flow), "invalid-value")
    assert error.path == "$.screens[0].layout.type"
    assert 'use "SingleColumnLayout"' in error.message


def test_a_wrong_type_says_what_is_expected():
    flow = static_flow()
    children(flow, 0)[1]["required"] = "yes please"  # a string may be a ${...} reference
    children(flow, 0)[1]["min-chars"] = 2.5
    error = only(check(flow), "wrong-type")
    assert error.path == "$.screens[0].layout.children[1].min-chars"
    assert 'must be a whole number or a "${...}" reference, not a number' in error.message


def test_text_over_meta_limits_is_a_warning():
    flow = static_flow()
    children(flow, 0)[1]["label"] = "Your e-mail address, please"
    warning = only(check(flow), "text-too-long")
    assert warning.level == "warning"
    assert "is 27 characters long; Meta allows 20" in warning.message


def test_a_number_too_large_for_a_float_is_a_number_but_not_a_whole_one():
    flow = static_flow()
    children(flow, 0).insert(0, {"type": "Image", "src": "x", "aspect-ratio": 1.5, "width": 2})
    # Python reads 1e400 as infinity: still a number for JSON Schema, though not a whole number.
    text = json.dumps(flow, indent=2).replace("1.5", "1e400").replace(": 2\n", ": -1e400\n")
    report = validate(text)
    assert [m.code for m in report.messages] == ["wrong-type"]
    assert report.errors[0].path == "$.screens[0].layout.children[0].width"
    assert report.errors[0].message == (
        '"width" of Image on screen "CONTACT" must be a whole number or a "${...}" reference, '
        "not a number."
    )


def test_a_lone_surrogate_escape_is_checked_like_any_other_character():
    # A "\ud83d" escape cut from its pair: the schema check sees text of the same length.
    flow = endpoint_flow()
    children(flow, 0)[0]["label"] = "\ud83d" + "x" * 20
    flow["routing_model"]["X\ud83d"] = "DONE"
    report = validate(json.dumps(flow, indent=2))
    too_long = only(report, "text-too-long")
    assert too_long.path == "$.screens[0].layout.children[0].label"
    assert "is 21 characters long; Meta allows 20" in too_long.message
    wrong = only(report, "wrong-type")
    assert wrong.path == "$.routing_model.X\ud83d"
    assert wrong.message == '"X\ud83d" of routing_model must be a list [...], not text.'


def test_an_unknown_property_is_a_warning_naming_the_known_ones():
    flow = static_flow()
    children(flow, 0)[1]["initial-text"] = "me@example.com"
    warning = only(check(flow), "unknown-property")
    assert warning.path == "$.screens[0].layout.children[1].initial-text"
    assert 'TextInput has no property "initial-text"' in warning.message
    assert "init-value" in warning.message


def test_blank_text_is_refused_from_version_6():
    flow = static_flow()
    children(flow, 0)[0]["text"] = "   "
    error = only(check(flow), "blank-text")
    assert "from version 6.0 Meta refuses empty or blank text" in error.message
    flow["version"] = "5.1"
    assert codes(check(flow)) == []


def test_inputs_must_sit_in_a_form_before_version_4():
    flow = static_flow()
    flow["version"] = "3.1"
    report = check(flow)
    errors = [m for m in report.errors if m.code == "input-outside-form"]
    assert [m.path for m in errors] == [
        "$.screens[0].layout.children[1]",
        "$.screens[0].layout.children[2]",
    ]
    assert "wrap the inputs in" in errors[0].message

    screen = flow["screens"][0]["layout"]
    screen["children"] = [{"type": "Form", "name": "form", "children": screen["children"]}]
    assert check(flow).errors == []


# --- screens and navigation ---------------------------------------------------------------------


def test_duplicate_screen_ids_are_an_error_on_the_second_one():
    flow = static_flow()
    flow["screens"][1]["id"] = "CONTACT"
    error = only(check(flow), "duplicate-screen-id")
    assert error.path == "$.screens[1].id"
    assert 'Screen id "CONTACT" is already used by screen 1' in error.message


def test_success_is_a_reserved_screen_id():
    flow = static_flow()
    flow["screens"][1]["id"] = "SUCCESS"
    footer(flow, 0)["on-click-action"]["next"]["name"] = "SUCCESS"
    error = only(check(flow), "reserved-screen-id")
    assert error.path == "$.screens[1].id"


def test_a_navigate_to_a_missing_screen_names_the_existing_ones():
    text = (FIXTURES / "unknown-navigate-target.flow.json").read_text(encoding="utf-8")
    error = only(validate(text), "unknown-navigate-target")
    assert error.path == "$.screens[0].layout.children[3].on-click-action.next.name"
    assert (error.line, error.column) == (line_of(text, '"name": "THANKS"'), 17)
    assert error.message == (
        'Screen "CONTACT" navigates to screen "THANKS", which does not exist: use one of '
        "CONTACT, DONE."
    )


def test_a_navigate_payload_must_match_the_target_screen_data():
    flow = static_flow()
    footer(flow, 0)["on-click-action"]["payload"]["phone"] = "${form.email}"
    error = only(check(flow), "navigate-payload-undeclared")
    assert error.path == "$.screens[0].layout.children[3].on-click-action.payload.phone"


def test_complete_only_on_terminal_screens():
    flow = static_flow()
    flow["screens"][0]["terminal"] = False
    flow["screens"][1]["terminal"] = False
    report = check(flow)
    assert only(report, "complete-on-non-terminal-screen").path.startswith("$.screens[1]")
    assert only(report, "no-terminal-screen").path == "$.screens"


def test_a_terminal_screen_needs_a_footer():
    flow = static_flow()
    flow["screens"][0]["terminal"] = True
    flow["screens"][1]["layout"]["children"].pop()  # DONE loses its Footer
    error = only(check(flow), "terminal-without-footer")
    assert error.path == "$.screens[1].terminal"
    assert '"type": "Footer"' in error.message


def test_one_footer_per_screen():
    flow = static_flow()
    children(flow, 1).append(copy.deepcopy(footer(flow, 1)))
    assert only(check(flow), "more-than-one-footer").path == "$.screens[1].layout.children[2]"


def test_actions_are_refused_where_meta_does_not_allow_them():
    flow = static_flow()
    children(flow, 0)[2]["on-select-action"] = {
        "name": "navigate",
        "next": {"type": "screen", "name": "DONE"},
    }
    error = only(check(flow), "action-not-allowed-here")
    assert "can't be the on-select-action of a RadioButtonsGroup" in error.message


def test_an_action_newer_than_the_version_is_an_error():
    flow = static_flow()
    flow["version"] = "5.1"
    children(flow, 0)[2]["on-select-action"] = {"name": "update_data", "payload": {}}
    assert "introduced in version 6.0" in only(check(flow), "action-too-new").message


# --- the routing model --------------------------------------------------------------------------


def test_a_cycle_in_the_routing_model_is_an_error_saying_meta_rejects_it():
    flow = endpoint_flow()
    flow["routing_model"]["DONE"] = ["CONTACT"]
    error = only(check(flow), "routing-cycle")
    assert error.path == "$.routing_model.DONE[0]"
    assert "cycle: CONTACT → DONE → CONTACT" in error.message
    assert "Meta rejects routing models with cycles" in error.message


def test_the_routing_model_must_agree_with_the_navigations():
    flow = static_flow()
    flow["routing_model"] = {"CONTACT": [], "DONE": []}
    error = only(check(flow), "navigate-not-in-routing-model")
    assert error.path == "$.screens[0].layout.children[3].on-click-action.next.name"
    assert 'routing_model["CONTACT"] does not list it' in error.message

    flow["routing_model"]["CONTACT"] = ["DONE"]
    assert check(flow).messages == []


def test_the_routing_model_names_only_real_screens():
    flow = endpoint_flow()
    flow["routing_model"]["CONTACT"].append("PAYMENT")
    flow["routing_model"]["CHECKOUT"] = []
    report = check(flow)
    assert sorted(m.path for m in report.errors if m.code == "routing-unknown-screen") == [
        "$.routing_model.CHECKOUT",
        "$.routing_model.CONTACT[1]",
    ]


def test_a_screen_missing_from_the_routing_model_is_a_warning():
    flow = endpoint_flow()
    del flow["routing_model"]["DONE"]
    warning = only(check(flow), "routing-model-incomplete")
    assert warning.level == "warning" and '"DONE": []' in warning.message


def test_a_next_screen_the_routing_model_does_not_allow_is_a_warning():
    flow = endpoint_flow()
    footer(flow, 0)["on-click-action"]["payload"]["next_screen"] = "NOWHERE"
    assert only(check(flow), "unknown-next-screen").level == "warning"


# --- references ---------------------------------------------------------------------------------


def test_an_undeclared_data_reference_is_an_error():
    flow = static_flow()
    children(flow, 1)[0]["text"] = "`'Thanks ' ${data.name}`"
    error = only(check(flow), "undeclared-data")
    assert error.path == "$.screens[1].layout.children[0].text"
    assert '"${data.name}" on screen "DONE": the screen does not declare "name"' in error.message
    assert "it declares email, topic" in error.message


def test_a_form_reference_must_name_an_input_on_that_screen():
    flow = static_flow()
    footer(flow, 0)["on-click-action"]["payload"]["email"] = "${form.e_mail}"
    error = only(check(flow), "unknown-form-field")
    assert error.path == "$.screens[0].layout.children[3].on-click-action.payload.email"
    assert 'there is no input named "e_mail" on this screen (inputs: email, topic)' in (
        error.message
    )


def test_form_references_on_a_terminal_screen_do_not_see_earlier_screens():
    flow = static_flow()
    footer(flow, 1)["on-click-action"]["payload"]["email"] = "${form.email}"
    assert only(check(flow), "unknown-form-field").path.startswith("$.screens[1]")


def test_global_references_must_name_real_screens_and_fields():
    flow = static_flow()
    payload = footer(flow, 1)["on-click-action"]["payload"]
    payload["email"] = "${screen.CONTACT.form.email}"
    assert check(flow).messages == []
    payload["email"] = "${screen.START.form.email}"
    assert 'names screen "START"' in only(check(flow), "unknown-screen-reference").message
    payload["email"] = "${screen.CONTACT.data.email}"
    assert only(check(flow), "undeclared-data").path.endswith("payload.email")


# --- the endpoint keys --------------------------------------------------------------------------


def test_data_exchange_without_data_api_version_is_an_error():
    flow = endpoint_flow()
    del flow["data_api_version"]
    error = only(check(flow), "data-exchange-without-data-api-version")
    assert error.path == "$.screens[0].layout.children[1].on-click-action.name"
    assert 'add "data_api_version": "3.0"' in error.message


def test_data_api_version_needs_a_routing_model():
    flow = endpoint_flow()
    del flow["routing_model"]
    assert only(check(flow), "missing-routing-model").path == "$.data_api_version"


def test_data_api_version_without_any_data_exchange_is_unnecessary():
    flow = static_flow()
    flow["data_api_version"] = "3.0"
    flow["routing_model"] = {"CONTACT": ["DONE"], "DONE": []}
    warning = only(check(flow), "unnecessary-data-api-version")
    assert warning.level == "warning" and check(flow).ok


def test_data_channel_uri_is_refused_from_version_3():
    flow = endpoint_flow()
    flow["data_channel_uri"] = "https://example.com/flow"
    assert (
        "not allowed from version 3.0" in only(check(flow), "data-channel-uri-not-allowed").message
    )


# --- CleverTap's ct-evt and ct-up ---------------------------------------------------------------


def test_ct_evt_without_evt_name_is_an_error():
    flow = static_flow()
    del footer(flow, 1)["on-click-action"]["payload"]["ct-evt"]["evtName"]
    error = only(check(flow), "ct-evt-missing-name")
    assert error.path == "$.screens[1].layout.children[1].on-click-action.payload.ct-evt"
    assert '"ct-evt" has no "evtName"' in error.message


def test_ct_evt_with_an_empty_evt_name_is_an_error():
    flow = static_flow()
    footer(flow, 1)["on-click-action"]["payload"]["ct-evt"]["evtName"] = ""
    assert only(check(flow), "ct-evt-missing-name").path.endswith("ct-evt.evtName")


def test_ct_evt_with_non_object_evt_data_is_an_error():
    flow = static_flow()
    footer(flow, 1)["on-click-action"]["payload"]["ct-evt"]["evtData"] = ["topic"]
    error = only(check(flow), "ct-evt-data-not-object")
    assert error.path.endswith("ct-evt.evtData")
    assert '"evtData" is a list, but it must be an object' in error.message


def test_ct_up_with_values_that_are_not_text_is_an_error():
    flow = endpoint_flow()
    footer(flow, 0)["on-click-action"]["payload"]["ct-up"] = {
        "Email": "${form.email}",
        "Age": 42,
        "Tags": ["a"],
    }
    report = check(flow)
    assert [m.path.rsplit(".", 1)[1] for m in report.errors] == ["Age", "Tags"]
    assert {m.code for m in report.errors} == {"ct-up-value-not-text"}


def test_ct_up_must_be_an_object():
    flow = endpoint_flow()
    footer(flow, 0)["on-click-action"]["payload"]["ct-up"] = "${form.email}"
    assert only(check(flow), "ct-up-not-object").level == "error"


def test_ct_keys_in_a_navigate_payload_are_a_warning_they_are_never_ingested():
    flow = static_flow()
    payload = footer(flow, 0)["on-click-action"]["payload"]
    payload["ct-evt"] = {"evtName": "Step one", "evtData": {}}
    payload["ct-up"] = {"Email": "${form.email}"}
    report = check(flow)
    assert report.ok
    assert [m.code for m in report.warnings] == ["ct-key-not-ingested"] * 2
    assert "never ingested" in report.warnings[0].message


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


@pytest.mark.parametrize("kind", [["string"], {"type": "string"}], ids=["list", "object"])
def test_a_data_field_whose_type_is_not_a_string_is_reported_not_a_crash(kind):
    flow = endpoint_flow()
    flow["screens"][0]["data"] = {"x": {"type": kind, "__example__": "a"}}
    report = check(flow)
    assert not report.ok
    assert any("/data/x" in message.path or "data.x" in message.path for message in report.errors)
