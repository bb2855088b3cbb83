"""A stand-in for the WhatsApp client calling a data-exchange endpoint.

The sealing itself (fresh AES-128 key and IV, RSA-OAEP-SHA256, AES-GCM, the app-secret signature, the
inverted IV of the answer) is the sandbox's, in sandbox/meta_crypto.py, which imports nothing of our
server code: a mistake shared by both sides can't hide. What is here is what only tests need: broken
envelopes and forged signatures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from sandbox.meta_crypto import RequestSealer, Sealed, b64

__all__ = ["MetaPhone", "Sealed", "b64", "hs256_jwt"]


def hs256_jwt(claims: dict, secret: str, *, alg: str = "HS256") -> str:
    """A JWT shaped like Data API 4.0's flow_token_signature, HMAC-SHA256 signed under whatever `alg`
    its header claims. Written by hand because the point is to forge what PyJWT refuses to make (an
    HS256 signature under a lying header); the phone's real signer is meta_crypto's."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    header = part(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = part(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{part(mac)}"


class MetaPhone(RequestSealer):
    """Seals requests as Meta does, and can also sign envelopes no real client would send."""

    def seal_fields(self, fields: dict, aes_key: bytes = b"", iv: bytes = b"") -> Sealed:
        """A hand-made (possibly broken) envelope, signed like Meta signs any body."""
        body = json.dumps(fields).encode("ascii")
        return Sealed(body, self.sign(body), aes_key, iv)
