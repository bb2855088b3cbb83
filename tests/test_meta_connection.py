"""The dashboard and the sandbox Meta together, over real HTTP: keys, status webhooks, refresh, faults."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from flowsadmin.models import Flow
from flowsadmin.tasks import refresh_flow_task, refresh_flows_task
from sandbox.services import change_flow_status, ensure_account, set_faults
from wabas.graph import GraphClient, MetaAuthError
from wabas.models import PhoneNumber, Waba, WebhookDelivery

from .conftest import client_for

WABA_ID = "104996122399160"
TOKEN = "EAAJb3ZCcZBZCsBAOsandboxtoken9876"
APP_SECRET = "0f3c2b1a9e8d7c6b5a4f3e2d1c0b9a88"
EXAMPLE = "flowsadmin/examples/hotel-feedback.static.flow.json"


@pytest.fixture
def meta(live_server, transactional_db):
    """The sandbox plays Meta for one account, and sends its webhooks to this live server."""
    ensure_account(
        waba_id=WABA_ID,
        name="Casa Verde",
        access_token=TOKEN,
        app_secret=APP_SECRET,
        webhook_url=f"{live_server.url}/meta/webhook/",
        phone_numbers=[("113004235026470", "+44 20 7946 0958", "Casa Verde")],
    )
    set_faults()
    return f"{live_server.url}/sandbox/graph"


def waba_form(graph_url: str, **overrides: str) -> dict:
    return {
        "name": "Casa Verde",
        "meta_waba_id": WABA_ID,
        "graph_base_url": graph_url,
        "graph_api_version": "v23.0",
        "access_token": TOKEN,
        "app_secret": APP_SECRET,
        "webhook_verify_token": "casa-verde-verify-2026",
    } | overrides


def graph(waba: Waba, **options: object) -> GraphClient:
    return (
        GraphClient.for_waba(waba)
        if not options
        else GraphClient(
            base_url=waba.graph_base_url,
            api_version=waba.graph_api_version,
            access_token=waba.access_token,
            **options,
        )
    )


def test_creating_a_waba_imports_its_numbers_and_registers_the_key_on_meta(meta, admin_user):
    response = client_for(admin_user).post(reverse("wabas:create"), waba_form(meta))
    assert response.status_code == 302
    waba = Waba.objects.get(meta_waba_id=WABA_ID)
    phone = PhoneNumber.objects.get(waba=waba)
    assert phone.display_phone_number == "+44 20 7946 0958"
    assert phone.key_status == "REGISTERED"
    client = graph(waba)
    stored = client.get_business_public_key(phone.meta_phone_number_id)
    client.session.close()
    assert stored["business_public_key"].strip() == waba.key_pair.public_pem.strip()
    page = client_for(admin_user).get(reverse("wabas:detail", args=[waba.pk])).content.decode()
    assert "Registered" in page and "Connected" in page


def test_a_wrong_token_says_meta_rejected_it_on_the_waba_page(meta, admin_user):
    client_for(admin_user).post(
        reverse("wabas:create"), waba_form(meta, access_token="EAAJwrongtoken0000")
    )
    waba = Waba.objects.get(meta_waba_id=WABA_ID)
    assert waba.meta_error.startswith("Meta rejected the token")
    assert "wrongtoken" not in waba.meta_error
    page = client_for(admin_user).get(reverse("wabas:detail", args=[waba.pk])).content.decode()
    assert "Meta rejected the token" in page
    # Fixing the token and syncing again connects and registers.
    admin = client_for(admin_user)
    admin.post(
        reverse("wabas:edit", args=[waba.pk]),
        waba_form(meta, app_secret="", webhook_verify_token=""),
    )
    response = admin.post(reverse("wabas:connect", args=[waba.pk]), follow=True)
    assert "Connected to Meta" in response.content.decode()
    waba.refresh_from_db()
    assert waba.meta_error == ""
    assert PhoneNumber.objects.get(waba=waba).key_status == "REGISTERED"


def test_a_refused_key_shows_metas_message_and_can_be_registered_again(meta, admin_user):
    client_for(admin_user).post(reverse("wabas:create"), waba_form(meta))
    waba = Waba.objects.get(meta_waba_id=WABA_ID)
    # A number Meta doesn't know for this account: the upload is refused with Meta's words.
    stranger = PhoneNumber.objects.create(
        waba=waba, meta_phone_number_id="999888777666", display_phone_number="+1 555 0199"
    )
    response = client_for(admin_user).post(
        reverse("wabas:keys_register", args=[waba.pk]), follow=True
    )
    assert "Registering the public key" in response.content.decode()
    stranger.refresh_from_db()
    assert stranger.key_status == "FAILED"
    assert "code 100" in stranger.key_error
    assert (
        PhoneNumber.objects.get(meta_phone_number_id="113004235026470").key_status == "REGISTERED"
    )


@pytest.fixture
def published(meta, admin_user):
    """A WABA on the sandbox with the hotel example created, uploaded and published there."""
    client_for(admin_user).post(reverse("wabas:create"), waba_form(meta))
    waba = Waba.objects.get(meta_waba_id=WABA_ID)
    client = graph(waba)
    json_text = (Path(__file__).resolve().parents[1] / EXAMPLE).read_text(encoding="utf-8")
    created = client.create_flow(WABA_ID, name="hotel_feedback", categories=["SURVEY"])
    assert client.upload_flow_json(created["id"], json_text) == []
    client.publish_flow(created["id"])
    client.session.close()
    return Flow.objects.create(
        waba=waba, name="Hotel feedback", meta_flow_id=created["id"], flow_json=json_text
    )


def test_a_throttle_in_the_sandbox_reaches_the_dashboard_by_webhook(published, admin_user):
    change_flow_status(
        published.meta_flow_id, "THROTTLED", reason="Too many errors from the endpoint"
    )
    published.refresh_from_db()
    assert published.status == "THROTTLED"
    assert "Too many errors from the endpoint" in published.status_reason
    assert published.health_alerts["ENDPOINT_ERROR_RATE"]["alert_state"] == "ACTIVATED"
    delivery = WebhookDelivery.objects.filter(result__contains="is now THROTTLED").get()
    assert delivery.status == "PROCESSED"
    page = client_for(admin_user).get(reverse("flows:list")).content.decode()
    assert "Throttled" in page


def test_refresh_pulls_status_preview_and_health_from_meta(published):
    assert published.status == "DRAFT"  # our row hasn't heard yet
    refresh_flow_task.delay(published.pk)
    published.refresh_from_db()
    assert published.status == "PUBLISHED"
    assert published.preview_url.startswith("http://")
    assert published.preview_expires_at is not None
    assert published.health_status["can_send_message"] in {"AVAILABLE", "LIMITED", "BLOCKED"}
    assert published.has_validation_errors is False and published.synced_at is not None


def test_the_scheduled_refresh_skips_deprecated_and_unsynced_flows(published):
    Flow.objects.create(waba=published.waba, name="Local draft")
    Flow.objects.create(waba=published.waba, name="Old", meta_flow_id="1", status="DEPRECATED")
    assert refresh_flows_task.delay().get() == 1


def test_refresh_records_metas_validation_errors(meta, admin_user):
    client_for(admin_user).post(reverse("wabas:create"), waba_form(meta))
    waba = Waba.objects.get(meta_waba_id=WABA_ID)
    client = graph(waba)
    created = client.create_flow(WABA_ID, name="broken", categories=["OTHER"])
    client.upload_flow_json(
        created["id"],
        '{"version": "7.3", "screens": [{"id": "A", "layout": {"type": "SingleColumnLayout", "children": [{"type": "Footer", "label": "Go", "on-click-action": {"name": "navigate", "next": {"type": "screen", "name": "NOWHERE"}}}]}}]}',
    )
    client.session.close()
    flow = Flow.objects.create(waba=waba, name="Broken", meta_flow_id=created["id"])
    refresh_flow_task.delay(flow.pk)
    flow.refresh_from_db()
    assert flow.has_validation_errors is True
    assert flow.meta_validation_errors[0]["line_start"] >= 1


def test_with_30_percent_injected_errors_a_batch_completes_through_retries(published):
    set_faults(error_rate=0.3)
    # Retrying a read is safe; with 8 retries a call fails only if 9 answers in a row are errors.
    client = graph(published.waba, max_retries=8, backoff=0.01, max_backoff=0.05, retry_budget=30)
    try:
        statuses = [
            client.get_flow(published.meta_flow_id, fields=["status"])["status"] for _ in range(30)
        ]
    finally:
        client.session.close()
        set_faults()
    assert statuses == ["PUBLISHED"] * 30


def test_a_wrong_token_is_a_typed_error_without_the_token(meta):
    client = GraphClient(base_url=meta, api_version="v23.0", access_token="EAAJnotthetoken1234")
    with pytest.raises(MetaAuthError) as caught:
        client.list_phone_numbers(WABA_ID)
    client.session.close()
    assert "Meta rejected the token" in str(caught.value)
    assert "notthetoken" not in str(caught.value) + repr(caught.value)


def test_the_sandbox_is_for_admins_only(meta, admin_user, marketer):
    assert client_for(admin_user).get(reverse("sandbox:home")).status_code == 200
    assert client_for(marketer).get(reverse("sandbox:home")).status_code == 403
    assert Client().get(reverse("sandbox:home")).status_code == 302
