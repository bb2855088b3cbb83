"""The production server: the Procfile's `web` line (granian), started as a platform starts it.

The README's production commands are the Procfile's lines; the server refuses keys that can't read
the stored secrets; an over-long body is refused from its Content-Length before it is sent; a client
that sends its headers slowly holds nothing that another request needs.
"""

from __future__ import annotations

import re
import socket
import time
import uuid
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from .production_server import ROOT, free_port, procfile, production_env, running, web


def test_the_procfile_has_web_worker_and_beat_and_web_binds_port():
    processes = procfile()
    assert set(processes) == {"web", "worker", "beat"}
    assert processes["web"].startswith("granian ")
    assert "--port $PORT" in processes["web"]


def test_the_readme_production_commands_are_the_procfile_lines():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running in production", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)[1]
    for command in procfile().values():
        assert command in block.splitlines(), f"not in the README's production commands: {command}"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """The Procfile's web, one worker, on the test database."""
    with django_db_blocker.unblock():
        env = production_env()
    with web(env) as running_server:
        yield running_server


def test_the_web_server_answers_health_on_port(server):
    response = requests.get(f"{server.url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_an_over_limit_body_is_refused_before_it_is_sent(server):
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        # 50 MB announced, 10 bytes sent: the answer comes without the rest ever being read.
        sock.sendall(
            f"POST /meta/flows/{uuid.uuid4()}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n0123456789".encode()
        )
        status_line = sock.recv(200).split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 413 Payload Too Large"


def test_clients_sending_headers_slowly_do_not_block_others(server):
    port = int(server.url.rsplit(":", 1)[1])
    # More half-sent requests than the worker has threads (4 by default).
    stalled = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(12)]
    try:
        for sock in stalled:
            sock.sendall(f"POST /meta/flows/{uuid.uuid4()}/ HTTP/1.1\r\nHost: x\r\n".encode())
        started = time.monotonic()
        response = requests.get(f"{server.url}/healthz", timeout=5)
        assert response.status_code == 200
        assert time.monotonic() - started < 2
    finally:
        for sock in stalled:
            sock.close()


@pytest.mark.django_db(transaction=True)
def test_keys_that_cannot_read_the_stored_secrets_stop_the_web_server(waba, tmp_path: Path):
    env = production_env(FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    log = tmp_path / "web.log"
    with (
        pytest.raises(RuntimeError, match="exited with"),
        running(procfile()["web"], env, port=free_port(), log=log, timeout=60),
    ):
        pass
    output = log.read_text()
    assert "FIELD_ENCRYPTION_KEYS cannot decrypt the secrets stored in wabas_waba." in output
    assert env["FIELD_ENCRYPTION_KEYS"] not in output
