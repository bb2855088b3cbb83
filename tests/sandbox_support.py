"""What the sandbox Meta tests share: account ids, a Flow JSON, a recorder of webhooks, and a small
Graph API caller over real HTTP (fixtures `recorder` and `graph`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.services import ensure_account

WABA_ID = "102290129340398"
PHONE_ID = "106540352242922"
APP_ID = "300000000000001"
TOKEN = "EAAGm0PX4ZCpsBAKZAbCdEfGhIjKlMnOpQr"
APP_SECRET = "b1946ac92492d2347c6235b4d2611184"
OTHER_WABA_ID = "203390129340399"
OTHER_PHONE_ID = "207640352242933"
OTHER_TOKEN = "EAAOtherAccountTokenXyZ0123456789"

FLOW_JSON = {
    "version": "7.2",
    "screens": [
        {
            "id": "WELCOME",
            "title": "Welcome",
            "layout": {
                "type": "SingleColumnLayout",
                "children": [
                    {"type": "TextHeading", "text": "Hello"},
                    {
                        "type": "Footer",
                        "label": "Next",
                        "on-click-action": {
                            "name": "navigate",
                            "next": {"type": "screen", "name": "DONE"},
                        },
                    },
                ],
            },
        },
        {
            "id": "DONE",
            "title": "Thanks",
            "terminal": True,
            "layout": {
                "type": "SingleColumnLayout",
                "children": [
                    {
                        "type": "Footer",
                        "label": "Done",
                        "on-click-action": {"name": "complete", "payload": {}},
                    }
                ],
            },
        },
    ],
}


def flow_json(**changes: object) -> str:
    return json.dumps(FLOW_JSON | changes, indent=2)


# A Footer navigating to a screen that does not exist, on line 11 of this text.
BROKEN_FLOW_JSON = """{
  "version": "7.3",
  "screens": [
    {
      "id": "ONLY",
      "terminal": true,
      "layout": {
        "type": "SingleColumnLayout",
        "children": [
          {"type": "Footer", "label": "Go",
           "on-click-action": {"name": "navigate", "next": {"type": "screen", "name": "NOWHERE"}}}
        ]
      }
    }
  ]
}"""


class _Recording(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append({"headers": dict(self.headers), "body": body})
        status = self.server.answers.pop(0) if self.server.answers else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class Recorder(ThreadingHTTPServer):
    """A webhook callback that keeps every request it gets and answers 200 (or what `answers` says)."""

    received: list[dict]
    answers: list[int]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/meta/webhook/"

    def values(self, field: str) -> list[dict]:
        found = []
        for request in self.received:
            for entry in json.loads(request["body"])["entry"]:
                found += [c["value"] for c in entry["changes"] if c["field"] == field]
        return found


@pytest.fixture
def recorder() -> Recorder:
    server = Recorder(("127.0.0.1", 0), _Recording)
    server.received, server.answers = [], []
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class Graph:
    """A tiny Graph client for the tests: base URL, token, and requests underneath."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: object
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if (token := self.token if token is None else token) != "":
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(
            method, f"{self.base}/{path}", headers=headers, timeout=10, **kwargs
        )

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: object) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def create_flow(self, name: str = "Hotel feedback", **data: object) -> str:
        response = self.post(
            f"{WABA_ID}/flows", json={"name": name, "categories": ["SURVEY"]} | data
        )
        assert response.status_code == 200, response.text
        return response.json()["id"]

    def upload_json(self, flow_id: str, text: str) -> requests.Response:
        return self.post(
            f"{flow_id}/assets",
            data={"name": "flow.json", "asset_type": "FLOW_JSON"},
            files={"file": ("flow.json", text.encode(), "application/json")},
        )

    def published_flow(self, name: str = "Hotel feedback") -> str:
        flow_id = self.create_flow(name, flow_json=flow_json())
        assert self.post(f"{flow_id}/publish").json() == {"success": True}
        return flow_id


@pytest.fixture
def graph(live_server: object, recorder: Recorder, transactional_db: None) -> Graph:
    ensure_account(
        waba_id=WABA_ID,
        name="Hotel Azul",
        access_token=TOKEN,
        app_secret=APP_SECRET,
        app_id=APP_ID,
        webhook_url=recorder.url,
        phone_numbers=[(PHONE_ID, "+1 555 0100", "Hotel Azul")],
    )
    ensure_account(
        waba_id=OTHER_WABA_ID,
        name="Other business",
        access_token=OTHER_TOKEN,
        app_secret="another-app-secret-0000000000000",
        webhook_url=recorder.url,
        phone_numbers=[(OTHER_PHONE_ID, "+1 555 0199", "Other business")],
    )
    return Graph(f"{live_server.url}/sandbox/graph/v23.0", TOKEN)


def error_of(response: requests.Response) -> dict:
    return response.json()["error"]


def public_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def signature_is_valid(request: dict, secret: str = APP_SECRET) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request["headers"]["X-Hub-Signature-256"])
