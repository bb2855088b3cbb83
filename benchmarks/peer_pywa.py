"""The peer: a data-exchange endpoint as a Python developer would write it with pywa's helpers.

pywa's signature check and its flow request decryptor and response encryptor (Meta's own Python
example, packaged), in a minimal Starlette app served by uvicorn: what the best Python peer does for
the same requests. It navigates statically like ours (`next_screen`), writes nothing, checks nothing
else. Benchmark only (the `bench` extra). Configured by BENCH_PRIVATE_KEY_FILE and BENCH_APP_SECRET.

    uvicorn benchmarks.peer_pywa:app
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pywa.utils import (
    default_flow_request_decryptor,
    default_flow_response_encryptor,
    webhook_updates_validator,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

PRIVATE_KEY = Path(os.environ["BENCH_PRIVATE_KEY_FILE"]).read_text()
APP_SECRET = os.environ["BENCH_APP_SECRET"]


async def flow_endpoint(request: Request) -> Response:
    body = await request.body()
    if not webhook_updates_validator(
        APP_SECRET, body, request.headers.get("x-hub-signature-256", "")
    ):
        return Response(status_code=432)
    envelope = json.loads(body)
    decrypted, aes_key, iv = default_flow_request_decryptor(
        envelope["encrypted_flow_data"],
        envelope["encrypted_aes_key"],
        envelope["initial_vector"],
        PRIVATE_KEY,
    )
    if decrypted.get("action") == "ping":
        answer = {"data": {"status": "active"}}
    else:
        data = dict(decrypted.get("data") or {})
        data.pop("ct-evt", None)
        answer = {"version": decrypted["version"], "screen": data.pop("next_screen"), "data": data}
    return PlainTextResponse(default_flow_response_encryptor(answer, aes_key, iv))


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/meta/flows/{public_id}/", flow_endpoint, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)
