"""The Graph API client against a small real HTTP server standing in for Meta (tests/fake_meta.py).

Each test scripts Meta's answers, makes real HTTP calls, and checks what Meta would have received and
what our callers get back: dicts, or typed errors that never carry the token. Templates, media and
messages are in test_graph_client_templates.py.
"""

from __future__ import annotations

import logging
import time
from http.server import ThreadingHTTPServer

import pytest

from wabas.graph import GraphClient, MetaAuthError, MetaError, MetaTransientError

from .fake_meta import FLOW_ID, PHONE_ID, TOKEN, WABA_ID, FakeMeta, Reply, fresh_meta, meta_error


@pytest.fixture
def meta(fake_meta_server: ThreadingHTTPServer) -> FakeMeta:
    return fresh_meta(fake_meta_server)


PEM = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n"


# --- contract: what Meta receives for each call -----------------------------------------------------


def test_every_call_carries_the_bearer_token_and_the_version(meta):
    meta.reply({"data": []})
    meta.client().list_flows(WABA_ID)
    request = meta.only
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.path == f"/meta/v23.0/{WABA_ID}/flows"
    assert "access_token" not in request.query


def test_create_flow_posts_json_and_returns_id_and_validation_errors(meta):
    errors = [{"error": "INVALID_PROPERTY_VALUE", "message": "Invalid value", "line_start": 10}]
    meta.reply({"id": FLOW_ID, "success": True, "validation_errors": errors})
    created = meta.client().create_flow(
        WABA_ID,
        name="dental_booking",
        categories=["APPOINTMENT_BOOKING"],
        flow_json='{"version": "7.3", "screens": []}',
        endpoint_uri="https://api.example.org/flows/booking",
        publish=True,
    )
    assert created == {"id": FLOW_ID, "validation_errors": errors}
    request = meta.only
    assert (request.method, request.path) == ("POST", f"/meta/v23.0/{WABA_ID}/flows")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "name": "dental_booking",
        "categories": ["APPOINTMENT_BOOKING"],
        "flow_json": '{"version": "7.3", "screens": []}',
        "endpoint_uri": "https://api.example.org/flows/booking",
        "publish": True,
    }


def test_cloning_a_flow_sends_only_what_was_given(meta):
    meta.reply({"id": "771023498811224"})
    created = meta.client().create_flow(
        WABA_ID, name="dental_booking_v2", categories=["OTHER"], clone_flow_id=FLOW_ID
    )
    assert created == {"id": "771023498811224", "validation_errors": []}
    assert meta.only.json == {
        "name": "dental_booking_v2",
        "categories": ["OTHER"],
        "clone_flow_id": FLOW_ID,
    }


def test_get_flow_asks_for_the_default_fields_without_invalidating_the_preview(meta):
    flow = {"id": FLOW_ID, "name": "dental_booking", "status": "DRAFT", "validation_errors": []}
    meta.reply(flow)
    assert meta.client().get_flow(FLOW_ID) == flow
    request = meta.only
    assert (request.method, request.path) == ("GET", f"/meta/v23.0/{FLOW_ID}")
    assert request.param("fields") == (
        "id,name,status,categories,validation_errors,json_version,data_api_version,"
        "endpoint_uri,preview.invalidate(false),health_status,updated_at"
    )


def test_get_flow_with_chosen_fields(meta):
    meta.reply({"id": FLOW_ID, "status": "PUBLISHED"})
    meta.client().get_flow(FLOW_ID, fields=["id", "status"])
    assert meta.only.param("fields") == "id,status"


def test_list_flows_follows_the_after_cursor_until_there_is_no_next_page(meta):
    first = {"id": FLOW_ID, "name": "dental_booking"}
    second = {"id": "771023498811224", "name": "survey"}
    meta.reply(
        {
            "data": [first],
            "paging": {
                "cursors": {"before": "QVFI", "after": "QVFJ"},
                "next": f"{meta.url}/v23.0/{WABA_ID}/flows?after=QVFJ",
            },
        },
        {"data": [second], "paging": {"cursors": {"before": "QVFK", "after": "QVFL"}}},
    )
    assert meta.client().list_flows(WABA_ID) == [first, second]
    assert [request.query for request in meta.received] == [{}, {"after": ["QVFJ"]}]


def test_update_flow_metadata_posts_only_the_changed_fields(meta):
    meta.reply({"success": True})
    meta.client().update_flow_metadata(FLOW_ID, name="dental_booking_2", categories=["OTHER"])
    request = meta.only
    assert (request.method, request.path) == ("POST", f"/meta/v23.0/{FLOW_ID}")
    assert request.json == {"name": "dental_booking_2", "categories": ["OTHER"]}


def test_update_flow_metadata_with_nothing_to_change_makes_no_call(meta):
    with pytest.raises(ValueError, match="at least one"):
        meta.client().update_flow_metadata(FLOW_ID)
    assert meta.received == []


def test_upload_flow_json_sends_the_three_multipart_parts(meta):
    errors = [{"error": "INVALID_PROPERTY", "error_type": "FLOW_JSON_ERROR", "message": "x"}]
    meta.reply({"success": True, "validation_errors": errors})
    flow_json = '{"version": "7.3", "screens": [{"id": "WELCOME", "title": "Olá"}]}'
    assert meta.client().upload_flow_json(FLOW_ID, flow_json) == errors
    request = meta.only
    assert (request.method, request.path) == ("POST", f"/meta/v23.0/{FLOW_ID}/assets")
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert set(request.parts) == {"file", "name", "asset_type"}
    file = request.parts["file"]
    assert (file.filename, file.content_type) == ("flow.json", "application/json")
    assert file.data == flow_json.encode()
    assert request.parts["name"].data == b"flow.json"
    assert request.parts["asset_type"].data == b"FLOW_JSON"


@pytest.mark.parametrize(
    ("action", "method", "path"),
    [
        ("publish_flow", "POST", f"/meta/v23.0/{FLOW_ID}/publish"),
        ("deprecate_flow", "POST", f"/meta/v23.0/{FLOW_ID}/deprecate"),
        ("delete_flow", "DELETE", f"/meta/v23.0/{FLOW_ID}"),
    ],
)
def test_flow_status_changes(meta, action, method, path):
    meta.reply({"success": True})
    assert getattr(meta.client(), action)(FLOW_ID) is None
    assert (meta.only.method, meta.only.path, meta.only.body) == (method, path, b"")


def test_an_answer_of_success_false_is_an_error(meta):
    meta.reply({"success": False})
    with pytest.raises(MetaError, match="could not publish the flow"):
        meta.client().publish_flow(FLOW_ID)


def test_set_business_public_key_sends_the_pem_as_a_form_field(meta):
    meta.reply({"success": True})
    meta.client().set_business_public_key(PHONE_ID, PEM)
    request = meta.only
    assert (request.method, request.path) == (
        "POST",
        f"/meta/v23.0/{PHONE_ID}/whatsapp_business_encryption",
    )
    assert set(request.parts) == {"business_public_key"}
    key = request.parts["business_public_key"]
    assert key.filename is None
    assert key.data.decode() == PEM


def test_get_business_public_key_unwraps_meta_data_list(meta):
    meta.reply(
        {"data": [{"business_public_key": PEM, "business_public_key_signature_status": "MISMATCH"}]}
    )
    assert meta.client().get_business_public_key(PHONE_ID) == {
        "business_public_key": PEM,
        "business_public_key_signature_status": "MISMATCH",
    }
    assert (meta.only.method, meta.only.path) == (
        "GET",
        f"/meta/v23.0/{PHONE_ID}/whatsapp_business_encryption",
    )


def test_list_phone_numbers_asks_for_quality_and_throughput(meta):
    number = {
        "id": PHONE_ID,
        "display_phone_number": "+1 555 0100",
        "verified_name": "Hotel Azul",
        "quality_rating": "GREEN",
        "throughput": {"level": "STANDARD"},
    }
    meta.reply({"data": [number]})
    assert meta.client().list_phone_numbers(WABA_ID) == [number]
    request = meta.only
    assert (request.method, request.path) == ("GET", f"/meta/v23.0/{WABA_ID}/phone_numbers")
    assert (
        request.param("fields") == "id,display_phone_number,verified_name,quality_rating,throughput"
    )


def test_for_waba_uses_the_wabas_url_version_and_decrypted_token(meta, waba):
    waba.graph_base_url = meta.url + "/"
    waba.graph_api_version = "v21.0"
    meta.reply({"data": []})
    client = GraphClient.for_waba(waba)
    assert client.list_phone_numbers(waba.meta_waba_id) == []
    assert meta.only.path == f"/meta/v21.0/{waba.meta_waba_id}/phone_numbers"
    assert meta.only.headers["Authorization"] == f"Bearer {waba.access_token}"
    assert waba.access_token not in repr(client)


# --- errors: what a caller catches ------------------------------------------------------------------


def test_a_meta_error_becomes_a_meta_error_with_everything_meta_said(meta):
    meta.reply(
        meta_error(
            139002,
            "(#139002) Publishing Flow in invalid state",
            error_subcode=2494068,
            error_user_title="Flow can't be published",
            error_user_msg="Publishing Flow with validation errors",
            error_data={
                "messaging_product": "whatsapp",
                "details": "Publishing Flow with validation errors",
            },
            fbtrace_id="AbCdEfGh123",
        )
    )
    with pytest.raises(MetaError) as caught:
        meta.client().publish_flow(FLOW_ID)
    error = caught.value
    assert type(error) is MetaError
    assert (
        str(error)
        == "Meta refused the request (code 139002): Publishing Flow with validation errors"
    )
    assert (error.code, error.subcode, error.http_status) == (139002, 2494068, 400)
    assert error.message == "(#139002) Publishing Flow in invalid state"
    assert error.user_message == "Publishing Flow with validation errors"
    assert error.trace_id == "AbCdEfGh123"
    assert error.details == "Publishing Flow with validation errors"


def test_meta_details_are_added_when_they_say_more(meta):
    meta.reply(
        meta_error(
            100,
            "(#100) Invalid parameter",
            error_user_title="Flow name is not unique",
            error_data={"messaging_product": "whatsapp", "details": "Name 'survey' is taken"},
        )
    )
    with pytest.raises(MetaError) as caught:
        meta.client().create_flow(WABA_ID, name="survey", categories=["SURVEY"])
    assert str(caught.value) == (
        "Meta refused the request (code 100): Flow name is not unique (Name 'survey' is taken)"
    )
    assert len(meta.received) == 1


def test_without_a_user_message_the_plain_message_is_shown(meta):
    meta.reply(meta_error(131009, "(#131009) Parameter value is not valid"))
    with pytest.raises(
        MetaError, match=r"^Meta refused the request \(code 131009\): \(#131009\) Param"
    ):
        meta.client().get_flow(FLOW_ID)


def test_an_expired_token_is_an_auth_error(meta):
    meta.reply(meta_error(190, "Error validating access token: Session has expired", status=401))
    with pytest.raises(MetaAuthError) as caught:
        meta.client().list_phone_numbers(WABA_ID)
    assert str(caught.value) == (
        "Meta rejected the token (code 190): Error validating access token: Session has expired"
    )
    assert caught.value.code == 190
    assert len(meta.received) == 1


def test_code_0_is_an_auth_error_whatever_the_status(meta):
    meta.reply(meta_error(0, "AuthException", status=400))
    with pytest.raises(MetaAuthError, match="^Meta rejected the token"):
        meta.client().get_flow(FLOW_ID)


def test_a_401_that_is_not_json_is_still_an_auth_error(meta):
    meta.reply(Reply(401, "<html>Unauthorized</html>"))
    with pytest.raises(MetaAuthError) as caught:
        meta.client().get_flow(FLOW_ID)
    assert str(caught.value) == "Meta rejected the token (HTTP 401): Meta's answer was not JSON."


@pytest.mark.parametrize("status", [200, 404])
def test_an_answer_that_is_not_json_is_a_clear_error(meta, status):
    meta.reply(Reply(status, "<html>Sorry, something went wrong.</html>"))
    with pytest.raises(MetaError) as caught:
        meta.client().get_flow(FLOW_ID)
    assert not isinstance(caught.value, MetaTransientError)
    assert caught.value.http_status == status
    if status == 200:
        assert str(caught.value) == "Meta answered with something that is not JSON (HTTP 200)."
    else:
        assert (
            str(caught.value) == "Meta refused the request (HTTP 404): Meta's answer was not JSON."
        )
    assert len(meta.received) == 1


def test_a_502_that_is_not_json_is_transient(meta):
    meta.reply(*[Reply(502, "<html>Bad Gateway</html>")] * 2)
    with pytest.raises(MetaTransientError) as caught:
        meta.client(max_retries=1).get_flow(FLOW_ID)
    assert str(caught.value) == (
        "Meta could not handle the request right now (HTTP 502): Meta's answer was not JSON."
    )
    assert len(meta.received) == 2


def test_is_transient_true_makes_any_error_transient(meta):
    meta.reply(meta_error(1, "An unknown error occurred", is_transient=True))
    with pytest.raises(MetaTransientError):
        meta.client(max_retries=0).get_flow(FLOW_ID)


def test_an_unreachable_meta_is_transient():
    client = GraphClient(base_url="http://127.0.0.1:9", api_version="v23.0", access_token=TOKEN)
    client.max_retries = 0
    with pytest.raises(MetaTransientError, match="^Could not reach Meta at http://127.0.0.1:9"):
        client.get_flow(FLOW_ID)


# --- retries ----------------------------------------------------------------------------------------


def test_a_500_is_retried_once_and_then_succeeds(meta):
    meta.reply(meta_error(2, "Service temporarily unavailable", status=500), {"id": FLOW_ID})
    assert meta.client().get_flow(FLOW_ID) == {"id": FLOW_ID}
    assert len(meta.received) == 2


def test_a_429_waits_as_long_as_retry_after_says(meta):
    meta.reply(
        Reply(429, {"error": {"message": "Too many calls", "code": 4}}, {"Retry-After": "1"}),
        {"id": FLOW_ID},
    )
    started = time.monotonic()
    assert meta.client().get_flow(FLOW_ID) == {"id": FLOW_ID}
    assert time.monotonic() - started >= 0.9
    assert len(meta.received) == 2


def test_retry_after_is_capped_by_max_backoff(meta):
    meta.reply(
        Reply(429, {"error": {"message": "Slow down", "code": 4}}, {"Retry-After": "60"}), {}
    )
    started = time.monotonic()
    meta.client(max_backoff=0.2).get_flow(FLOW_ID)
    assert time.monotonic() - started < 1
    assert len(meta.received) == 2


@pytest.mark.parametrize("code", [4, 80007, 130429, 131056])
def test_throttling_codes_are_retried(meta, code):
    meta.reply(meta_error(code, "(#80007) Rate limit issues"), {"id": FLOW_ID})
    assert meta.client().get_flow(FLOW_ID) == {"id": FLOW_ID}
    assert len(meta.received) == 2


def test_a_persistent_503_gives_up_after_max_retries_plus_one_attempts(meta):
    meta.reply(*[meta_error(2, "Service unavailable", status=503)] * 4)
    with pytest.raises(MetaTransientError) as caught:
        meta.client(max_retries=3).list_flows(WABA_ID)
    assert str(caught.value) == (
        "Meta could not handle the request right now (code 2): Service unavailable"
    )
    assert caught.value.http_status == 503
    assert len(meta.received) == 4


def test_a_read_timeout_is_retried_then_reported_as_transient(meta):
    meta.reply(Reply(delay=0.6, body={"id": FLOW_ID}), Reply(delay=0.6, body={"id": FLOW_ID}))
    client = meta.client(timeout=(1, 0.3), max_retries=1)
    started = time.monotonic()
    with pytest.raises(MetaTransientError, match="^Meta did not answer in time"):
        client.get_flow(FLOW_ID)
    assert 0.6 <= time.monotonic() - started < 2
    assert len(meta.received) == 2


def test_a_read_timeout_then_an_answer_succeeds(meta):
    meta.reply(Reply(delay=0.6, body={}), {"id": FLOW_ID})
    assert meta.client(timeout=(1, 0.3)).get_flow(FLOW_ID) == {"id": FLOW_ID}
    assert len(meta.received) == 2


def test_a_permanent_error_is_not_retried(meta):
    meta.reply(meta_error(100, "(#100) Invalid parameter"), {"id": FLOW_ID})
    with pytest.raises(MetaError) as caught:
        meta.client().get_flow(FLOW_ID)
    assert not isinstance(caught.value, MetaTransientError)
    assert len(meta.received) == 1


def test_retries_stop_when_the_retry_budget_is_spent(meta):
    meta.reply(*[Reply(503, {"error": {"message": "Busy", "code": 2}}, {"Retry-After": "1"})] * 4)
    started = time.monotonic()
    with pytest.raises(MetaTransientError):
        meta.client(max_retries=3, retry_budget=1.5).get_flow(FLOW_ID)
    # One wait of a second fits in the budget; a second one would not.
    assert len(meta.received) == 2
    assert time.monotonic() - started < 1.5


# --- calls that must never be repeated blindly ------------------------------------------------------


def test_create_flow_that_went_through_despite_a_500_is_found_not_made_twice(meta):
    meta.reply(
        meta_error(131000, "Something went wrong", status=500),
        {"data": [{"id": "771023498811299", "name": "survey", "validation_errors": []}]},
    )
    created = meta.client().create_flow(WABA_ID, name="survey", categories=["SURVEY"])
    assert created == {"id": "771023498811299", "validation_errors": []}
    assert [(r.method, r.path) for r in meta.received] == [
        ("POST", f"/meta/v23.0/{WABA_ID}/flows"),
        ("GET", f"/meta/v23.0/{WABA_ID}/flows"),
    ]


def test_create_flow_that_did_not_go_through_is_tried_again(meta):
    meta.reply(
        meta_error(131000, "Something went wrong", status=500),
        {"data": [{"id": "771023498811200", "name": "another flow"}]},
        {"id": "771023498811299"},
    )
    created = meta.client().create_flow(WABA_ID, name="survey", categories=["SURVEY"])
    assert created == {"id": "771023498811299", "validation_errors": []}
    assert [r.method for r in meta.received] == ["POST", "GET", "POST"]
    assert meta.received[0].json == meta.received[2].json


def test_create_flow_gives_up_when_it_cannot_look(meta):
    meta.reply(
        meta_error(131000, "Something went wrong", status=500),
        *[meta_error(2, "Service unavailable", status=503)] * 2,
    )
    with pytest.raises(MetaTransientError, match="Something went wrong"):
        meta.client(max_retries=1).create_flow(WABA_ID, name="survey", categories=["SURVEY"])
    assert [r.method for r in meta.received] == ["POST", "GET", "GET"]


def test_create_flow_tries_at_most_max_retries_plus_one_times(meta):
    for _ in range(2):
        meta.reply(meta_error(131000, "Something went wrong", status=500), {"data": []})
    with pytest.raises(MetaTransientError):
        meta.client(max_retries=1).create_flow(WABA_ID, name="survey", categories=["SURVEY"])
    assert [r.method for r in meta.received] == ["POST", "GET", "POST", "GET"]


# --- the token never leaves the client --------------------------------------------------------------


def test_the_token_never_appears_in_errors_or_logs_even_when_meta_echoes_it(meta, caplog):
    caplog.set_level(logging.DEBUG)
    echo = f"Invalid OAuth access token - Cannot parse access token {TOKEN}"
    meta.reply(
        meta_error(1, echo, status=500, error_data={"details": f"token={TOKEN}"}),
        meta_error(190, echo, status=401, error_user_msg=f"Token {TOKEN} is not valid"),
    )
    client = meta.client()
    with pytest.raises(MetaAuthError) as caught:
        client.get_flow(FLOW_ID)
    error = caught.value
    assert len(meta.received) == 2
    assert meta.received[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert str(error).startswith(
        "Meta rejected the token (code 190): Token [redacted] is not valid"
    )
    for text in (str(error), repr(error), error.message, error.user_message, str(error.args)):
        assert TOKEN not in text
    assert TOKEN not in repr(client)
    assert "retrying" in caplog.text  # the transient echo was logged, and redacted
    assert TOKEN not in caplog.text
    assert "Bearer" not in caplog.text


def test_transient_errors_are_redacted_too(meta):
    meta.reply(meta_error(2, f"Backend down for {TOKEN}", status=503))
    with pytest.raises(MetaTransientError) as caught:
        meta.client(max_retries=0).get_flow(FLOW_ID)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    assert "[redacted]" in caught.value.message


# --- the app's subscription to the WABA (issue 13) ------------------------------------------------


def test_subscribe_app_posts_to_subscribed_apps_with_no_body(meta):
    meta.reply({"success": True})
    meta.client().subscribe_app(WABA_ID)
    request = meta.only
    assert (request.method, request.path) == ("POST", f"/meta/v23.0/{WABA_ID}/subscribed_apps")
    assert request.body == b""


def test_subscribe_app_refused_is_a_meta_error(meta):
    meta.reply(meta_error(200, "Permissions error", status=403))
    with pytest.raises(MetaError, match="Permissions error"):
        meta.client().subscribe_app(WABA_ID)


def test_list_subscribed_apps_unwraps_the_app_data(meta):
    app = {"id": "300000000000001", "name": "Flows dashboard", "link": "https://example.test/"}
    meta.reply({"data": [{"whatsapp_business_api_data": app}]})
    assert meta.client().list_subscribed_apps(WABA_ID) == [app]
    assert (meta.only.method, meta.only.path) == ("GET", f"/meta/v23.0/{WABA_ID}/subscribed_apps")


def test_send_flow_message_posts_an_interactive_flow_message_version_3(meta):
    meta.reply(
        {
            "contacts": [{"input": "15551234567", "wa_id": "15551234567"}],
            "messages": [{"id": "wamid.X"}],
        }
    )
    sent = meta.client().send_flow_message(
        PHONE_ID,
        to="15551234567",
        flow_id=FLOW_ID,
        flow_cta="Book now",
        body="Pick a slot",
        flow_token="wft1.token",
        mode="draft",
        screen="PICK_SLOT",
        data={"zip": "10115"},
    )
    assert sent.wamid == "wamid.X"
    request = meta.only
    assert (request.method, request.path) == ("POST", f"/meta/v23.0/{PHONE_ID}/messages")
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "15551234567",
        "type": "interactive",
        "interactive": {
            "type": "flow",
            "body": {"text": "Pick a slot"},
            "action": {
                "name": "flow",
                "parameters": {
                    "flow_message_version": "3",
                    "flow_id": FLOW_ID,
                    "flow_token": "wft1.token",
                    "flow_cta": "Book now",
                    "mode": "draft",
                    "flow_action": "navigate",
                    "flow_action_payload": {"screen": "PICK_SLOT", "data": {"zip": "10115"}},
                },
            },
        },
    }
