"""Flow JSON validation of screens, navigation, the routing model, references and the ct-evt / ct-up keys:
every rule and its bad inputs, each breaking one thing in a valid fixture flow."""

from __future__ import annotations

import copy

import pytest

from flowsadmin.flowjson import (
    validate,
)

from .flowjson_support import (
    FIXTURES,
    check,
    children,
    endpoint_flow,
    footer,
    line_of,
    only,
    static_flow,
)

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


@pytest.mark.parametrize("kind", [["string"], {"type": "string"}], ids=["list", "object"])
def test_a_data_field_whose_type_is_not_a_string_is_reported_not_a_crash(kind):
    flow = endpoint_flow()
    flow["screens"][0]["data"] = {"x": {"type": kind, "__example__": "a"}}
    report = check(flow)
    assert not report.ok
    assert any("/data/x" in message.path or "data.x" in message.path for message in report.errors)
