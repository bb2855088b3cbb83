"""Flow JSON validation: every check and every bad input, as the person fixing the JSON sees it.

Most tests start from one of the fixture Flows (valid, no messages at all) and break exactly one
thing, so a test can't pass because something else went wrong.
"""

from __future__ import annotations

import json

import pytest

from flowsadmin.flowjson import (
    FROZEN_VERSIONS,
    KNOWN_VERSIONS,
    MAX_TEXT_CHARS,
    is_publishable,
    validate,
)

from .flowjson_support import (
    BUS,
    FIXTURES,
    HOTEL,
    JSONC,
    WEATHER,
    check,
    children,
    codes,
    endpoint_flow,
    footer,
    line_of,
    only,
    static_flow,
)

# --- the fixtures and the example flows --------------------------------------------------------


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


def test_an_unknown_component_type_is_an_error_as_meta_refuses_it():
    flow = static_flow()
    children(flow, 0).insert(1, {"type": "StarRating", "name": "stars"})
    report = check(flow)
    error = only(report, "unknown-component")
    assert error.level == "error" and error.path == "$.screens[0].layout.children[1].type"
    assert 'Unknown component type "StarRating"' in error.message
    assert "placeholder" in error.message


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


def test_text_over_meta_limits_is_an_error():
    flow = static_flow()
    children(flow, 0)[1]["label"] = "Your e-mail address, please"
    error = only(check(flow), "text-too-long")
    assert error.level == "error"
    assert "is 27 characters long; Meta allows at most 20" in error.message


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
    assert "is 21 characters long; Meta allows at most 20" in too_long.message
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
