"""A pytest plugin: the endpoint's test module, its requests sent to the production server over HTTP.

    pytest -p benchmarks.over_production_server tests/test_endpoint.py      (part of `make bench`)

Every request the tests make with Django's test client goes instead to the Procfile's `web` command
(granian, one worker) serving the test database, so each bad input the module lists is answered by
the server that answers Meta, with the same status codes. The tests' rows are committed
(transactional_db) so that the server sees them. Tests that change this process rather than the
server (the `settings` and `monkeypatch` fixtures) are skipped: the server can't see the change.
"""

from __future__ import annotations

import inspect

import pytest
import requests

from tests.production_server import production_env, web

SKIP = pytest.mark.skip(reason="changes this process's settings or code; the server can't see it")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # Committed rows, so that the server sees them.
        item.add_marker(pytest.mark.django_db(transaction=True))
        if {"settings", "monkeypatch"} & set(inspect.signature(item.function).parameters):
            item.add_marker(SKIP)


@pytest.fixture(scope="session")
def production_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        env = production_env(ALLOWED_HOSTS="127.0.0.1 testserver")
    with web(env) as server:
        yield server


class OverHttp:
    """The part of django.test.Client the endpoint tests use, sent to the production server."""

    url = ""
    sent = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.session = requests.Session()

    def request(self, method: str, path: str, body: bytes = b"", **extra: str):
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in extra.items()
            if key.startswith("HTTP_")
        }
        if "content_type" in extra:
            headers["Content-Type"] = extra["content_type"]
        OverHttp.sent += 1
        return Answer(
            self.session.request(
                method, f"{self.url}{path}", data=body, headers=headers, timeout=30
            )
        )

    def post(self, path: str, data: bytes = b"", content_type: str = "", **extra: str):
        return self.request("POST", path, data, content_type=content_type, **extra)

    def get(self, path: str, **extra: str):
        return self.request("GET", path, **extra)


class Answer:
    """What the tests read of a test client's response: status, body and headers by name."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.content = response.content
        self.text = response.text
        self.headers = response.headers

    def __getitem__(self, name: str) -> str:
        return self.headers[name]


@pytest.fixture(autouse=True)
def over_http(request, production_server, monkeypatch):
    """The test client's requests sent to the server."""
    OverHttp.url = production_server.url
    import tests.conftest
    import tests.endpoint_support

    for module in (tests.conftest, tests.endpoint_support, request.module):
        if getattr(module, "Client", None) is not None:
            monkeypatch.setattr(module, "Client", OverHttp)


def pytest_terminal_summary(terminalreporter: object) -> None:
    terminalreporter.write_line(
        f"{OverHttp.sent} requests answered by the Procfile's web (granian) at {OverHttp.url}"
    )
