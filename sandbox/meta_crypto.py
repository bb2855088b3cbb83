"""Meta's side of the data-exchange encryption and signatures, in one place.

Meta's WhatsApp client seals every request to a Flow's endpoint the same way
(https://developers.facebook.com/docs/whatsapp/flows/guides/implementingyourflowendpoint): a fresh
AES-128 key and 16-byte IV per request, AES-GCM over the clear JSON, the key encrypted with RSA-OAEP
(SHA-256) under the business public key, and the body signed in X-Hub-Signature-256 with the app
secret. The answer comes back AES-GCM encrypted with the same key and every bit of the IV inverted.

The sandbox phone and the tests' Meta-style client both use this module. It imports nothing of our
server code, so a mistake in our endpoint's decryption can't hide behind the same mistake here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
# How long the flow_token_signature the phone sends stays valid; Meta does not publish its own.
TOKEN_SIGNATURE_LIFETIME = 300


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sign(body: bytes, app_secret: str) -> str:
    """X-Hub-Signature-256 as Meta sends it: sha256= and the hex HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def flow_token_signature(
    flow_token: str, app_secret: str, *, lifetime: int = TOKEN_SIGNATURE_LIFETIME
) -> str:
    """Data API 4.0's `flow_token_signature`: an HS256 JWT over the flow token, signed with the app
    secret, as integrators describe it (Meta's exact claims are unpublished)."""
    now = int(time.time())
    claims = {"flow_token": flow_token, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, app_secret, algorithm="HS256")


def load_public_key(public_pem: str) -> rsa.RSAPublicKey:
    """The business public key; ValueError when the PEM is not an RSA public key."""
    key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("The business public key is not an RSA key.")
    return key


@dataclass
class Sealed:
    """One encrypted request as it goes on the wire, with what is needed to read its answer."""

    body: bytes
    signature: str
    aes_key: bytes
    iv: bytes

    def open(self, answer: bytes | str) -> Any:
        """Decrypt an answer body: the request's AES key, every bit of its IV inverted.

        Raises cryptography's InvalidTag, binascii.Error or ValueError (bad UTF-8 or JSON included)
        when the answer was not sealed with this request's key."""
        text = answer.decode("ascii") if isinstance(answer, bytes) else answer
        flipped = bytes(b ^ 0xFF for b in self.iv)
        return json.loads(AESGCM(self.aes_key).decrypt(flipped, base64.b64decode(text), None))


class RequestSealer:
    """Seals requests for one business as Meta does: its public key, its app secret."""

    def __init__(self, public_pem: str, app_secret: str) -> None:
        self.public_key = load_public_key(public_pem)
        self.app_secret = app_secret

    def sign(self, body: bytes) -> str:
        return sign(body, self.app_secret)

    def envelope(
        self, clear: bytes, *, aes_key: bytes | None = None, iv: bytes | None = None
    ) -> tuple[dict, bytes, bytes]:
        """The three base64 fields for a clear text, and the key and IV used (fresh unless given)."""
        aes_key = aes_key or os.urandom(16)
        iv = iv if iv is not None else os.urandom(16)
        fields = {
            "encrypted_flow_data": b64(AESGCM(aes_key).encrypt(iv, clear, None)),
            "encrypted_aes_key": b64(self.public_key.encrypt(aes_key, OAEP)),
            "initial_vector": b64(iv),
        }
        return fields, aes_key, iv

    def seal(
        self, request: dict | bytes, *, aes_key: bytes | None = None, iv: bytes | None = None
    ) -> Sealed:
        """The signed body for a clear request (a dict, or bytes sent as they are)."""
        clear = request if isinstance(request, bytes) else json.dumps(request).encode("utf-8")
        fields, aes_key, iv = self.envelope(clear, aes_key=aes_key, iv=iv)
        body = json.dumps(fields).encode("ascii")
        return Sealed(body, self.sign(body), aes_key, iv)
