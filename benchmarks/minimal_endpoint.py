"""The least a data-exchange endpoint can do, as a bare WSGI app: the bench's ceiling.

Served by the same granian as ours, it shows how much of the gap to the cryptography floor is the
server's (accepting a connection, parsing HTTP, closing) and the durable write's, and how much is
our endpoint's. It checks the signature, opens the envelope, writes a data_exchange's ct-evt with one
prepared INSERT (autocommit, like ours) and answers: no Django, no checks, no error handling.
`server_alone` does even less: it reads the body and answers "ok", so what it costs is the server's
own share of a request. Never use them for anything else. Configured by BENCH_PRIVATE_KEY_FILE, BENCH_APP_SECRET and DATABASE_URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY = serialization.load_pem_private_key(
    Path(os.environ["BENCH_PRIVATE_KEY_FILE"]).read_bytes(), password=None
)
SECRET = os.environ["BENCH_APP_SECRET"].encode()
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
DATABASE = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
INSERT = (
    "INSERT INTO audience_event (name, properties, source, flow_token, occurred_at)"
    " VALUES (%s, %s::jsonb, 'endpoint', %s, %s)"
)


def answer_for(request: dict) -> dict:
    if request.get("action") == "ping":
        return {"data": {"status": "active"}}
    data = request["data"]
    event = data.pop("ct-evt")
    with DATABASE.cursor() as cursor:
        cursor.execute(
            INSERT,
            [
                event["evtName"],
                json.dumps(event["evtData"]),
                request["flow_token"],
                datetime.now(UTC),
            ],
            prepare=True,
        )
    return {"version": request["version"], "screen": data.pop("next_screen"), "data": data}


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
    request = json.loads(
        AESGCM(aes_key).decrypt(iv, base64.b64decode(envelope["encrypted_flow_data"]), None)
    )
    clear = json.dumps(answer_for(request)).encode()
    flipped = bytes(b ^ 0xFF for b in iv)
    answer = base64.b64encode(AESGCM(aes_key).encrypt(flipped, clear, None))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]


def server_alone(environ: dict, start_response: object) -> list[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
