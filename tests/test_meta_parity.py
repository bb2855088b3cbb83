"""Graph client parity with Meta (issue 13): the app subscribed to the WABA (and the sandbox refusing
what Meta refuses for an unsubscribed one), and a FLOW_STATUS_CHANGE warning kept as a health alert."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from flowsadmin.models import Flow
from sandbox.models import Account, SentWebhook
from wabas.crypto import hub_signature
from wabas.models import Waba
from wabas.services import subscribe_waba

from .conftest import client_for
from .fake_meta import fresh_meta, meta_error
from .sandbox_support import PHONE_ID, WABA_ID, Graph, error_of, flow_json, public_pem
from .test_meta_connection import WABA_ID as CASA_WABA_ID
from .test_meta_connection import meta, waba_form  # noqa: F401 (the fixture)

# --- the subscription, from the dashboard --------------------------------------------------------


def test_adding_a_waba_subscribes_the_app_and_the_page_says_so(meta, admin_user):  # noqa: F811
    Account.objects.filter(waba_id=CASA_WABA_ID).update(subscribed=False)  # a WABA fresh from Meta
    client_for(admin_user).post(reverse("wabas:create"), waba_form(meta))
    assert Account.objects.get(waba_id=CASA_WABA_ID).subscribed  # the sandbox got the POST
    waba = Waba.objects.get(meta_waba_id=CASA_WABA_ID)
    assert waba.subscribed and waba.subscription_error == ""
    page = client_for(admin_user).get(reverse("wabas:detail", args=[waba.pk])).content.decode()
    assert "Subscribed" in page and "our app receives this WABA's webhooks" in page


def test_sync_with_meta_subscribes_again(meta, admin_user):  # noqa: F811
    admin = client_for(admin_user)
    admin.post(reverse("wabas:create"), waba_form(meta))
    waba = Waba.objects.get(meta_waba_id=CASA_WABA_ID)
    # Unsubscribed on Meta's side (another tool): Sync with Meta puts it back.
    Account.objects.filter(waba_id=CASA_WABA_ID).update(subscribed=False)
    admin.post(reverse("wabas:connect", args=[waba.pk]))
    assert Account.objects.get(waba_id=CASA_WABA_ID).subscribed


def test_a_refused_subscription_is_recorded_and_shown(fake_meta_server, waba, admin_user):
    fake = fresh_meta(fake_meta_server)
    fake.reply(meta_error(200, "(#200) Permissions error", status=403))
    assert subscribe_waba(waba, client=fake.client()) is False
    assert (fake.only.method, fake.only.path) == (
        "POST",
        f"/meta/v23.0/{waba.meta_waba_id}/subscribed_apps",
    )
    waba.refresh_from_db()
    assert not waba.subscribed and "Permissions error" in waba.subscription_error
    page = client_for(admin_user).get(reverse("wabas:detail", args=[waba.pk])).content.decode()
    assert "Not subscribed" in page and "Permissions error" in page
    fake.reply({"success": True})
    assert subscribe_waba(waba, client=fake.client()) is True
    waba.refresh_from_db()
    assert waba.subscribed and waba.subscription_error == ""


# --- the sandbox refuses what Meta refuses for an unsubscribed WABA -----------------------------


def test_the_sandbox_answers_subscribed_apps_like_meta(graph: Graph) -> None:
    assert graph.get(f"{WABA_ID}/subscribed_apps").json()["data"]  # subscribed
    assert graph.delete(f"{WABA_ID}/subscribed_apps").json() == {"success": True}
    assert graph.get(f"{WABA_ID}/subscribed_apps").json() == {"data": []}
    assert graph.post(f"{WABA_ID}/subscribed_apps").json() == {"success": True}
    assert graph.get(f"{WABA_ID}/subscribed_apps").json()["data"]


def test_the_sandbox_refuses_to_publish_an_endpoint_flow_for_an_unsubscribed_waba(graph: Graph):
    text = flow_json(data_api_version="3.0", routing_model={"WELCOME": ["DONE"], "DONE": []})
    flow_id = graph.create_flow("Booking", flow_json=text)
    graph.post(flow_id, json={"endpoint_uri": "http://127.0.0.1:8000/meta/flows/x/"})
    graph.post(
        f"{PHONE_ID}/whatsapp_business_encryption", data={"business_public_key": public_pem()}
    )
    graph.delete(f"{WABA_ID}/subscribed_apps")
    response = graph.post(f"{flow_id}/publish")
    assert response.status_code == 400 and error_of(response)["code"] == 139002
    assert "not subscribed" in error_of(response)["error_user_msg"]
    assert graph.get(flow_id).json()["status"] == "DRAFT"
    # The nearest case that works: subscribed again, it publishes.
    graph.post(f"{WABA_ID}/subscribed_apps")
    assert graph.post(f"{flow_id}/publish").json() == {"success": True}


def test_the_sandbox_delivers_no_webhook_for_an_unsubscribed_waba(graph: Graph, recorder) -> None:
    graph.delete(f"{WABA_ID}/subscribed_apps")
    graph.create_flow("Held back")  # Meta would announce it with FLOW_STATUS_CHANGE to DRAFT
    held = SentWebhook.objects.get(account__waba_id=WABA_ID)
    assert not held.delivered and held.attempts == 0 and "not subscribed" in held.error
    graph.post(f"{WABA_ID}/subscribed_apps")
    graph.create_flow("Announced")
    assert SentWebhook.objects.filter(account__waba_id=WABA_ID, error="").count() == 1
    assert [v["event"] for v in recorder.values("flows")] == ["FLOW_STATUS_CHANGE"]


# --- a FLOW_STATUS_CHANGE with a warning --------------------------------------------------------


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    def send(client, waba: Waba, value: dict):
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": waba.meta_waba_id,
                        "time": 1767225600,
                        "changes": [{"field": "flows", "value": value}],
                    }
                ],
            }
        ).encode()
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/meta/webhook/",
                body,
                content_type="application/json",
                HTTP_X_HUB_SIGNATURE_256=hub_signature(body, waba.app_secret),
            )

    return send


def test_a_status_change_warning_is_recorded_as_a_health_alert_and_shown(
    post, client, waba, marketer
):
    flow = Flow.objects.create(
        waba=waba, name="Hotel feedback", meta_flow_id="771023498811223", status="PUBLISHED"
    )
    change = {
        "event": "FLOW_STATUS_CHANGE",
        "message": "Flow Hotel feedback changed status from PUBLISHED to THROTTLED",
        "flow_id": "771023498811223",
        "old_status": "PUBLISHED",
        "new_status": "THROTTLED",
        "warning": "The Flow will be blocked if the endpoint error rate stays above 50%",
    }
    assert post(client, waba, change).status_code == 200
    flow.refresh_from_db()
    assert flow.status == "THROTTLED"
    alert = flow.health_alerts["FLOW_STATUS_CHANGE"]
    assert alert["warning"] == change["warning"]
    page = client_for(marketer).get(reverse("flows:insights", args=[flow.pk])).content.decode()
    assert "endpoint error rate stays above 50%" in page
    # Without a warning, a status change records no alert.
    post(client, waba, change | {"new_status": "PUBLISHED", "warning": ""})
    flow.refresh_from_db()
    assert flow.status == "PUBLISHED" and flow.health_alerts["FLOW_STATUS_CHANGE"] == alert
