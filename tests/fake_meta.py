"""A stand-in Meta for the Graph client's tests: a real HTTP server on loopback that records every
request and answers from a script, so a test checks what Meta would have received.

conftest.py registers the `fake_meta_server` fixture; a test module makes its `meta` fixture with
`fresh_meta(fake_meta_server)`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from wabas.graph import GraphClient

TOKEN = "EAAGm0PX4ZCpsBAKZAsecretTOKEN9876"
WABA_ID = "102290129340398"
FLOW_ID = "771023498811223"
PHONE_ID = "106540352242922"
APP_ID = "998877665544"


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    parts: dict[str, Part] = field(default_factory=dict)

    @property
    def json(self) -> object:
        return json.loads(self.body)

    def param(self, name: str) -> str:
        (value,) = self.query[name]
        return value


@dataclass
class Reply:
    status: int = 200
    body: object = field(default_factory=lambda: {"success": True})
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def meta_error(code: int, message: str, *, status: int = 400, **extra: object) -> Reply:
    return Reply(
        status, {"error": {"message": message, "type": "OAuthException", "code": code, **extra}}
    )


def parse_multipart(content_type: str, body: bytes) -> dict[str, Part]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[name] = Part(
            name=name,
            filename=part.get_filename(),
            content_type=part.get_content_type(),
            data=part.get_payload(decode=True),
        )
    return parts


class FakeMeta:
    """Scripted answers in order; anything unscripted gets a permanent 400 that names the request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[Received] = []
        self.replies: deque[Reply] = deque()
        self.lock = threading.Lock()

    def reply(self, *replies: Reply | dict) -> None:
        for reply in replies:
            self.replies.append(reply if isinstance(reply, Reply) else Reply(body=reply))

    def take(self, request: Received) -> Reply:
        with self.lock:
            self.received.append(request)
            if self.replies:
                return self.replies.popleft()
        return meta_error(100, f"Nothing scripted for {request.method} {request.path}")

    def client(self, **overrides: object) -> GraphClient:
        options = {
            "base_url": self.url,
            "api_version": "v23.0",
            "access_token": TOKEN,
            "backoff": 0.01,
        }
        return GraphClient(**(options | overrides))

    @property
    def only(self) -> Received:
        (request,) = self.received
        return request


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    meta: FakeMeta

    def handle_any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        request = Received(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            request.parts = parse_multipart(content_type, body)
        reply = self.server.meta.take(request)  # type: ignore[attr-defined]
        time.sleep(reply.delay)
        if isinstance(reply.body, bytes | str):
            raw = reply.body.encode() if isinstance(reply.body, str) else reply.body
            kind = "text/html"
        else:
            raw, kind = json.dumps(reply.body).encode(), "application/json"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the timeout tests)

    do_GET = do_POST = do_DELETE = handle_any

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def fake_meta_server() -> Iterator[ThreadingHTTPServer]:
    """The loopback server, one per test module; `fresh_meta` gives each test its own script."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def fresh_meta(server: ThreadingHTTPServer) -> FakeMeta:
    """A new script and record on the server, for one test."""
    # A path prefix, like the sandbox's /sandbox/graph, proves the base URL is kept whole.
    fake = FakeMeta(f"http://127.0.0.1:{server.server_address[1]}/meta")
    server.meta = fake  # type: ignore[attr-defined]
    return fake
