"""Webhook deliveries are never lost: a handler's error leaves a FAILED delivery that Replay processes,
odd entries are refused one by one, stuck deliveries are taken up again, and Meta's re-delivery of a
body we stored but never finished queues it again."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from audience.models import Event, Profile
from wabas import webhooks
from wabas.models import WebhookDelivery
from wabas.tasks import retake_stuck_webhooks_task

from .conftest import client_for, post_webhook
from .test_people import HOTEL_ANSWERS, completion

ANA = "15551234567"


def body_of(waba_id: str, changes: list, *, more_entries: list | None = None) -> bytes:
    entries = [{"id": waba_id, "changes": changes}, *(more_entries or [])]
    return json.dumps({"object": "whatsapp_business_account", "entry": entries}).encode()


class Breakable:
    """A handler for a test-only field that raises until it is mended."""

    def __init__(self) -> None:
        self.broken = True
        self.calls = 0

    def __call__(self, waba, value: dict) -> str:
        self.calls += 1
        if self.broken:
            raise RuntimeError("the handler fell over")
        return f"applied {value['n']}."


@pytest.fixture
def breakable():
    handler = Breakable()
    webhooks.register_handler("lost_test", handler)
    yield handler
    webhooks.HANDLERS["lost_test"].remove(handler)


def test_a_handler_that_raises_leaves_a_failed_delivery_that_replay_processes(
    client, waba, admin_user, breakable, caplog
):
    # One body: a completion and a change whose handler raises. The completion is kept.
    good = json.loads(completion(waba.meta_waba_id, HOTEL_ANSWERS))["entry"][0]["changes"][0]
    body = body_of(waba.meta_waba_id, [good, {"field": "lost_test", "value": {"n": 1}}])
    assert post_webhook(client, waba, body).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "FAILED"
    assert "lost_test: failed, RuntimeError: the handler fell over." in delivery.result
    assert "the handler fell over" in caplog.text and "Traceback" in caplog.text
    assert Event.objects.filter(name="WAF_Flow_Submitted").count() == 1

    admin = client_for(admin_user)
    page = admin.get("/settings/wabas/webhooks/")
    assert "1 delivery needs attention" in page.content.decode()
    assert admin.get("/healthz").json()["webhooks_needing_attention"] == 1
    listed = admin.get("/settings/wabas/webhooks/?show=attention").content.decode()
    assert "Replay" in listed and "the handler fell over" in listed

    detail = admin.get(f"/settings/wabas/webhooks/{delivery.pk}/").content.decode()
    assert f"/settings/wabas/webhooks/{delivery.pk}/replay/" in detail

    breakable.broken = False
    response = admin.post(f"/settings/wabas/webhooks/{delivery.pk}/replay/")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "PROCESSED"
    assert "lost_test: applied 1." in delivery.result
    # The completion ran again and changed nothing: still one submitted event.
    assert Event.objects.filter(name="WAF_Flow_Submitted").count() == 1
    assert "Nothing needs attention" in admin.get("/settings/wabas/webhooks/").content.decode()


def test_replay_is_for_admins_only(client, waba, marketer, breakable):
    post_webhook(
        client, waba, body_of(waba.meta_waba_id, [{"field": "lost_test", "value": {"n": 1}}])
    )
    delivery = WebhookDelivery.objects.get()
    assert (
        client_for(marketer).post(f"/settings/wabas/webhooks/{delivery.pk}/replay/").status_code
        == 403
    )
    delivery.refresh_from_db()
    assert delivery.status == "FAILED" and breakable.calls == 1


def test_replaying_a_processed_delivery_does_nothing(client, waba, admin_user):
    post_webhook(client, waba, completion(waba.meta_waba_id, HOTEL_ANSWERS))
    delivery = WebhookDelivery.objects.get()
    response = client_for(admin_user).post(
        f"/settings/wabas/webhooks/{delivery.pk}/replay/", follow=True
    )
    assert "nothing to replay" in response.content.decode()
    assert Event.objects.filter(name="WAF_Flow_Submitted").count() == 1


def message_with(**overrides) -> dict:
    change = json.loads(completion("1", HOTEL_ANSWERS, wamid="wamid.ODD"))["entry"][0]["changes"][0]
    message = change["value"]["messages"][0] | overrides
    change["value"]["messages"] = [message]
    return change


@pytest.mark.parametrize(
    ("odd", "reason"),
    [
        ("a change that is a string", "messages: refused, a change is not an object."),
        (["a list"], "?: refused, entry 1: changes is not a list."),
        ({"field": "messages", "value": "text"}, "messages: refused, its value is not an object."),
        (
            message_with(interactive={"type": "nfm_reply", "nfm_reply": "{}"}),
            "nfm_reply is not an object, refused.",
        ),
        (message_with(**{"from": "1" * 33}), "longer than 32 characters, refused."),
        (
            {"field": "messages", "value": {"messages": "not a list"}},
            "messages: refused, contacts or messages is not a list.",
        ),
    ],
    ids=["change-string", "changes-not-list", "value-string", "nfm-string", "long-from", "msgs"],
)
def test_an_odd_entry_is_refused_with_its_reason_and_the_rest_is_processed(
    client, waba, odd, reason
):
    good = json.loads(completion(waba.meta_waba_id, HOTEL_ANSWERS))["entry"][0]
    if odd == ["a list"]:
        entries = [{"id": waba.meta_waba_id, "changes": "a list"}, good]
    else:
        entries = [{"id": waba.meta_waba_id, "changes": [odd]}, good]
    if isinstance(odd, str):
        reason = "?: refused, entry 1: a change is not an object."
    body = json.dumps({"object": "whatsapp_business_account", "entry": entries}).encode()
    assert post_webhook(client, waba, body).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "PROCESSED"
    assert reason in delivery.result
    assert Event.objects.filter(name="WAF_Flow_Submitted").count() == 1
    assert Profile.objects.get().whatsapp_id == ANA


def test_an_entry_that_is_not_an_object_is_refused(client, waba):
    good = json.loads(completion(waba.meta_waba_id, HOTEL_ANSWERS))["entry"][0]
    body = json.dumps({"object": "whatsapp_business_account", "entry": [7, good]}).encode()
    post_webhook(client, waba, body)
    delivery = WebhookDelivery.objects.get()
    assert "?: refused, entry 1 is not an object." in delivery.result
    assert Event.objects.filter(name="WAF_Flow_Submitted").count() == 1


def stored_unfinished(waba, body: bytes, *, status: str = "RECEIVED", minutes: int = 0):
    delivery, _ = webhooks.store_delivery(body, signature="sha256=x", waba=waba)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status, received_at=timezone.now() - timedelta(minutes=minutes)
    )
    return delivery


def test_meta_re_delivering_a_body_we_never_finished_queues_it_again(client, waba):
    body = completion(waba.meta_waba_id, HOTEL_ANSWERS)
    delivery = stored_unfinished(waba, body)  # stored, but its task never reached a worker
    response = post_webhook(client, waba, body)
    assert (response.status_code, response.content) == (200, b"Queued again.")
    delivery.refresh_from_db()
    assert delivery.status == "PROCESSED"
    assert Event.objects.filter(name="WAF_Flow_Submitted").count() == 1
    # Once finished, a further re-delivery is just acknowledged.
    assert post_webhook(client, waba, body).content == b"Already received."


@pytest.mark.parametrize("status", ["RECEIVED", "PROCESSING"])
def test_the_beat_takes_up_deliveries_stuck_for_more_than_a_few_minutes(waba, status, settings):
    settings.WEBHOOK_STUCK_SECONDS = 300
    old = stored_unfinished(
        waba, completion(waba.meta_waba_id, HOTEL_ANSWERS), status=status, minutes=6
    )
    recent = stored_unfinished(
        waba,
        completion(waba.meta_waba_id, HOTEL_ANSWERS, wamid="wamid.NEW", sender="15550009999"),
        status=status,
        minutes=1,
    )
    assert list(WebhookDelivery.objects.needing_attention()) == [old]
    assert retake_stuck_webhooks_task.delay().get() == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.status, recent.status) == ("PROCESSED", status)
    assert Event.objects.filter(name="WAF_Flow_Submitted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_admin_sees_the_failed_delivery_and_replays_it_in_the_browser(
    live_server, browser, waba, admin_user, breakable
):
    from selenium.webdriver.common.by import By

    from .browser import screenshot, sign_in, wait

    post_webhook(
        client_for(None),
        waba,
        body_of(waba.meta_waba_id, [{"field": "lost_test", "value": {"n": 7}}]),
    )
    sign_in(browser, live_server.url, "alice")
    browser.get(f"{live_server.url}/settings/wabas/webhooks/")
    notice = browser.find_element(By.ID, "needs-attention").text
    assert "1 delivery needs attention" in notice
    screenshot(browser, "webhooks-attention-1280.png")
    browser.find_element(By.LINK_TEXT, "See it").click()
    browser.set_window_size(400, 900)
    screenshot(browser, "webhooks-attention-400.png")
    browser.set_window_size(1280, 900)
    breakable.broken = False
    browser.find_element(By.XPATH, "//button[normalize-space()='Replay']").click()
    wait(browser).until(lambda d: "Queued again" in d.find_element(By.TAG_NAME, "main").text)
    assert "Nothing needs attention." in browser.find_element(By.TAG_NAME, "main").text
    assert WebhookDelivery.objects.get().status == "PROCESSED"
    screenshot(browser, "webhooks-replayed-1280.png")
    browser.get(f"{live_server.url}/settings/wabas/webhooks/{WebhookDelivery.objects.get().pk}/")
    screenshot(browser, "webhook-detail-1280.png")
    browser.set_window_size(400, 900)
    screenshot(browser, "webhook-detail-400.png")
