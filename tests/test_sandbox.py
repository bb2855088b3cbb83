"""The sandbox Meta over real HTTP: Graph API calls, Meta's errors, webhooks, fault knobs, its page."""

from __future__ import annotations

import json

import requests

from sandbox.models import Flow

from .sandbox_support import (
    BROKEN_FLOW_JSON,
    FLOW_JSON,
    OTHER_PHONE_ID,
    OTHER_TOKEN,
    OTHER_WABA_ID,
    PHONE_ID,
    TOKEN,
    WABA_ID,
    Graph,
    Recorder,
    error_of,
    flow_json,
    public_pem,
    signature_is_valid,
)

# --- tokens, objects, ownership -------------------------------------------------------------------


def test_a_missing_or_wrong_token_is_refused_with_190(graph: Graph) -> None:
    for token in ("", "not-a-token"):
        response = graph.get(f"{WABA_ID}/flows", token=token)
        assert response.status_code == 401
        assert error_of(response)["code"] == 190
    assert "Invalid OAuth access token" in error_of(graph.get(WABA_ID, token="nope"))["message"]


def test_another_accounts_objects_are_forbidden(graph: Graph) -> None:
    response = graph.get(f"{OTHER_WABA_ID}/flows")
    assert response.status_code == 403
    assert error_of(response)["code"] == 200
    response = graph.post(
        f"{OTHER_PHONE_ID}/whatsapp_business_encryption", data={"business_public_key": "x"}
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == 10
    # The owner of the other account gets in with its own token.
    assert graph.get(f"{OTHER_WABA_ID}/flows", token=OTHER_TOKEN).json() == {"data": []}


def test_unknown_objects_edges_and_paths_answer_in_metas_error_shape(graph: Graph) -> None:
    response = graph.get("999999999999")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == 100 and error["type"] == "OAuthException" and error["fbtrace_id"]
    assert "Object with ID '999999999999' does not exist" in error["message"]
    assert "nonexisting field (nonsense)" in error_of(graph.get(f"{WABA_ID}/nonsense"))["message"]
    assert error_of(graph.get(WABA_ID, params={"fields": "id,colour"}))["code"] == 100
    unversioned = requests.get(graph.base.replace("/v23.0", "/latest") + f"/{WABA_ID}", timeout=5)
    assert unversioned.status_code == 400 and error_of(unversioned)["code"] == 2500


# --- flows ----------------------------------------------------------------------------------------


def test_creating_a_flow_announces_the_draft_and_names_are_unique(
    graph: Graph, recorder: Recorder
) -> None:
    # A form body with categories as a JSON-encoded string, like Meta's Postman collection sends.
    response = graph.post(
        f"{WABA_ID}/flows", data={"name": "Hotel feedback", "categories": '["SURVEY"]'}
    )
    assert response.status_code == 200
    flow_id = response.json()["id"]
    assert flow_id.isdigit() and set(response.json()) == {"id"}

    [request] = recorder.received
    assert signature_is_valid(request)
    envelope = json.loads(request["body"])
    assert envelope["object"] == "whatsapp_business_account"
    assert envelope["entry"][0]["id"] == WABA_ID and envelope["entry"][0]["time"] > 0
    [value] = recorder.values("flows")
    assert value | {"message": ""} == {
        "event": "FLOW_STATUS_CHANGE",
        "message": "",
        "flow_id": flow_id,
        "new_status": "DRAFT",
    }

    again = graph.post(f"{WABA_ID}/flows", json={"name": "Hotel feedback", "categories": ["OTHER"]})
    assert again.status_code == 400
    assert error_of(again)["code"] == 100
    assert error_of(again)["error_user_title"] == "Flow name is not unique"
    assert error_of(graph.post(f"{WABA_ID}/flows", json={"name": "No categories"}))["code"] == 100
    wrong = graph.post(f"{WABA_ID}/flows", json={"name": "Odd", "categories": ["PARTY"]})
    assert "PARTY" in error_of(wrong)["error_data"]["details"]
    assert Flow.objects.count() == 1


def test_validation_errors_name_the_line_and_path(graph: Graph) -> None:
    response = graph.post(
        f"{WABA_ID}/flows",
        json={"name": "Broken", "categories": ["OTHER"], "flow_json": BROKEN_FLOW_JSON},
    )
    body = response.json()
    assert body["success"] is True
    [error] = body["validation_errors"]
    assert error["error"] == "INVALID_PROPERTY_VALUE"
    assert error["error_type"] == "FLOW_JSON_ERROR"
    assert error["message"] == "Navigation to screen 'NOWHERE' which does not exist."
    assert (error["line_start"], error["line_end"]) == (11, 11)
    assert error["column_start"] < error["column_end"]
    assert error["pointers"][0]["path"] == "screens[0].layout.children[0].on-click-action.next.name"

    # The flow exists as a draft with Meta's verdict on it.
    flow = graph.get(body["id"], params={"fields": "status,validation_errors,json_version"}).json()
    assert flow["status"] == "DRAFT" and flow["json_version"] == "7.3"
    assert flow["validation_errors"] == body["validation_errors"]

    unknown = json.loads(flow_json())
    unknown["screens"][0]["layout"]["children"][0]["type"] = "Marquee"
    [error] = graph.upload_json(body["id"], json.dumps(unknown, indent=2)).json()[
        "validation_errors"
    ]
    assert error["message"] == "Invalid value found for property 'type'."
    assert error["pointers"][0]["path"] == "screens[0].layout.children[0].type"
    assert error["line_start"] == 11


def test_flow_json_asset_upload_refuses_broken_json_and_serves_the_asset(graph: Graph) -> None:
    flow_id = graph.create_flow()
    assert graph.get(f"{flow_id}/assets").json() == {"data": []}

    broken = graph.upload_json(flow_id, '{\n  "version": "7.2",\n  "screens": [\n}')
    assert broken.status_code == 400
    assert error_of(broken)["code"] == 139001
    assert "line 4" in error_of(broken)["error_user_msg"]

    response = graph.upload_json(flow_id, flow_json())
    assert response.json() == {"success": True, "validation_errors": []}
    [asset] = graph.get(f"{flow_id}/assets").json()["data"]
    assert asset["name"] == "flow.json" and asset["asset_type"] == "FLOW_JSON"
    download = requests.get(asset["download_url"], timeout=5)
    assert download.status_code == 200 and download.json() == FLOW_JSON

    # A clone starts from the same JSON.
    clone = graph.create_flow("Copy", clone_flow_id=flow_id)
    assert graph.get(clone, params={"fields": "json_version"}).json()["json_version"] == "7.2"


def test_flow_lists_are_paginated_with_cursors(graph: Graph) -> None:
    ids = [graph.create_flow(f"Flow {n}") for n in range(5)]
    first = graph.get(f"{WABA_ID}/flows", params={"limit": 2}).json()
    assert [f["id"] for f in first["data"]] == ids[:2]
    assert set(first["data"][0]) == {"id", "name", "status", "categories", "validation_errors"}
    assert "previous" not in first["paging"]
    second = requests.get(
        first["paging"]["next"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert [f["id"] for f in second.json()["data"]] == ids[2:4]
    last = graph.get(
        f"{WABA_ID}/flows",
        params={"limit": 2, "after": second.json()["paging"]["cursors"]["after"]},
    )
    assert [f["id"] for f in last.json()["data"]] == ids[4:]
    assert "next" not in last.json()["paging"]
    back = graph.get(
        f"{WABA_ID}/flows",
        params={"limit": 2, "before": second.json()["paging"]["cursors"]["before"]},
    )
    assert [f["id"] for f in back.json()["data"]] == ids[:2]
    assert error_of(graph.get(f"{WABA_ID}/flows", params={"after": "garbage!"}))["code"] == 100


def test_flow_details_preview_and_health(graph: Graph) -> None:
    flow_id = graph.create_flow(
        flow_json=flow_json(), endpoint_uri="https://example.org/flows/endpoint"
    )
    fields = (
        "id,name,status,categories,validation_errors,json_version,data_api_version,endpoint_uri,"
        "preview.invalidate(false),whatsapp_business_account,health_status,updated_at"
    )
    flow = graph.get(flow_id, params={"fields": fields}).json()
    assert (
        flow["id"] == flow_id
        and flow["name"] == "Hotel feedback"
        and flow["categories"] == ["SURVEY"]
    )
    assert flow["json_version"] == "7.2" and "data_api_version" not in flow
    assert flow["endpoint_uri"] == "https://example.org/flows/endpoint"
    assert flow["whatsapp_business_account"]["id"] == WABA_ID
    assert flow["health_status"]["can_send_message"] == "AVAILABLE"
    assert {e["entity_type"] for e in flow["health_status"]["entities"]} == {"FLOW", "WABA", "APP"}
    assert flow["updated_at"].endswith("+0000")
    preview = flow["preview"]
    assert preview["expires_at"].endswith("+0000")
    page = requests.get(preview["preview_url"], timeout=5)  # no login, like Meta's links
    assert page.status_code == 200 and "WELCOME" in page.text and "DONE" in page.text

    # The same link until it is invalidated; then the old one stops working.
    assert graph.get(flow_id, params={"fields": "preview"}).json()["preview"] == preview
    renewed = graph.get(flow_id, params={"fields": "preview.invalidate(true)"}).json()["preview"]
    assert renewed["preview_url"] != preview["preview_url"]
    assert requests.get(preview["preview_url"], timeout=5).status_code == 404
    assert requests.get(renewed["preview_url"], timeout=5).status_code == 200


def test_only_drafts_are_updated_or_deleted_and_deprecation_is_final(
    graph: Graph, recorder: Recorder
) -> None:
    draft_id = graph.create_flow("Draft one")
    assert graph.post(draft_id, json={"name": "Renamed", "categories": ["OTHER"]}).json() == {
        "success": True
    }
    assert graph.get(draft_id, params={"fields": "name,categories"}).json() | {"id": ""} == {
        "id": "",
        "name": "Renamed",
        "categories": ["OTHER"],
    }
    assert graph.delete(draft_id).json() == {"success": True}
    assert error_of(graph.get(draft_id))["code"] == 100

    flow_id = graph.published_flow()
    for response, code in [
        (graph.post(flow_id, data={"name": "Too late"}), 139001),
        (graph.upload_json(flow_id, flow_json()), 139001),
        (graph.delete(flow_id), 139004),
        (graph.post(f"{flow_id}/publish"), 139002),
    ]:
        assert response.status_code == 400
        assert error_of(response)["code"] == code
    assert "PUBLISHED" in error_of(graph.delete(flow_id))["error_user_msg"]

    assert graph.post(f"{flow_id}/deprecate").json() == {"success": True}
    assert error_of(graph.post(f"{flow_id}/deprecate"))["code"] == 139003
    assert error_of(graph.post(f"{flow_id}/publish"))["code"] == 139002
    assert graph.get(flow_id, params={"fields": "status"}).json()["status"] == "DEPRECATED"
    moves = [
        (v.get("old_status"), v["new_status"])
        for v in recorder.values("flows")
        if v["flow_id"] == flow_id
    ]
    assert moves == [(None, "DRAFT"), ("DRAFT", "PUBLISHED"), ("PUBLISHED", "DEPRECATED")]


def test_publishing_is_refused_without_clean_publishable_json(graph: Graph) -> None:
    empty = graph.create_flow("Empty")
    assert "no Flow JSON" in error_of(graph.post(f"{empty}/publish"))["error_user_msg"]

    broken = graph.create_flow("Broken", flow_json=BROKEN_FLOW_JSON)
    response = graph.post(f"{broken}/publish")
    assert response.status_code == 400
    assert error_of(response)["code"] == 139002
    assert error_of(response)["error_user_msg"] == "Publishing Flow with validation errors"

    frozen = graph.create_flow("Frozen", flow_json=flow_json(version="4.0"))
    assert "frozen" in error_of(graph.post(f"{frozen}/publish"))["error_user_msg"]
    for flow_id in (empty, broken, frozen):
        assert graph.get(flow_id).json()["status"] == "DRAFT"


def test_an_endpoint_flow_needs_an_endpoint_and_a_public_key_to_publish(graph: Graph) -> None:
    text = flow_json(data_api_version="3.0", routing_model={"WELCOME": ["DONE"], "DONE": []})
    flow_id = graph.create_flow("Booking", flow_json=text, publish=True)
    assert graph.get(flow_id).json()["status"] == "DRAFT"  # publish=true could not publish it
    assert "endpoint_uri" in error_of(graph.post(f"{flow_id}/publish"))["error_user_msg"]
    graph.post(flow_id, json={"endpoint_uri": "http://127.0.0.1:8000/meta/flows/x/"})
    assert "Public Key" in error_of(graph.post(f"{flow_id}/publish"))["error_user_msg"]
    graph.post(
        f"{PHONE_ID}/whatsapp_business_encryption", data={"business_public_key": public_pem()}
    )
    assert graph.post(f"{flow_id}/publish").json() == {"success": True}


# --- keys and phone numbers -----------------------------------------------------------------------


def test_the_business_public_key_must_be_a_2048_bit_pem(graph: Graph) -> None:
    path = f"{PHONE_ID}/whatsapp_business_encryption"
    assert graph.get(path).json() == {"data": []}
    for bad in ("not a key", public_pem(1024)):
        response = graph.post(path, data={"business_public_key": bad})
        assert response.status_code == 400
        assert error_of(response)["code"] == 100
        assert "invalid 2048-bit PEM key" in error_of(response)["message"]
    pem = public_pem()
    assert graph.post(path, files={"business_public_key": (None, pem)}).json() == {"success": True}
    assert graph.get(path).json() == {
        "data": [{"business_public_key": pem, "business_public_key_signature_status": "VALID"}]
    }
    # pywa sends it as JSON.
    assert graph.post(path, json={"business_public_key": public_pem()}).json() == {"success": True}


def test_phone_numbers_are_listed_with_quality_and_throughput(graph: Graph) -> None:
    [phone] = graph.get(f"{WABA_ID}/phone_numbers").json()["data"]
    assert phone["id"] == PHONE_ID and phone["display_phone_number"] == "+1 555 0100"
    assert phone["verified_name"] == "Hotel Azul" and phone["quality_rating"] == "GREEN"
    assert phone["throughput"] == {"level": "STANDARD"}
