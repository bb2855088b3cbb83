"""The Flow JSON rules Meta enforces (issue 13): each with a Flow that breaks it and the nearest valid
Flow that does not, so no rule over-reaches. Every broken Flow is the valid fixture with one change."""

from __future__ import annotations

import copy
import json

import pytest

from flowsadmin.flowjson import validate

from .flowjson_support import check, children, codes, endpoint_flow, footer, only, static_flow


def _clean(flow: dict) -> None:
    report = check(flow)
    assert report.errors == [] and report.warnings == [], report.messages


def _link(n: int) -> dict:
    return {"type": "EmbeddedLink", "text": f"Link {n}", "on-click-action": _to_done()}


def _to_done() -> dict:
    return {
        "name": "navigate",
        "next": {"type": "screen", "name": "DONE"},
        "payload": {"email": "${form.email}", "topic": "${form.topic}"},
    }


def _if(then: list, otherwise: list | None = None) -> dict:
    component = {"type": "If", "condition": "${form.email} != ''", "then": then}
    if otherwise is not None:
        component["else"] = otherwise
    return component


# --- per-screen component counts, through If and Switch ---------------------------------------


@pytest.mark.parametrize(
    ("ctype", "limit", "make"),
    [
        ("EmbeddedLink", 2, _link),
        ("Image", 3, lambda n: {"type": "Image", "src": "aGVsbG8=", "alt-text": f"Picture {n}"}),
        ("OptIn", 5, lambda n: {"type": "OptIn", "name": f"opt_{n}", "label": f"Option {n}"}),
    ],
)
def test_a_screen_holds_at_most_metas_count_of_each_component(ctype, limit, make):
    flow = static_flow()
    for n in range(limit):
        children(flow, 0).insert(1, make(n))
    _clean(flow)  # at the limit
    children(flow, 0).insert(1, make(limit))
    error = only(check(flow), "too-many-components")
    assert error.level == "error"
    assert f"shows {limit + 1} {ctype} components at once; Meta allows at most {limit}" in (
        error.message
    )
    assert error.path.startswith("$.screens[0].layout.children[")


def test_components_in_the_two_branches_of_an_if_count_once_but_beside_it_they_add_up():
    flow = static_flow()
    children(flow, 0).insert(1, _if([_link(1), _link(2)], [_link(3), _link(4)]))
    _clean(flow)  # two links show at a time
    children(flow, 0).insert(1, _link(5))
    error = only(check(flow), "too-many-components")
    assert "shows 3 EmbeddedLink components at once" in error.message


def test_a_footer_beside_an_if_with_footers_is_a_second_footer():
    flow = static_flow()
    done = footer(flow, 0)
    children(flow, 0)[-1] = _if([copy.deepcopy(done)], [copy.deepcopy(done)])
    _clean(flow)  # the Footer in both branches: one Footer on screen
    children(flow, 0).append(copy.deepcopy(done))
    error = only(check(flow), "more-than-one-footer")
    assert error.level == "error"


def test_a_footer_in_only_one_branch_of_an_if_is_an_error():
    flow = static_flow()
    done = footer(flow, 0)
    children(flow, 0)[-1] = _if([copy.deepcopy(done)], [copy.deepcopy(done)])
    _clean(flow)
    children(flow, 0)[-1]["else"] = [{"type": "TextBody", "text": "No footer here"}]
    error = only(check(flow), "footer-not-in-every-branch")
    assert error.path == "$.screens[0].layout.children[3].else"
    assert 'Add a Footer to "else"' in error.message
    del children(flow, 0)[-1]["else"]  # no else at all: same rule, pointing at the If
    assert "footer-not-in-every-branch" in codes(check(flow))


def test_a_footer_in_some_cases_of_a_switch_is_an_error():
    flow = static_flow()
    done = footer(flow, 0)
    switch = {
        "type": "Switch",
        "value": "${form.topic}",
        "cases": {"sales": [copy.deepcopy(done)], "support": [copy.deepcopy(done)]},
    }
    children(flow, 0)[-1] = switch
    _clean(flow)
    switch["cases"]["support"] = [{"type": "TextBody", "text": "Call us"}]
    error = only(check(flow), "footer-not-in-every-branch")
    assert error.path == "$.screens[0].layout.children[3].cases.support"


def test_a_footer_in_a_nested_if_is_an_error():
    flow = static_flow()
    done = footer(flow, 0)
    children(flow, 0)[-1] = _if([copy.deepcopy(done)], [copy.deepcopy(done)])
    _clean(flow)
    inner = _if([copy.deepcopy(done)], [copy.deepcopy(done)])
    children(flow, 0)[-1] = _if([inner], [copy.deepcopy(done)])
    error = only(check(flow), "footer-in-nested-if")
    assert error.path == "$.screens[0].layout.children[3].then[0].then[0]"


def test_an_empty_then_or_switch_case_is_an_error():
    flow = static_flow()
    text = {"type": "TextBody", "text": "Hello"}
    children(flow, 0).insert(1, _if([dict(text)]))
    children(flow, 0).insert(
        1, {"type": "Switch", "value": "${form.topic}", "cases": {"a": [text]}}
    )
    _clean(flow)
    children(flow, 0)[2]["then"] = []
    children(flow, 0)[1]["cases"]["b"] = []
    report = check(flow)
    paths = sorted(m.path for m in report.errors if m.code == "empty-branch")
    assert paths == [
        "$.screens[0].layout.children[1].cases.b",
        "$.screens[0].layout.children[2].then",
    ]
    children(flow, 0)[1]["cases"] = {}
    assert "has no cases" in " ".join(m.message for m in check(flow).errors)


def test_if_nests_at_most_three_deep():
    flow = static_flow()
    leaf = [{"type": "TextBody", "text": "Deep"}]
    children(flow, 0).insert(1, _if([_if([_if(leaf)])]))
    _clean(flow)  # three deep
    children(flow, 0)[1] = _if([_if([_if([_if(leaf)])])])
    error = only(check(flow), "if-nested-too-deeply")
    assert error.path == "$.screens[0].layout.children[1].then[0].then[0].then[0].type"


# --- the journey: screens, success, reachability -----------------------------------------------


def _chain(n: int) -> dict:
    ids = ["S_" + "".join("ABCDEFGHIJ"[int(d)] for d in f"{i:03}") for i in range(n)]
    screens = []
    for i, sid in enumerate(ids):
        last = i == n - 1
        action = (
            {"name": "complete", "payload": {}}
            if last
            else {"name": "navigate", "next": {"type": "screen", "name": ids[i + 1]}, "payload": {}}
        )
        screens.append(
            {
                "id": sid,
                "title": f"Step {i + 1}",
                "terminal": last,
                "layout": {
                    "type": "SingleColumnLayout",
                    "children": [{"type": "Footer", "label": "Next", "on-click-action": action}],
                },
            }
        )
    return {"version": "7.3", "screens": screens}


def test_a_flow_has_at_most_100_screens():
    _clean(_chain(100))
    error = only(check(_chain(101)), "too-many-screens")
    assert error.path == "$.screens[100]"
    assert "101 screens; Meta allows at most 100" in error.message


def test_success_only_on_terminal_screens():
    flow = static_flow()
    flow["screens"][1]["success"] = True
    _clean(flow)
    flow["screens"][0]["success"] = True
    error = only(check(flow), "success-on-non-terminal-screen")
    assert error.path == "$.screens[0].success"


def test_at_least_one_terminal_screen_ends_in_success():
    flow = static_flow()
    flow["screens"][1]["success"] = False
    error = only(check(flow), "no-successful-ending")
    assert error.path == "$.screens[1].success"
    # A second terminal screen that succeeds (success left to its default) is enough.
    extra = copy.deepcopy(flow["screens"][1])
    extra["id"] = "WELL_DONE"
    del extra["success"]
    flow["screens"].append(extra)
    children(flow, 0).insert(
        1,
        {
            **_link(1),
            "on-click-action": {**_to_done(), "next": {"type": "screen", "name": "WELL_DONE"}},
        },
    )
    _clean(flow)


def test_every_screen_can_be_reached():
    flow = static_flow()
    orphan = copy.deepcopy(flow["screens"][1])
    orphan["id"] = "ORPHAN"
    flow["screens"].append(orphan)
    error = only(check(flow), "unreachable-screen")
    assert error.path == "$.screens[2].id"
    assert 'add a navigate action to "ORPHAN"' in error.message
    children(flow, 0).insert(
        1,
        {
            **_link(1),
            "on-click-action": {**_to_done(), "next": {"type": "screen", "name": "ORPHAN"}},
        },
    )
    _clean(flow)


def test_in_an_endpoint_flow_every_screen_without_an_inbound_route_is_an_entry():
    flow = endpoint_flow()
    _clean(flow)
    # DONE reachable only from itself is a cycle (routing.py) and unreachable.
    flow["routing_model"] = {"CONTACT": [], "DONE": ["DONE"]}
    report = check(flow)
    assert "routing-cycle" in codes(report) and "unreachable-screen" in codes(report)


def test_a_navigate_to_its_own_screen_is_refused():
    flow = static_flow()
    children(flow, 0).insert(1, _link(1))
    _clean(flow)
    children(flow, 0)[1]["on-click-action"]["next"]["name"] = "CONTACT"
    children(flow, 0)[1]["on-click-action"]["payload"] = {}
    error = only(check(flow), "navigate-to-same-screen")
    assert error.path == "$.screens[0].layout.children[1].on-click-action.next.name"


# --- character limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "key", "limit"),
    [
        ((0, 0), "text", 80),  # TextHeading
        ((0, 1), "label", 20),  # TextInput label
        ((0, 1), "helper-text", 80),
        ((0, 2), "label", 30),  # RadioButtonsGroup label
        ((0, 2), "description", 300),
        ((0, 3), "label", 35),  # Footer label
        ((0, 3), "center-caption", 15),
    ],
)
def test_text_over_metas_component_limits_is_an_error(where, key, limit):
    flow = static_flow()
    component = children(flow, where[0])[where[1]]
    component[key] = "x" * limit
    _clean(flow)
    component[key] = "x" * (limit + 1)
    error = only(check(flow), "text-too-long")
    assert error.level == "error"
    assert f"Meta allows at most {limit}: shorten it by 1" in error.message


def test_an_option_title_over_30_characters_is_an_error():
    flow = static_flow()
    option = children(flow, 0)[2]["data-source"][0]
    option["title"] = "x" * 30
    _clean(flow)
    option["title"] = "x" * 31
    assert (
        only(check(flow), "text-too-long").path
        == "$.screens[0].layout.children[2].data-source[0].title"
    )


def test_min_chars_above_max_chars_is_an_error():
    flow = static_flow()
    text_input = children(flow, 0)[1]
    text_input.update({"min-chars": 5, "max-chars": 5})
    _clean(flow)
    text_input["min-chars"] = 6
    error = only(check(flow), "min-above-max")
    assert error.path == "$.screens[0].layout.children[1].min-chars"
    assert '"min-chars" (6) of TextInput' in error.message


# --- dynamic bindings typed against the data model ---------------------------------------------


def _done_with(flow: dict, name: str, declaration: dict, value: str) -> None:
    flow["screens"][1]["data"][name] = declaration
    footer(flow, 0)["on-click-action"]["payload"][name] = value


def test_a_boolean_or_number_bound_to_text_is_an_error():
    flow = static_flow()
    _done_with(flow, "vip", {"type": "boolean", "__example__": True}, "true")
    _done_with(flow, "points", {"type": "number", "__example__": 12}, "12")
    _done_with(flow, "name", {"type": "string", "__example__": "Jay"}, "Jay")
    children(flow, 1).insert(0, {"type": "TextHeading", "text": "${data.name}"})
    _clean(flow)  # a string field as text
    children(flow, 1).insert(0, {"type": "TextHeading", "text": "${data.vip}"})
    children(flow, 1).insert(0, {"type": "TextSubheading", "text": "${data.points}"})
    report = check(flow)
    messages = {m.path: m.message for m in report.errors if m.code == "binding-type-mismatch"}
    assert set(messages) == {
        "$.screens[1].layout.children[0].text",
        "$.screens[1].layout.children[1].text",
    }
    assert (
        '"points" is declared "type": "number"' in messages["$.screens[1].layout.children[0].text"]
    )
    # Inside a nested expression a number may be concatenated: Meta evaluates it, we don't type it.
    children(flow, 1)[0]["text"] = "`'Points: ' ${data.points}`"
    children(flow, 1)[1]["text"] = "Welcome"
    _clean(flow)


def test_a_path_into_an_arrays_items_used_as_text_is_an_error():
    flow = static_flow()
    slots = {
        "type": "array",
        "items": {"type": "object", "properties": {"title": {"type": "string"}}},
        "__example__": [{"title": "09:00"}],
    }
    who = {
        "type": "object",
        "properties": {"first": {"type": "string"}},
        "__example__": {"first": "Jay"},
    }
    _done_with(flow, "slots", slots, "${form.topic}")
    _done_with(flow, "who", who, "${form.email}")
    children(flow, 1).insert(0, {"type": "TextHeading", "text": "${data.who.first}"})
    _clean(flow)  # a string inside an object is fine
    children(flow, 1).insert(0, {"type": "TextHeading", "text": "${data.slots.title}"})
    error = only(check(flow), "binding-type-mismatch")
    assert "a path into the item schema" in error.message


# --- what Meta treats as errors -----------------------------------------------------------------


def test_an_unknown_top_level_property_is_an_error():
    flow = static_flow()
    flow["data_api_version"] = "3.0"
    flow["routing_model"] = {"CONTACT": ["DONE"], "DONE": []}
    flow["screens"][0]["refresh_on_back"] = True
    _clean(flow)  # every top-level key known
    flow["routing"] = {}
    error = only(check(flow), "unknown-property")
    assert error.level == "error" and error.path == "$.routing"


def test_refresh_on_back_without_data_api_version_is_an_error():
    flow = endpoint_flow()
    flow["screens"][0]["refresh_on_back"] = True
    _clean(flow)
    static = static_flow()
    static["screens"][0]["refresh_on_back"] = True
    error = only(check(static), "refresh-without-endpoint")
    assert error.level == "error" and error.path == "$.screens[0].refresh_on_back"


# --- TextBody and TextCaption take a list of strings with markdown from 5.1 --------------------


@pytest.mark.parametrize("ctype", ["TextBody", "TextCaption"])
def test_a_list_of_strings_with_markdown_is_valid_from_5_1(ctype):
    flow = static_flow()
    children(flow, 0).insert(1, {"type": ctype, "markdown": True, "text": ["**One**", "Two"]})
    _clean(flow)
    flow["version"] = "5.1"
    _clean(flow)
    flow["version"] = "5.0"
    assert only(check(flow), "text-list-too-new").path == "$.screens[0].layout.children[1].text"
    flow["version"] = "7.3"
    del children(flow, 0)[1]["markdown"]
    assert "markdown" in only(check(flow), "text-list-needs-markdown").message


# --- the screen data contract at validation ----------------------------------------------------


def test_a_navigate_payload_missing_a_declared_field_is_a_warning():
    flow = static_flow()
    _clean(flow)
    del footer(flow, 0)["on-click-action"]["payload"]["topic"]
    report = check(flow)
    warning = only(report, "navigate-payload-incomplete")
    assert report.ok and warning.level == "warning"
    assert warning.path == "$.screens[0].layout.children[3].on-click-action.payload"
    assert 'does not supply "topic"' in warning.message


def test_every_message_has_a_line_a_path_and_a_fix():
    flow = static_flow()
    children(flow, 0).insert(1, _if([]))
    text = json.dumps(flow, indent=2)
    (error,) = validate(text).errors
    assert error.line == text[: text.index('"then": []')].count("\n") + 1
    assert error.path == "$.screens[0].layout.children[1].then"
    assert "Add components" in error.message
