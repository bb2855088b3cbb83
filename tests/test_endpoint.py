"""The hosted data-exchange endpoint at /meta/flows/<public id>/, as Meta's client sees it.

Requests are built by tests/meta_client.py, which shares no code with the server, and sent as raw bodies.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import DatabaseError
from django.test import Client

from audience.models import Event, Profile
from exchange.crypto import load_private_key
from exchange.models import EndpointError
from flowsadmin.models import Flow
from flowsadmin.tokens import issue_flow_token

from .endpoint_support import BUS, TOKEN, call, exchange_request, post, url_of
from .meta_client import MetaPhone, b64, hs256_jwt

pytestmark = pytest.mark.usefixtures("fresh_endpoint_caches")

# Actions


def test_ping_answers_active(phone, bus_flow):
    assert call(phone, bus_flow, {"version": "3.0", "action": "ping"}) == (
        200,
        {"data": {"status": "active"}},
    )


def test_the_answer_is_encrypted_with_the_inverted_iv(phone, bus_flow):
    sealed = phone.seal({"version": "3.0", "action": "ping"})
    response = post(bus_flow, sealed.body, sealed.signature)
    assert response.status_code == 200
    raw = base64.b64decode(response.content)
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    with pytest.raises(InvalidTag):  # not the request's own IV...
        AESGCM(sealed.aes_key).decrypt(sealed.iv, raw, None)
    assert sealed.open(response.content) == {"data": {"status": "active"}}  # ...but its inverse


def test_init_opens_the_first_screen(phone, bus_flow):
    status, answer = call(
        phone, bus_flow, {"version": "3.0", "action": "INIT", "flow_token": TOKEN}
    )
    assert status == 200
    assert answer == {"version": "3.0", "screen": "welcome_screen", "data": {}}


def test_data_exchange_navigates_to_next_screen_with_the_rest_of_the_payload(phone, bus_flow):
    payload = {
        "next_screen": "seat_selection",
        "depart_from": "Pune",
        "arrive_in": "Goa",
        "ct-evt": {"evtName": "Date Selected", "evtData": {"depart_from": "Pune"}},
        "ct-up": {"City": "Pune"},
    }
    status, answer = call(phone, bus_flow, exchange_request("welcome_screen", payload))
    assert status == 200
    assert answer == {
        "version": "3.0",
        "screen": "seat_selection",
        "data": {"depart_from": "Pune", "arrive_in": "Goa"},
    }


def test_back_re_opens_the_screen_returned_to(phone, bus_flow):
    request = {"version": "3.0", "action": "BACK", "screen": "seat_selection", "flow_token": TOKEN}
    assert call(phone, bus_flow, request) == (
        200,
        {"version": "3.0", "screen": "seat_selection", "data": {}},
    )


def test_next_screen_success_closes_the_flow_with_the_token_in_params(phone, bus_flow):
    payload = {"next_screen": "SUCCESS", "booking_id": "B-1042", "ct-evt": {"evtName": "Booked"}}
    status, answer = call(phone, bus_flow, exchange_request("booking_confirmation", payload))
    assert status == 200
    assert answer == {
        "version": "3.0",
        "screen": "SUCCESS",
        "data": {
            "extension_message_response": {"params": {"booking_id": "B-1042", "flow_token": TOKEN}}
        },
    }
    assert Event.objects.get().name == "Booked"


@pytest.mark.parametrize(
    ("payload", "recorded"),
    [
        ({"depart_from": "Pune"}, "The payload has no next_screen."),
        (
            {"next_screen": "nowhere", "depart_from": "Pune"},
            "next_screen 'nowhere' is not a screen of the flow.",
        ),
        (
            {"next_screen": "booking_confirmation"},
            "The routing model has no route welcome_screen → booking_confirmation.",
        ),
    ],
    ids=["missing", "unknown", "off the routing model"],
)
def test_a_missing_or_unknown_next_screen_shows_an_error_on_the_current_screen(
    phone, bus_flow, payload, recorded
):
    status, answer = call(phone, bus_flow, exchange_request("welcome_screen", payload))
    assert status == 200
    assert answer == {
        "version": "3.0",
        "screen": "welcome_screen",
        "data": {"error_message": "This step isn't available right now. Please try again later."},
    }
    error = EndpointError.objects.get(flow=bus_flow)
    assert (error.kind, error.message) == ("navigation", recorded)


def test_an_error_notification_is_acknowledged_and_recorded(phone, bus_flow):
    request = exchange_request(
        "seat_selection",
        {
            "error": "invalid_screen_transition",
            "error_message": "Screen DONE is not reachable from seat_selection",
        },
    )
    assert call(phone, bus_flow, request) == (200, {"data": {"acknowledged": True}})
    error = EndpointError.objects.get(flow=bus_flow)
    assert error.kind == "client_error"
    assert error.message == "Screen DONE is not reachable from seat_selection"
    assert error.detail["error"] == "invalid_screen_transition"
    assert not Event.objects.exists()


def test_an_unknown_action_gets_an_encrypted_error_not_a_crash(phone, bus_flow):
    request = {"version": "3.0", "action": "teleport", "screen": "seat_selection"}
    status, answer = call(phone, bus_flow, request)
    assert status == 200
    assert answer["screen"] == "seat_selection"
    assert answer["data"]["error_message"]
    assert EndpointError.objects.get(flow=bus_flow).kind == "unknown_action"


def test_a_request_without_flow_token_still_works(phone, bus_flow):
    request = {"version": "3.0", "action": "INIT"}
    assert call(phone, bus_flow, request)[1]["screen"] == "welcome_screen"


def test_ct_keys_outside_data_exchange_are_not_ingested(phone, bus_flow):
    ct = {"ct-evt": {"evtName": "Should not count"}, "ct-up": {"Name": "Nobody"}}
    call(phone, bus_flow, {"version": "3.0", "action": "INIT", "flow_token": TOKEN, "data": ct})
    back = {"version": "3.0", "action": "BACK", "screen": "seat_selection", "flow_token": TOKEN}
    call(phone, bus_flow, back | {"data": ct})
    assert not Event.objects.exists()


def test_pkcs1_and_passphrase_protected_keys_load():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"s3cret"),
    ).decode()
    assert "BEGIN RSA PRIVATE KEY" in pkcs1
    loaded = load_private_key(pkcs1, password=b"s3cret")
    assert loaded.private_numbers() == key.private_numbers()


# Flow tokens


def test_our_signed_token_attaches_events_and_profile_updates_to_the_recipient(phone, bus_flow):
    token = issue_flow_token(whatsapp_id="15551234567", campaign_id=7, flow=bus_flow)
    payload = {
        "next_screen": "seat_selection",
        "ct-evt": {"evtName": "Date Selected", "evtData": {"depart_from": "Pune"}},
        "ct-up": {"Name": "Ana Ruiz", "Email": "ana@example.org", "Seat pref": "window"},
    }
    status, _ = call(phone, bus_flow, exchange_request("welcome_screen", payload, token))
    assert status == 200
    profile = Profile.objects.get(whatsapp_id="15551234567")
    assert (profile.name, profile.email) == ("Ana Ruiz", "ana@example.org")
    assert profile.properties == {"Seat pref": "window"}
    assert sorted(profile.events.values_list("name", flat=True)) == [
        "Date Selected",
        "WAF_ProfileUpdated",
    ]


def test_a_foreign_token_is_accepted_and_its_events_wait_for_stitching(phone, bus_flow):
    payload = {
        "next_screen": "seat_selection",
        "ct-evt": {"evtName": "Date Selected", "evtData": {"depart_from": "Pune"}},
    }
    status, answer = call(phone, bus_flow, exchange_request("welcome_screen", payload))
    assert (status, answer["screen"]) == (200, "seat_selection")
    event = Event.objects.get()
    assert (event.profile, event.flow, event.flow_token) == (None, bus_flow, TOKEN)
    assert (event.source, event.properties) == ("endpoint", {"depart_from": "Pune"})


def test_text_postgresql_cannot_hold_is_kept_not_lost(phone, bus_flow):
    """A NUL character (which PostgreSQL text refuses) in any part of an event still records it."""
    payload = {
        "next_screen": "seat_selection",
        "ct-evt": {"evtName": "Odd\x00name", "evtData": {"note\x00": ["a\x00b"], "n": 5}},
    }
    status, answer = call(phone, bus_flow, exchange_request("welcome_screen", payload, "t\x00k"))
    assert (status, answer["screen"]) == (200, "seat_selection")
    event = Event.objects.get()
    assert (event.name, event.flow_token) == ("Odd\ufffdname", "t\ufffdk")
    assert event.properties == {"note\ufffd": ["a\ufffdb"], "n": 5}


def test_a_nul_in_a_profile_update_does_not_stop_the_user(phone, bus_flow):
    token = issue_flow_token(whatsapp_id="15551234567", flow=bus_flow)
    payload = {"next_screen": "seat_selection", "ct-up": {"Name": "A\x00na", "Seat\x00": "w\x00"}}
    status, answer = call(phone, bus_flow, exchange_request("welcome_screen", payload, token))
    assert (status, answer["screen"]) == (200, "seat_selection")
    profile = Profile.objects.get(whatsapp_id="15551234567")
    assert (profile.name, profile.properties) == ("A\ufffdna", {"Seat\ufffd": "w\ufffd"})


def test_when_an_event_cannot_be_written_the_user_stays_and_can_send_it_again(
    phone, bus_flow, monkeypatch
):
    """Nothing is acknowledged that was not recorded: the screen does not advance, so the user's
    next press sends the same ct-evt again."""
    payload = {"next_screen": "seat_selection", "ct-evt": {"evtName": "Date Selected"}}

    def database_down(*args: object, **kwargs: object) -> None:
        raise DatabaseError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(Event.objects, "insert", database_down)
        status, answer = call(phone, bus_flow, exchange_request("welcome_screen", payload))
    assert (status, answer["screen"]) == (200, "welcome_screen")
    assert "Something went wrong on our side" in answer["data"]["error_message"]

    status, answer = call(phone, bus_flow, exchange_request("welcome_screen", payload))
    assert answer["screen"] == "seat_selection"
    assert Event.objects.get().name == "Date Selected"


@pytest.mark.parametrize("forge", ["tampered", "other flow"])
def test_a_token_that_claims_to_be_ours_but_fails_gets_427(phone, bus_flow, waba, forge):
    if forge == "tampered":
        token = issue_flow_token(whatsapp_id="15551234567")[:-3] + "xyz"
    else:
        other = Flow.objects.create(waba=waba, name="Other", flow_json=BUS)
        token = issue_flow_token(whatsapp_id="15551234567", flow=other)
    payload = {"next_screen": "seat_selection", "ct-evt": {"evtName": "Date Selected"}}
    status, answer = call(phone, bus_flow, exchange_request("welcome_screen", payload, token))
    assert status == 427
    assert answer == {"error_msg": "This form is no longer available."}
    assert not Event.objects.exists()
    assert EndpointError.objects.get(flow=bus_flow).kind == "invalid_token"


@pytest.fixture
def ours_only(bus_flow) -> Flow:
    bus_flow.requires_our_token = True
    bus_flow.save()
    return bus_flow


@pytest.mark.parametrize("token", [TOKEN, None], ids=["foreign", "missing"])
def test_a_flow_that_requires_our_tokens_refuses_others_with_427(phone, ours_only, token):
    request = exchange_request("welcome_screen", {"next_screen": "seat_selection"}, token)
    if token is None:
        del request["flow_token"]
    status, answer = call(phone, ours_only, request)
    assert (status, answer) == (427, {"error_msg": "This form is no longer available."})
    assert "only flow tokens we issued" in EndpointError.objects.get(flow=ours_only).message
    assert call(phone, ours_only, {"version": "3.0", "action": "ping"})[0] == 200


def test_a_flow_that_requires_our_tokens_serves_ours(phone, ours_only):
    token = issue_flow_token(whatsapp_id="15551234567", flow=ours_only)
    request = exchange_request("welcome_screen", {"next_screen": "seat_selection"}, token)
    assert call(phone, ours_only, request) == (
        200,
        {"version": "3.0", "screen": "seat_selection", "data": {}},
    )


def signed_request(waba, token: str = TOKEN, **claims: object) -> dict:
    jwt = hs256_jwt({"flow_token": token, "exp": time.time() + 300} | claims, waba.app_secret)
    request = exchange_request("welcome_screen", {"next_screen": "seat_selection"}, token)
    return request | {"version": "4.0", "flow_token_signature": jwt}


def test_a_valid_flow_token_signature_is_served(phone, bus_flow, waba):
    status, answer = call(phone, bus_flow, signed_request(waba))
    assert (status, answer["screen"]) == (200, "seat_selection")


@pytest.mark.parametrize(
    "signature",
    [
        lambda waba: hs256_jwt({"flow_token": TOKEN}, "not-the-app-secret"),
        lambda waba: hs256_jwt({"flow_token": TOKEN}, waba.app_secret, alg="none"),
        lambda waba: hs256_jwt({"flow_token": TOKEN, "exp": time.time() - 60}, waba.app_secret),
        lambda waba: hs256_jwt({"flow_token": "someone-else"}, waba.app_secret),
        lambda waba: "not.a.jwt",
        lambda waba: "",
        lambda waba: 42,
    ],
    ids=["other secret", "alg none", "expired", "other token", "garbage", "empty", "number"],
)
def test_a_flow_token_signature_that_fails_gets_427(phone, bus_flow, waba, signature):
    request = signed_request(waba) | {"flow_token_signature": signature(waba)}
    status, answer = call(phone, bus_flow, request)
    assert (status, answer) == (427, {"error_msg": "This form is no longer available."})
    assert "flow_token_signature" in EndpointError.objects.get(flow=bus_flow).message


# Bad input: none of it is a 500, and nothing before the signature check is recorded.


def test_a_body_that_is_not_json_is_400(phone, bus_flow):
    body = b"encrypted_flow_data=abc"
    assert post(bus_flow, body, phone.sign(body)).status_code == 400


@pytest.mark.parametrize("drop", ["encrypted_flow_data", "encrypted_aes_key", "initial_vector"])
def test_a_body_missing_a_field_is_400(phone, bus_flow, drop):
    fields, _, _ = phone.envelope(b'{"action":"ping"}')
    del fields[drop]
    sealed = phone.seal_fields(fields)
    assert post(bus_flow, sealed.body, sealed.signature).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"text"',
        b'{"encrypted_flow_data": 1, "encrypted_aes_key": [], "initial_vector": null}',
        b"[" * 100_000,
    ],
    ids=["list", "string", "wrong types", "nested too deep"],
)
def test_json_that_is_not_the_envelope_is_400(phone, bus_flow, body):
    assert post(bus_flow, body, phone.sign(body)).status_code == 400


@pytest.mark.parametrize("field", ["encrypted_flow_data", "encrypted_aes_key", "initial_vector"])
def test_bad_base64_is_421(phone, bus_flow, field):
    fields, _, _ = phone.envelope(b'{"action":"ping"}')
    fields[field] = "***not base64***"
    sealed = phone.seal_fields(fields)
    assert post(bus_flow, sealed.body, sealed.signature).status_code == 421
    assert EndpointError.objects.get(flow=bus_flow).kind == "undecryptable"


def test_a_key_encrypted_for_another_public_key_is_421(phone, bus_flow, waba):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    stranger_pem = stranger.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    sealed = MetaPhone(stranger_pem, waba.app_secret).seal({"version": "3.0", "action": "ping"})
    assert post(bus_flow, sealed.body, sealed.signature).status_code == 421


def test_a_tampered_gcm_tag_is_421(phone, bus_flow):
    fields, _, _ = phone.envelope(b'{"version":"3.0","action":"ping"}')
    blob = bytearray(base64.b64decode(fields["encrypted_flow_data"]))
    blob[-1] ^= 0x01
    fields["encrypted_flow_data"] = b64(bytes(blob))
    sealed = phone.seal_fields(fields)
    assert post(bus_flow, sealed.body, sealed.signature).status_code == 421


def test_a_wrong_iv_length_is_421(phone, bus_flow):
    # Encrypted consistently with a 12-byte IV, the usual GCM size, which Meta does not use.
    sealed = phone.seal({"version": "3.0", "action": "ping"}, iv=b"\x01" * 12)
    assert post(bus_flow, sealed.body, sealed.signature).status_code == 421


@pytest.mark.parametrize("keep", [40, 10, 0])
def test_a_truncated_ciphertext_is_421(phone, bus_flow, keep):
    fields, _, _ = phone.envelope(b'{"version":"3.0","action":"ping","flow_token":"x"}')
    fields["encrypted_flow_data"] = b64(base64.b64decode(fields["encrypted_flow_data"])[:keep])
    sealed = phone.seal_fields(fields)
    assert post(bus_flow, sealed.body, sealed.signature).status_code == 421


@pytest.mark.parametrize(
    "clear", [b"action=ping", b"[1, 2]", b"\xff\xfe"], ids=["text", "list", "not utf-8"]
)
def test_a_valid_encryption_of_something_else_than_a_json_object_is_421(phone, bus_flow, clear):
    sealed = phone.seal(clear)
    assert post(bus_flow, sealed.body, sealed.signature).status_code == 421


def test_a_waba_without_its_private_key_answers_421_not_500(phone, bus_flow, waba):
    sealed = phone.seal({"version": "3.0", "action": "ping"})
    waba.key_pair.delete()
    assert post(bus_flow, sealed.body, sealed.signature).status_code == 421
    error = EndpointError.objects.get(flow=bus_flow)
    assert error.message == "The WABA's private key is missing or unreadable."


def test_a_huge_payload_is_refused_413_before_any_work(phone, bus_flow, settings):
    settings.FLOW_ENDPOINT_MAX_BODY_BYTES = 64 * 1024
    sealed = phone.seal({"version": "3.0", "action": "data_exchange", "data": {"x": "a" * 100_000}})
    assert post(bus_flow, sealed.body, sealed.signature).status_code == 413
    assert not EndpointError.objects.exists()


def test_the_default_body_limit_is_one_megabyte(phone, bus_flow):
    body = json.dumps({"encrypted_flow_data": "A" * (1024 * 1024)}).encode()
    assert post(bus_flow, body, phone.sign(body)).status_code == 413


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=" + "0" * 64, "sha1=abc", "other-secret"],
    ids=["missing", "empty", "zeros", "sha1", "another secret"],
)
def test_a_bad_signature_is_432_and_nothing_is_recorded(phone, bus_flow, signature):
    sealed = phone.seal(
        exchange_request(
            "welcome_screen", {"next_screen": "seat_selection", "ct-evt": {"evtName": "X"}}
        )
    )
    if signature == "other-secret":
        signature = MetaPhone(phone_pem(bus_flow), "someone-elses-secret").sign(sealed.body)
    assert post(bus_flow, sealed.body, signature).status_code == 432
    assert not Event.objects.exists() and not EndpointError.objects.exists()


def phone_pem(flow: Flow) -> str:
    return flow.waba.key_pair.public_pem


def test_a_body_changed_after_signing_is_432(phone, bus_flow):
    sealed = phone.seal({"version": "3.0", "action": "ping"})
    tampered = sealed.body.replace(b'"initial_vector"', b'"initial_vector" ')
    assert post(bus_flow, tampered, sealed.signature).status_code == 432


def test_an_unknown_flow_is_404(phone, bus_flow):
    sealed = phone.seal({"version": "3.0", "action": "ping"})
    response = Client().post(
        "/meta/flows/00000000-0000-4000-8000-000000000000/",
        sealed.body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sealed.signature,
    )
    assert response.status_code == 404


def test_a_flow_on_a_custom_endpoint_is_not_served_here(phone, bus_flow):
    bus_flow.endpoint = Flow.Endpoint.CUSTOM
    bus_flow.custom_endpoint_url = "https://flows.example.com/endpoint"
    bus_flow.save()
    sealed = phone.seal({"version": "3.0", "action": "ping"})
    assert post(bus_flow, sealed.body, sealed.signature).status_code == 404


def test_only_post_is_allowed(bus_flow):
    assert Client().get(url_of(bus_flow)).status_code == 405
