"""The sandbox Meta's templates, uploads and messages, its fault knobs, its health webhooks and their
delivery, and the sandbox page."""

from __future__ import annotations

import time

import pytest

from sandbox.models import Flow, FlowStateError, SentWebhook
from sandbox.services import change_flow_status, set_faults
from tests.conftest import client_for

from .sandbox_support import (
    APP_ID,
    PHONE_ID,
    TOKEN,
    WABA_ID,
    Graph,
    Recorder,
    error_of,
    signature_is_valid,
)

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
