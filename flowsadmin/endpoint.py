"""The data-exchange endpoint's wire format: signature, decryption, encryption and answer shapes.

Framework-free (no Django, no models), written from reference/endpoint-contract.md §2, §3, §6, §7 and §10:

- the outer body is JSON with three base64 strings: `encrypted_flow_data` (AES-GCM ciphertext || 16-byte
  tag), `encrypted_aes_key` (RSA-OAEP-SHA256 of a 16-byte AES key) and `initial_vector` (16 bytes);
- the answer is the JSON response encrypted with the same AES key and the request IV with every bit
  inverted, sent as one base64 string.

Each failure has its own exception, so the view maps it to the status code the WhatsApp client
understands: `BadEnvelope` -> 400, `DecryptionFailed` -> 421 (the client refetches our public key and
retries once).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wabas.crypto import valid_hub_signature

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
ENVELOPE_FIELDS = ("encrypted_flow_data", "encrypted_aes_key", "initial_vector")
IV_BYTES = 16  # Meta's IV is 16 bytes, not the 12 usual for GCM (§2.2)
TAG_BYTES = 16
INVERTED = bytes(255 - i for i in range(256))  # bytes.translate table: every bit of a byte flipped
AES_KEY_SIZES = (16, 24, 32)  # Meta sends AES-128 keys; the others cost nothing to accept

# The pseudo-screen that closes the flow (§6.4); it is never declared in the Flow JSON.
SUCCESS = "SUCCESS"
# Payload keys that steer us rather than the next screen: the static-navigation target and ingestion.
NEXT_SCREEN = "next_screen"
EVENT_KEY = "ct-evt"
PROFILE_KEY = "ct-up"
INGESTION_KEYS = (EVENT_KEY, PROFILE_KEY)


class EndpointError(Exception):
    """A request the endpoint cannot serve."""


class BadEnvelope(EndpointError):
    """The outer body is not Meta's JSON envelope (not JSON, missing or non-string fields): HTTP 400."""


class DecryptionFailed(EndpointError):
    """The envelope cannot be decrypted into a request (bad base64, wrong key, tampered data): HTTP 421."""


class UnreadablePayload(DecryptionFailed):
    """It decrypted, but the clear text is not a JSON object; Meta never sends that, so treat as 421."""


def valid_signature(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """Whether X-Hub-Signature-256 is the HMAC-SHA256 of the raw body with the app secret (§10)."""
    return valid_hub_signature(raw_body, app_secret, header)


def valid_token_signature(jwt: object, app_secret: str, flow_token: str) -> bool:
    """Whether Data API 4.0's `flow_token_signature` checks out (§5): an HS256 JWT signed with the
    app secret. Its claims are not documented; an `exp` in the past, or a `flow_token` claim other
    than the request's token, fails it."""
    if not isinstance(jwt, str) or jwt.count(".") != 2:
        return False
    header_part, payload_part, signature_part = jwt.split(".")
    try:
        header = json.loads(_b64url(header_part))
        payload = json.loads(_b64url(payload_part))
        signature = _b64url(signature_part)
    except (ValueError, RecursionError):  # bad base64, bad JSON or bad UTF-8 are ValueErrors
        return False
    if (
        not isinstance(header, dict)
        or header.get("alg") != "HS256"
        or not isinstance(payload, dict)
    ):
        return False
    signed = f"{header_part}.{payload_part}".encode("ascii", "replace")
    expected = hmac.new(app_secret.encode(), signed, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        return False
    expires = payload.get("exp")
    if isinstance(expires, int | float) and expires < time.time():
        return False
    claimed = payload.get("flow_token")
    return claimed is None or claimed == flow_token


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_private_key(pem: str, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """Parse a PKCS#1 or PKCS#8 PEM private key. Slow (tens of ms): callers cache the result."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("The data-exchange key must be an RSA private key.")
    return key


def parse_envelope(raw_body: bytes) -> dict[str, str]:
    """The three envelope fields from the raw body; raises BadEnvelope for anything else."""
    try:
        body = json.loads(raw_body)
    except (
        ValueError,
        RecursionError,
    ) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BadEnvelope("The body is not JSON.") from exc
    if not isinstance(body, dict):
        raise BadEnvelope("The body is not a JSON object.")
    missing = [name for name in ENVELOPE_FIELDS if not isinstance(body.get(name), str)]
    if missing:
        raise BadEnvelope(f"Missing or not a string: {', '.join(missing)}.")
    return {name: body[name] for name in ENVELOPE_FIELDS}


def _b64decode(value: str, name: str) -> bytes:
    # Meta sends standard base64 with padding, decoded strictly first; URL-safe or unpadded input is
    # accepted defensively (§2.2).
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionFailed(f"{name} is not base64.") from exc


def decrypt_request(
    body: dict[str, str], private_key: rsa.RSAPrivateKey
) -> tuple[dict[str, Any], bytes, bytes]:
    """Decrypt the envelope `parse_envelope` read into (request, AES key, IV); raises DecryptionFailed."""
    encrypted_key = _b64decode(body["encrypted_aes_key"], "encrypted_aes_key")
    iv = _b64decode(body["initial_vector"], "initial_vector")
    blob = _b64decode(body["encrypted_flow_data"], "encrypted_flow_data")
    if len(iv) != IV_BYTES:
        raise DecryptionFailed(f"initial_vector is {len(iv)} bytes, not {IV_BYTES}.")
    if len(blob) < TAG_BYTES:
        raise DecryptionFailed("encrypted_flow_data is shorter than its tag.")
    try:
        aes_key = private_key.decrypt(encrypted_key, OAEP)
    except ValueError as exc:  # wrong key, wrong length or tampered: the library says only "failed"
        raise DecryptionFailed("encrypted_aes_key was not made with our public key.") from exc
    if len(aes_key) not in AES_KEY_SIZES:
        raise DecryptionFailed(f"The AES key is {len(aes_key)} bytes long.")
    try:
        clear = AESGCM(aes_key).decrypt(iv, blob, None)
    except InvalidTag as exc:
        raise DecryptionFailed("encrypted_flow_data failed its GCM tag check.") from exc
    try:
        request = json.loads(clear)
    except (ValueError, RecursionError) as exc:
        raise UnreadablePayload("The decrypted request is not JSON.") from exc
    if not isinstance(request, dict):
        raise UnreadablePayload("The decrypted request is not a JSON object.")
    return request, aes_key, iv


def encrypt_response(obj: Any, aes_key: bytes, iv: bytes) -> str:
    """Encrypt an answer with the request's key and its IV with every bit flipped; base64 text (§3.3)."""
    flipped = iv.translate(INVERTED)
    clear = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(AESGCM(aes_key).encrypt(flipped, clear, None)).decode("ascii")


# The answers, in their decrypted form (§6).


def ping_response() -> dict:
    return {"data": {"status": "active"}}


def acknowledge_response() -> dict:
    return {"data": {"acknowledged": True}}


def screen_response(version: Any, screen: str, data: dict) -> dict:
    return {"version": version, "screen": screen, "data": data}


def error_message_response(version: Any, screen: str, message: str) -> dict:
    """Show `screen` with a snackbar error: Meta's way to tell the user something went wrong (§6.3)."""
    return screen_response(version, screen, {"error_message": message})


def close_response(version: Any, flow_token: str | None, params: dict) -> dict:
    """Close the flow; `params` come back to the webhook as the nfm_reply's response_json (§6.4)."""
    params = dict(params)
    if flow_token and "flow_token" not in params:
        params["flow_token"] = flow_token  # Meta requires it in params
    return screen_response(version, SUCCESS, {"extension_message_response": {"params": params}})


def token_invalid_response(message: str) -> dict:
    """The body of an HTTP 427: the client closes the flow and shows the message (§7)."""
    return {"error_msg": message}


def is_error_notification(request: dict) -> bool:
    """A client-side error report about our previous answer (§4): `data.error` (or `error_key`)."""
    data = request.get("data")
    return isinstance(data, dict) and ("error" in data or "error_key" in data)


def without_ingestion(data: dict) -> dict:
    """The payload as the next screen or the customer endpoint should see it: no ct-evt / ct-up."""
    return {key: value for key, value in data.items() if key not in INGESTION_KEYS}


@dataclass(frozen=True)
class Screens:
    """A Flow JSON's screen ids in order, and its routing model (None when it declares none)."""

    ids: tuple[str, ...] = ()
    routes: dict[str, frozenset[str]] | None = None

    def allows(self, current: str, target: str) -> bool:
        """Whether the answer to a data_exchange on `current` may show `target` (§6.2): one of the
        routing model's routes from it, or the same screen again; anything, without a model."""
        if self.routes is None or not current or target == current:
            return True
        return target in self.routes.get(current, frozenset())


def read_screens(flow_json: str) -> Screens:
    """The screens and routing model of a Flow JSON; empty when it can't be read."""
    try:
        document = json.loads(flow_json)
    except (ValueError, RecursionError):
        return Screens()
    if not isinstance(document, dict):
        return Screens()
    screens = document.get("screens")
    ids = tuple(
        screen["id"]
        for screen in (screens if isinstance(screens, list) else [])
        if isinstance(screen, dict) and isinstance(screen.get("id"), str)
    )
    model = document.get("routing_model")
    if not isinstance(model, dict):
        return Screens(ids)
    routes = {
        source: frozenset(t for t in targets if isinstance(t, str))
        for source, targets in model.items()
        if isinstance(targets, list)
    }
    return Screens(ids, routes)
