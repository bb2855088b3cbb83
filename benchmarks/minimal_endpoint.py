"""The least a data-exchange endpoint can do for a ping, as a bare WSGI app: the bench's ceiling.

Served by the same gunicorn as ours, it shows how much of the gap to the cryptography floor is the
server's (accepting a connection, parsing HTTP, closing) and how much is our endpoint's. It checks
the signature, opens the envelope and answers, with no database, no Django and no error handling:
never use it for anything else. The key and app secret come from BENCH_PRIVATE_KEY_FILE and
BENCH_APP_SECRET.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY = serialization.load_pem_private_key(
    Path(os.environ["BENCH_PRIVATE_KEY_FILE"]).read_bytes(), password=None
)
SECRET = os.environ["BENCH_APP_SECRET"].encode()
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
ACTIVE = b'{"data":{"status":"active"}}'


def application(environ: dict, start_response: object) -> list[bytes]:
    if environ.get("PATH_INFO") == "/healthz":
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, environ.get("HTTP_X_HUB_SIGNATURE_256", "")):
        start_response("432 Unknown Status Code", [("Content-Length", "0")])
        return [b""]
    envelope = json.loads(body)
    aes_key = KEY.decrypt(base64.b64decode(envelope["encrypted_aes_key"]), OAEP)
    iv = base64.b64decode(envelope["initial_vector"])
    json.loads(AESGCM(aes_key).decrypt(iv, base64.b64decode(envelope["encrypted_flow_data"]), None))
    flipped = bytes(b ^ 0xFF for b in iv)
    answer = base64.b64encode(AESGCM(aes_key).encrypt(flipped, ACTIVE, None))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]
