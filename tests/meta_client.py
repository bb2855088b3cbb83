"""A stand-in for the WhatsApp client calling a data-exchange endpoint, written from the reference only.

endpoint-contract.md §3.5: a fresh AES-128 key and 16-byte IV per request, AES-GCM over the JSON,
the key RSA-OAEP-SHA256-encrypted with the business public key, the body signed with the app secret;
the answer is decrypted with the same key and the inverted IV. Nothing here imports our server code,
so a mistake shared by both sides can't hide.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class Sealed:
    """One encrypted request as it goes on the wire, with what is needed to read its answer."""

    body: bytes
    signature: str
    aes_key: bytes
    iv: bytes

    def open(self, answer: bytes | str) -> dict:
        """Decrypt an answer body: same key, every bit of the IV inverted (§3.3)."""
        text = answer.decode("ascii") if isinstance(answer, bytes) else answer
        flipped = bytes(b ^ 0xFF for b in self.iv)
        return json.loads(AESGCM(self.aes_key).decrypt(flipped, base64.b64decode(text), None))


def hs256_jwt(claims: dict, secret: str, *, alg: str = "HS256") -> str:
    """A JWT as Data API 4.0's flow_token_signature is described (endpoint-contract.md §5)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    header = part(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = part(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{part(mac)}"


class MetaPhone:
    def __init__(self, public_pem: str, app_secret: str) -> None:
        self.public_key = serialization.load_pem_public_key(public_pem.encode("ascii"))
        self.app_secret = app_secret

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    def envelope(
        self, clear: bytes, *, aes_key: bytes | None = None, iv: bytes | None = None
    ) -> tuple[dict, bytes, bytes]:
        """The three base64 fields for a clear text; key and IV fresh unless given."""
        aes_key = aes_key or os.urandom(16)
        iv = iv if iv is not None else os.urandom(16)
        return (
            {
                "encrypted_flow_data": b64(AESGCM(aes_key).encrypt(iv, clear, None)),
                "encrypted_aes_key": b64(self.public_key.encrypt(aes_key, OAEP)),
                "initial_vector": b64(iv),
            },
            aes_key,
            iv,
        )

    def seal(self, request: dict | bytes, **envelope_args: object) -> Sealed:
        clear = request if isinstance(request, bytes) else json.dumps(request).encode("utf-8")
        fields, aes_key, iv = self.envelope(clear, **envelope_args)
        body = json.dumps(fields).encode("ascii")
        return Sealed(body, self.sign(body), aes_key, iv)

    def seal_fields(self, fields: dict, aes_key: bytes = b"", iv: bytes = b"") -> Sealed:
        """A hand-made (possibly broken) envelope, signed like Meta signs any body."""
        body = json.dumps(fields).encode("ascii")
        return Sealed(body, self.sign(body), aes_key, iv)
