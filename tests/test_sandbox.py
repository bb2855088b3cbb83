"""The sandbox Meta over real HTTP: Graph API calls, Meta's errors, webhooks, fault knobs, its page."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.models import Flow, FlowStateError, SentWebhook
from sandbox.services import change_flow_status, ensure_account, set_faults
from tests.conftest import client_for

WABA_ID = "102290129340398"
PHONE_ID = "106540352242922"
APP_ID = "300000000000001"
TOKEN = "EAAGm0PX4ZCpsBAKZAbCdEfGhIjKlMnOpQr"
APP_SECRET = "b1946ac92492d2347c6235b4d2611184"
OTHER_WABA_ID = "203390129340399"
OTHER_PHONE_ID = "207640352242933"
OTHER_TOKEN = "EAAOtherAccountTokenXyZ0123456789"

FLOW_JSON = {
    "version": "7.2",
    "screens": [
        {
            "id": "WELCOME",
            "title": "Welcome",
            "layout": {
                "type": "SingleColumnLayout",
                "children": [
                    {"type": "TextHeading", "text": "Hello"},
                    {
                        "type": "Footer",
                        "label": "Next",
                        "on-click-action": {
                            "name": "navigate",
                            "next": {"type": "screen", "name": "DONE"},
                        },
                    },
                ],
            },
        },
        {
            "id": "DONE",
            "title": "Thanks",
            "terminal": True,
            "layout": {
                "type": "SingleColumnLayout",
                "children": [
                    {
                        "type": "Footer",
                        "label": "Done",
                        "on-click-action": {"name": "complete", "payload": {}},
                    }
                ],
            },
        },
    ],
}


def flow_json(**changes: object) -> str:
    return json.dumps(FLOW_JSON | changes, indent=2)


# A Footer navigating to a screen that does not exist, on line 11 of this text.
BROKEN_FLOW_JSON = """{
  "version": "7.3",
  "screens": [
    {
      "id": "ONLY",
      "terminal": true,
      "layout": {
        "type": "SingleColumnLayout",
        "children": [
          {"type": "Footer", "label": "Go",
           "on-click-action": {"name": "navigate", "next": {"type": "screen", "name": "NOWHERE"}}}
        ]
      }
    }
  ]
}"""


class _Recording(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append({"headers": dict(self.headers), "body": body})
        status = self.server.answers.pop(0) if self.server.answers else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class Recorder(ThreadingHTTPServer):
    """A webhook callback that keeps every request it gets and answers 200 (or what `answers` says)."""

    received: list[dict]
    answers: list[int]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/meta/webhook/"

    def values(self, field: str) -> list[dict]:
        found = []
        for request in self.received:
            for entry in json.loads(request["body"])["entry"]:
                found += [c["value"] for c in entry["changes"] if c["field"] == field]
        return found


@pytest.fixture
def recorder() -> Recorder:
    server = Recorder(("127.0.0.1", 0), _Recording)
    server.received, server.answers = [], []
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class Graph:
    """A tiny Graph client for the tests: base URL, token, and requests underneath."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: object
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if (token := self.token if token is None else token) != "":
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(
            method, f"{self.base}/{path}", headers=headers, timeout=10, **kwargs
        )

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: object) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def create_flow(self, name: str = "Hotel feedback", **data: object) -> str:
        response = self.post(
            f"{WABA_ID}/flows", json={"name": name, "categories": ["SURVEY"]} | data
        )
        assert response.status_code == 200, response.text
        return response.json()["id"]

    def upload_json(self, flow_id: str, text: str) -> requests.Response:
        return self.post(
            f"{flow_id}/assets",
            data={"name": "flow.json", "asset_type": "FLOW_JSON"},
            files={"file": ("flow.json", text.encode(), "application/json")},
        )

    def published_flow(self, name: str = "Hotel feedback") -> str:
        flow_id = self.create_flow(name, flow_json=flow_json())
        assert self.post(f"{flow_id}/publish").json() == {"success": True}
        return flow_id


@pytest.fixture
def graph(live_server: object, recorder: Recorder, transactional_db: None) -> Graph:
    ensure_account(
        waba_id=WABA_ID,
        name="Hotel Azul",
        access_token=TOKEN,
        app_secret=APP_SECRET,
        app_id=APP_ID,
        webhook_url=recorder.url,
        phone_numbers=[(PHONE_ID, "+1 555 0100", "Hotel Azul")],
    )
    ensure_account(
        waba_id=OTHER_WABA_ID,
        name="Other business",
        access_token=OTHER_TOKEN,
        app_secret="another-app-secret-0000000000000",
        webhook_url=recorder.url,
        phone_numbers=[(OTHER_PHONE_ID, "+1 555 0199", "Other business")],
    )
    return Graph(f"{live_server.url}/sandbox/graph/v23.0", TOKEN)


def error_of(response: requests.Response) -> dict:
    return response.json()["error"]


def public_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def signature_is_valid(request: dict, secret: str = APP_SECRET) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request["headers"]["X-Hub-Signature-256"])


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


# --- templates, uploads, messages -----------------------------------------------------------------


def template(name: str, **changes: object) -> dict:
    return {
        "name": name,
        "language": "en_US",
        "category": "MARKETING",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, how was your stay?",
                "example": {"body_text": [["Ana"]]},
            }
        ],
    } | changes


def test_templates_are_reviewed_by_the_sandbox_rule_with_a_webhook(
    graph: Graph, recorder: Recorder
) -> None:
    created = graph.post(f"{WABA_ID}/message_templates", json=template("stay_feedback"))
    assert created.json() | {"id": ""} == {"id": "", "status": "PENDING", "category": "MARKETING"}
    rejected = graph.post(f"{WABA_ID}/message_templates", json=template("please_reject_me"))

    # In-process tasks finish the review at once; a worker would take a couple of seconds.
    approved = graph.get(created.json()["id"]).json()
    assert approved["status"] == "APPROVED" and approved["language"] == "en_US"
    [listed] = graph.get(
        f"{WABA_ID}/message_templates", params={"name": "please_reject_me"}
    ).json()["data"]
    assert listed["status"] == "REJECTED" and listed["rejected_reason"] == "INVALID_FORMAT"
    events = recorder.values("message_template_status_update")
    assert events == [
        {
            "event": "APPROVED",
            "message_template_id": int(created.json()["id"]),
            "message_template_name": "stay_feedback",
            "message_template_language": "en_US",
            "message_template_category": "MARKETING",
            "reason": "NONE",
        },
        {
            "event": "REJECTED",
            "message_template_id": int(rejected.json()["id"]),
            "message_template_name": "please_reject_me",
            "message_template_language": "en_US",
            "message_template_category": "MARKETING",
            "reason": "INVALID_FORMAT",
            "rejection_info": {
                "reason": "The message template's format is not valid: its content doesn't follow "
                "the template guidelines.",
                "recommendation": "Check the variables, their example values and the text around "
                "them, then edit the template and submit it again.",
            },
        },
    ]
    assert all(signature_is_valid(request) for request in recorder.received)

    for bad in (
        template("Stay Feedback"),
        template("x", category="PROMO"),
        template("stay_feedback"),
    ):
        assert error_of(graph.post(f"{WABA_ID}/message_templates", json=bad))["code"] == 100
    draft = graph.create_flow()
    button = {"type": "BUTTONS", "buttons": [{"type": "FLOW", "text": "Go", "flow_id": draft}]}
    with_draft = template("with_flow", components=[template("x")["components"][0], button])
    refused = error_of(graph.post(f"{WABA_ID}/message_templates", json=with_draft))
    assert "DRAFT" in refused["error_user_msg"]

    assert graph.delete(
        f"{WABA_ID}/message_templates", params={"name": "stay_feedback"}
    ).json() == {"success": True}
    assert graph.get(f"{WABA_ID}/message_templates", params={"name": "stay_feedback"}).json() == {
        "data": []
    }


def test_a_resumable_upload_gives_a_handle(graph: Graph) -> None:
    content = b"\x89PNG fake image bytes"
    session = graph.post(
        f"{APP_ID}/uploads",
        params={"file_name": "header.png", "file_length": len(content), "file_type": "image/png"},
    ).json()["id"]
    assert session.startswith("upload:") and "?sig=" in session
    assert graph.get(session).json() == {"id": session, "file_offset": 0}
    response = graph.post(
        session, data=content, headers={"file_offset": "0", "Authorization": f"OAuth {TOKEN}"}
    )
    assert response.json()["h"].startswith("4::")
    assert graph.get(session).json()["file_offset"] == len(content)
    assert (
        error_of(graph.get(session.partition("?")[0]))["code"] == 100
    )  # the signature is required
    assert (
        error_of(
            graph.post(
                f"{APP_ID}/uploads",
                params={"file_name": "a.gif", "file_length": 3, "file_type": "image/gif"},
            )
        )["code"]
        == 100
    )


def test_a_sent_template_reports_sent_delivered_and_read(graph: Graph, recorder: Recorder) -> None:
    graph.post(f"{WABA_ID}/message_templates", json=template("stay_feedback"))
    message = {
        "messaging_product": "whatsapp",
        "to": "+1 555 123 4567",
        "type": "template",
        "template": {
            "name": "stay_feedback",
            "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
        },
    }
    response = graph.post(f"{PHONE_ID}/messages", json=message)
    body = response.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+1 555 123 4567", "wa_id": "15551234567"}]
    wamid = body["messages"][0]["id"]
    assert wamid.startswith("wamid.")

    statuses = [v["statuses"][0] for v in recorder.values("messages")]
    assert [(s["id"], s["status"], s["recipient_id"]) for s in statuses] == [
        (wamid, "sent", "15551234567"),
        (wamid, "delivered", "15551234567"),
        (wamid, "read", "15551234567"),
    ]
    assert recorder.values("messages")[0]["metadata"] == {
        "display_phone_number": "15550100",
        "phone_number_id": PHONE_ID,
    }

    missing = graph.post(
        f"{PHONE_ID}/messages",
        json=message | {"template": {"name": "nope", "language": {"code": "en_US"}}},
    )
    assert missing.status_code == 404 and error_of(missing)["code"] == 132001
    # Meta answers a `to` that is not a phone number with 100, Invalid parameter.
    assert (
        error_of(graph.post(f"{PHONE_ID}/messages", json=message | {"to": "call me"}))["code"]
        == 100
    )


def test_a_blocked_flow_cannot_be_sent(graph: Graph) -> None:
    flow_id = graph.published_flow()
    button = {
        "type": "BUTTONS",
        "buttons": [{"type": "FLOW", "text": "Review", "flow_id": flow_id}],
    }
    graph.post(
        f"{WABA_ID}/message_templates",
        json=template("review", components=[template("x")["components"][0], button]),
    )
    change_flow_status(flow_id, "BLOCKED")
    message = {"messaging_product": "whatsapp", "to": "15551234567", "type": "template",
               "template": {"name": "review", "language": {"code": "en_US"}}}  # fmt: skip
    assert error_of(graph.post(f"{PHONE_ID}/messages", json=message))["code"] == 132068


# --- fault knobs ----------------------------------------------------------------------------------


def test_an_error_rate_of_one_fails_every_call_transiently(graph: Graph) -> None:
    set_faults(error_rate=1.0)
    for response in (
        graph.get(f"{WABA_ID}/flows"),
        graph.post(f"{WABA_ID}/flows", json={"name": "x"}),
    ):
        assert response.status_code == 500
        assert error_of(response)["code"] == 2 and error_of(response)["is_transient"] is True
    set_faults()
    assert graph.get(f"{WABA_ID}/flows").status_code == 200


def test_throttling_answers_429_with_retry_after(graph: Graph) -> None:
    set_faults(throttle_rate=1.0)
    response = graph.get(f"{WABA_ID}/flows")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert error_of(response)["code"] == 80007


def test_latency_slows_every_call(graph: Graph) -> None:
    set_faults(latency_ms=300)
    started = time.monotonic()
    assert graph.get(f"{WABA_ID}/phone_numbers").status_code == 200
    assert time.monotonic() - started >= 0.3


# --- health changes and webhook delivery ----------------------------------------------------------


def test_change_flow_status_sends_signed_webhooks(graph: Graph, recorder: Recorder) -> None:
    flow_id = graph.published_flow()
    recorder.received.clear()
    change_flow_status(flow_id, "THROTTLED", reason="Endpoint timeouts")

    assert all(signature_is_valid(request) for request in recorder.received)
    alert, change = recorder.values("flows")
    assert alert["event"] == "ENDPOINT_ERROR_RATE" and alert["alert_state"] == "ACTIVATED"
    assert change["event"] == "FLOW_STATUS_CHANGE"
    assert (change["old_status"], change["new_status"]) == ("PUBLISHED", "THROTTLED")
    assert "Endpoint timeouts" in change["message"]
    health = graph.get(flow_id, params={"fields": "status,health_status"}).json()
    assert (
        health["status"] == "THROTTLED" and health["health_status"]["can_send_message"] == "LIMITED"
    )

    change_flow_status(flow_id, "PUBLISHED")
    assert recorder.values("flows")[-1] | {"message": ""} == {
        "event": "FLOW_STATUS_CHANGE",
        "message": "",
        "flow_id": flow_id,
        "old_status": "THROTTLED",
        "new_status": "PUBLISHED",
    }
    with pytest.raises(FlowStateError):
        change_flow_status(graph.create_flow("A draft"), "BLOCKED")


def test_a_refused_webhook_is_retried_and_the_result_recorded(
    graph: Graph, recorder: Recorder
) -> None:
    recorder.answers = [500, 503]
    graph.create_flow()
    delivery = SentWebhook.objects.get()
    assert len(recorder.received) == 3
    assert recorder.received[0]["body"] == recorder.received[2]["body"]
    assert (delivery.delivered, delivery.attempts, delivery.status_code) == (True, 3, 200)


# --- the sandbox page -----------------------------------------------------------------------------


def test_only_admins_see_the_sandbox_page(
    graph: Graph, admin_user: object, marketer: object, recorder: Recorder
) -> None:
    flow_id = graph.published_flow()
    graph.post(f"{WABA_ID}/message_templates", json=template("please_reject_me"))
    anonymous = client_for(None).get("/sandbox/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert client_for(marketer).get("/sandbox/").status_code == 403

    admin = client_for(admin_user)
    page = admin.get("/sandbox/")
    assert page.status_code == 200
    text = page.content.decode()
    for expected in (
        "Hotel Azul",
        "Hotel feedback",
        "please_reject_me",
        "REJECTED",
        "contains <code>reject</code>",
    ):
        assert expected in text
    flow = Flow.objects.get(flow_id=flow_id)
    assert f'action="/sandbox/flows/{flow.pk}/status/"' in text

    response = admin.post(f"/sandbox/flows/{flow.pk}/status/", {"status": "THROTTLED"})
    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.status == "THROTTLED"
    assert recorder.values("flows")[-1]["new_status"] == "THROTTLED"
    assert (
        client_for(marketer)
        .post(f"/sandbox/flows/{flow.pk}/status/", {"status": "BLOCKED"})
        .status_code
        == 403
    )

    admin.post("/sandbox/faults/", {"error_rate": "0", "throttle_rate": "1", "latency_ms": "0"})
    assert graph.get(f"{WABA_ID}/flows").status_code == 429
