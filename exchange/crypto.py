"""The data-exchange wire format: the envelope Meta sends, its decryption and the answer's encryption.

Framework-free (no Django, no models). Meta's public page describes the format
(https://developers.facebook.com/docs/whatsapp/flows/guides/implementingyourflowendpoint):

- the outer body is JSON with three base64 strings: `encrypted_flow_data` (AES-GCM ciphertext || 16-byte
  tag), `encrypted_aes_key` (RSA-OAEP-SHA256 of a 16-byte AES key) and `initial_vector` (16 bytes);
- the answer is the JSON response encrypted with the same AES key and the request IV with every bit
  inverted, sent as one base64 string.

Each failure has its own exception, so the handling maps it to the status code the WhatsApp client
understands: `BadEnvelope` -> 400, `DecryptionFailed` -> 421 (the client refetches our public key and
retries once).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wabas.safe_text import clean, loads_clean

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
ENVELOPE_FIELDS = ("encrypted_flow_data", "encrypted_aes_key", "initial_vector")
IV_BYTES = 16  # Meta's IV is 16 bytes, not the 12 usual for GCM
TAG_BYTES = 16
INVERTED = bytes(255 - i for i in range(256))  # bytes.translate table: every bit of a byte flipped
AES_KEY_SIZES = (16, 24, 32)  # Meta sends AES-128 keys; the others cost nothing to accept

# Data API 4.0's flow_token_signature: Meta documents an HS256 JWT signed with the app secret, not its
# claims. So only what a JWT library checks on any token is checked (signature, algorithm, an `exp`
# in the past), plus a `flow_token` claim when there is one; claims we were never told about (aud,
# iat, nbf, sub, jti) must not refuse a user.
_TOKEN_CHECKS = {
    "verify_signature": True,
    "verify_exp": True,
    "verify_aud": False,
    "verify_iat": False,
    "verify_nbf": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


class EnvelopeError(Exception):
    """A request body that cannot be read as Meta's encrypted request."""


class BadEnvelope(EnvelopeError):
    """The outer body is not Meta's JSON envelope (not JSON, missing or non-string fields): HTTP 400."""


class DecryptionFailed(EnvelopeError):
    """The envelope cannot be decrypted into a request (bad base64, wrong key, tampered data): HTTP 421."""


class UnreadablePayload(DecryptionFailed):
    """It decrypted, but the clear text is not a JSON object; Meta never sends that, so treat as 421."""


def valid_token_signature(token: object, app_secret: str, flow_token: str) -> bool:
    """Whether Data API 4.0's `flow_token_signature` checks out: an HS256 JWT signed with the app
    secret, not expired, and naming the request's flow token if it names one."""
    if not isinstance(token, str):
        return False
    try:
        claims = jwt.decode(token, app_secret, algorithms=["HS256"], options=_TOKEN_CHECKS)
    except (jwt.InvalidTokenError, ValueError, RecursionError):  # JSON too deep is not PyJWT's
        return False
    claimed = claims.get("flow_token")
    return claimed is None or claimed == flow_token


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
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError: ValueErrors
        raise BadEnvelope("The body is not JSON.") from exc
    if not isinstance(body, dict):
        raise BadEnvelope("The body is not a JSON object.")
    missing = [name for name in ENVELOPE_FIELDS if not isinstance(body.get(name), str)]
    if missing:
        raise BadEnvelope(f"Missing or not a string: {', '.join(missing)}.")
    return {name: body[name] for name in ENVELOPE_FIELDS}


def _b64decode(value: str, name: str) -> bytes:
    # Meta sends standard base64 with padding, decoded strictly first; URL-safe or unpadded input is
    # accepted defensively.
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
        # The one place a request's text enters: NUL and lone surrogates are replaced here, once.
        request = loads_clean(clear)
    except (ValueError, RecursionError) as exc:
        raise UnreadablePayload("The decrypted request is not JSON.") from exc
    if not isinstance(request, dict):
        raise UnreadablePayload("The decrypted request is not a JSON object.")
    return request, aes_key, iv


def encrypt_response(obj: Any, aes_key: bytes, iv: bytes) -> str:
    """Encrypt an answer with the request's key and its IV with every bit flipped; base64 text."""
    flipped = iv.translate(INVERTED)
    try:
        clear = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate that came by another door: the answer still goes
        clear = json.dumps(clean(obj), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(AESGCM(aes_key).encrypt(flipped, clear, None)).decode("ascii")
