"""Meta's webhook at /meta/webhook/: the handshake, signatures, storage first, dedupe and processing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from flowsadmin.models import Flow
from wabas.crypto import hub_signature
from wabas.models import WebhookDelivery

from .conftest import client_for, make_waba

URL = "/meta/webhook/"


def envelope(waba_id: str, field: str, value: dict) -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": waba_id, "time": 1767225600, "changes": [{"field": field, "value": value}]}
            ],
        }
    ).encode()


def status_change(flow_id: str, old: str, new: str) -> dict:
    return {
        "event": "FLOW_STATUS_CHANGE",
        "message": f"Flow changed status from {old} to {new}",
        "flow_id": flow_id,
        "old_status": old,
        "new_status": new,
    }


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """POST like Meta does; the processing task queued on commit runs (eagerly) right after."""

    def send(client, body: bytes, signature: str | None):
        headers = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, body, content_type="application/json", **headers)

    return send


@pytest.fixture
def published_flow(waba) -> Flow:
    return Flow.objects.create(
        waba=waba, name="Hotel feedback", meta_flow_id="771023498811223", status="PUBLISHED"
    )


def test_the_handshake_echoes_the_challenge_for_the_right_verify_token(client, waba):
    response = client.get(
        URL,
        {
            "hub.mode": "subscribe",
            "hub.verify_token": waba.webhook_verify_token,
            "hub.challenge": "1158201444",
        },
    )
    assert response.status_code == 200
    assert response.content == b"1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {
            "hub.mode": "unsubscribe",
            "hub.verify_token": "verify-me-please-123",
            "hub.challenge": "1",
        },
        {"hub.challenge": "1"},
    ],
)
def test_the_handshake_refuses_anything_else(client, waba, params):
    response = client.get(URL, params)
    assert response.status_code == 403
    assert response.content != b"1"


def test_a_signed_status_change_is_stored_and_applied(post, client, waba, published_flow):
    body = envelope(
        waba.meta_waba_id, "flows", status_change("771023498811223", "PUBLISHED", "THROTTLED")
    )
    response = post(client, body, hub_signature(body, waba.app_secret))
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == body
    assert delivery.status == "PROCESSED" and delivery.fields == ["flows"]
    assert delivery.result == "flows: Hotel feedback is now THROTTLED."
    published_flow.refresh_from_db()
    assert published_flow.status == "THROTTLED"
    assert published_flow.status_reason == "Flow changed status from PUBLISHED to THROTTLED"


@pytest.mark.parametrize("signature", [None, "", "sha256=" + "0" * 64, "sha1=abc", "sha256=nothex"])
def test_a_missing_or_wrong_signature_is_refused_and_nothing_is_stored(
    post, client, waba, published_flow, signature
):
    body = envelope(
        waba.meta_waba_id, "flows", status_change("771023498811223", "PUBLISHED", "BLOCKED")
    )
    response = post(client, body, signature)
    assert response.status_code == 403
    assert WebhookDelivery.objects.count() == 0
    published_flow.refresh_from_db()
    assert published_flow.status == "PUBLISHED"


def test_a_body_signed_with_another_secret_is_refused(post, client, waba, published_flow):
    body = envelope(
        waba.meta_waba_id, "flows", status_change("771023498811223", "PUBLISHED", "BLOCKED")
    )
    assert post(client, body, hub_signature(body, "someone-elses-secret")).status_code == 403
    assert WebhookDelivery.objects.count() == 0


def test_a_tampered_body_fails_its_signature(post, client, waba, published_flow):
    body = envelope(
        waba.meta_waba_id, "flows", status_change("771023498811223", "PUBLISHED", "THROTTLED")
    )
    signature = hub_signature(body, waba.app_secret)
    tampered = body.replace(b"THROTTLED", b"BLOCKED")
    assert post(client, tampered, signature).status_code == 403


def test_the_same_delivery_twice_is_processed_once(post, client, waba, published_flow):
    body = envelope(
        waba.meta_waba_id, "flows", status_change("771023498811223", "PUBLISHED", "THROTTLED")
    )
    signature = hub_signature(body, waba.app_secret)
    assert post(client, body, signature).status_code == 200
    # Meanwhile the flow recovers; a re-delivery of the old change must not throttle it again.
    published_flow.apply_status_change("PUBLISHED")
    second = post(client, body, signature)
    assert second.status_code == 200
    assert second.content == b"Already received."
    assert WebhookDelivery.objects.count() == 1
    published_flow.refresh_from_db()
    assert published_flow.status == "PUBLISHED"


def test_a_signed_body_that_is_not_json_is_kept_and_answered_400(post, client, waba):
    body = b"status=THROTTLED&flow=1"
    response = post(client, body, hub_signature(body, waba.app_secret))
    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "FAILED"
    assert delivery.result == "Not a Meta webhook: the body is not JSON."


def test_json_that_is_not_an_envelope_is_recorded_as_failed(post, client, waba):
    body = b'["just", "a", "list"]'
    assert post(client, body, hub_signature(body, waba.app_secret)).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "FAILED" and "no entry list" in delivery.result


def test_an_unknown_waba_id_is_kept_not_applied(post, client, waba, published_flow):
    body = envelope(
        "999000999000", "flows", status_change("771023498811223", "PUBLISHED", "BLOCKED")
    )
    assert post(client, body, hub_signature(body, waba.app_secret)).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.result == "flows: unknown WABA id '999000999000', kept and not applied."
    published_flow.refresh_from_db()
    assert published_flow.status == "PUBLISHED"


def test_an_unknown_field_is_kept_and_shown(post, client, waba, admin_user):
    body = envelope(
        waba.meta_waba_id,
        "business_capability_update",
        {"max_daily_conversation_per_phone": 1000, "shiny_new_key": True},
    )
    assert post(client, body, hub_signature(body, waba.app_secret)).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "PROCESSED"
    assert (
        delivery.result
        == "business_capability_update: no handler for this field yet, kept as received."
    )
    admin = client_for(admin_user)
    listing = admin.get(reverse("wabas:webhook_list")).content.decode()
    assert "business_capability_update" in listing
    detail = admin.get(reverse("wabas:webhook_detail", args=[delivery.pk])).content.decode()
    assert "shiny_new_key" in detail


def test_an_unknown_flow_or_status_is_kept_not_applied(post, client, waba, published_flow):
    body = envelope(waba.meta_waba_id, "flows", status_change("123", "PUBLISHED", "BLOCKED"))
    post(client, body, hub_signature(body, waba.app_secret))
    weird = envelope(
        waba.meta_waba_id, "flows", status_change("771023498811223", "PUBLISHED", "ON_FIRE")
    )
    post(client, weird, hub_signature(weird, waba.app_secret))
    results = list(WebhookDelivery.objects.order_by("received_at").values_list("result", flat=True))
    assert results == [
        "flows: FLOW_STATUS_CHANGE for unknown flow '123', kept and not applied.",
        "flows: unknown status 'ON_FIRE' for Hotel feedback, kept and not applied.",
    ]
    published_flow.refresh_from_db()
    assert published_flow.status == "PUBLISHED"


def test_health_alerts_are_recorded_on_the_flow(post, client, waba, published_flow):
    alert = {
        "event": "ENDPOINT_ERROR_RATE",
        "flow_id": "771023498811223",
        "error_rate": 12.5,
        "threshold": 10,
        "alert_state": "ACTIVATED",
    }
    body = envelope(waba.meta_waba_id, "flows", alert)
    post(client, body, hub_signature(body, waba.app_secret))
    published_flow.refresh_from_db()
    assert published_flow.health_alerts["ENDPOINT_ERROR_RATE"]["error_rate"] == 12.5


def test_each_waba_is_checked_with_its_own_app_secret(post, client, waba, published_flow):
    other = make_waba(name="Other", meta_waba_id="55555555", app_secret="another-apps-secret-0000")
    other_flow = Flow.objects.create(
        waba=other, name="Other flow", meta_flow_id="42", status="PUBLISHED"
    )
    body = envelope(other.meta_waba_id, "flows", status_change("42", "PUBLISHED", "BLOCKED"))
    assert post(client, body, hub_signature(body, other.app_secret)).status_code == 200
    other_flow.refresh_from_db()
    assert other_flow.status == "BLOCKED"


def test_only_admins_see_deliveries(marketer, campaign_manager):
    for user in (marketer, campaign_manager):
        assert client_for(user).get(reverse("wabas:webhook_list")).status_code == 403


def test_put_is_not_allowed(client, db):
    assert client.put(URL).status_code == 405
