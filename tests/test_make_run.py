"""`make run`'s startup script (scripts/run-dev.sh): web, worker and beat under honcho with the URL and
the demo logins printed last, the no-Redis fallback, and a second start on another port with the
same database. Real processes on free loopback ports, a throwaway SQLite file."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
RULE = "─" * 60
DEAD_REDIS = "redis://127.0.0.1:1/0"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Run:
    """One `scripts/run-dev.sh`, its output collected line by line."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_banner(self, timeout: float = 240) -> list[str]:
        """The lines up to the banner's closing rule; fails with the output when it doesn't come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rules = [i for i, line in enumerate(self.lines) if line.endswith(RULE)]
            if len(rules) >= 2:
                return self.lines[: rules[1] + 1]
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        self.reader.join(timeout=2)
        pytest.fail("make run printed no banner:\n" + "\n".join(self.lines[-60:]))


@contextmanager
def make_run(database: Path, port: int, redis_url: str) -> Iterator[Run]:
    # A newcomer's shell: none of the test settings, only where to keep the data and Redis.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env |= {"DATABASE_URL": f"sqlite:///{database}", "REDIS_URL": redis_url, "RUN_PORT": str(port)}
    process = subprocess.Popen(
        ["./scripts/run-dev.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the test stops all it started, by id
    )
    run = Run(process)
    try:
        yield run
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def banner(lines: list[str]) -> list[str]:
    """The banner's lines without honcho's "07:12:15 ready.1 | " prefix."""
    start = max(i for i, line in enumerate(lines[:-1]) if line.endswith(RULE))
    return [re.sub(r"^\d\d:\d\d:\d\d ready\.1\s+\| ", "", line) for line in lines[start:]]


def stored(database: Path, query: str) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(query).fetchall()


@pytest.mark.skipif(not (ROOT / ".venv/bin/honcho").exists(), reason="make .venv/.installed first")
def test_make_run_starts_everything_prints_the_logins_last_and_follows_a_new_port(tmp_path):
    database = tmp_path / "db.sqlite3"
    first_port, second_port = free_port(), free_port()

    # With Redis: web, worker and beat; the URL and logins are the last lines, and stay last.
    with make_run(database, first_port, settings.REDIS_URL) as run:
        lines = run.wait_for_banner()
        url = f"http://127.0.0.1:{first_port}"
        assert banner(lines) == [
            RULE,
            f"Flows dashboard: {url}/",
            f"Sandbox Meta:    {url}/sandbox/",
            "Demo logins (username / password):",
            "  admin      demo-admin-2026        Admin",
            "  marketer   demo-marketer-2026     Marketer",
            "  campaigns  demo-campaigns-2026    Campaign manager",
            "Tasks run on a Celery worker, with beat. Ctrl+C stops everything.",
            RULE,
        ]
        assert {"web.1", "worker.1", "beat.1"} <= {
            m.group(1) for line in lines if (m := re.search(r"\| (\w+\.1) started", line))
        }
        # Quiet: no celery banner, no line per task or request, each line prefixed by its process.
        assert not any("celery@" in line or "[tasks]" in line for line in lines)
        assert requests.get(f"{url}/healthz", timeout=10).json()["database"] == "ok"
        assert requests.get(f"{url}/login/", timeout=10).status_code == 200
        time.sleep(3)
        assert run.lines[len(lines) :] == [], "something pushed the logins off the screen"

    # Another port, the same database, no Redis: the demo's stored URLs follow the new address.
    with make_run(database, second_port, DEAD_REDIS) as run:
        lines = run.wait_for_banner()
        new = f"http://127.0.0.1:{second_port}"
        assert f"The demo moved from http://127.0.0.1:{first_port} to {new}" in "\n".join(lines)
        assert "No Redis answers: tasks run in-process, without a worker or beat." in lines
        assert banner(lines)[1] == f"Flows dashboard: {new}/"
        assert "Tasks run in this process (no Redis answered)." in banner(lines)[-2]
        assert "not the sandbox" not in "\n".join(lines)
        assert stored(database, "select graph_base_url from wabas_waba") == [
            (f"{new}/sandbox/graph",)
        ]
        assert stored(database, "select webhook_url from sandbox_account") == [
            (f"{new}/meta/webhook/",)
        ]
        old = f"%127.0.0.1:{first_port}%"
        for table, column in [
            ("sandbox_flow", "endpoint_uri"),
            ("flowsadmin_flow", "customer_endpoint_url"),
            ("flowsadmin_flow", "preview_url"),
            ("sandbox_message", "header_media"),
        ]:
            assert stored(
                database, f"select count(*) from {table} where {column} like '{old}'"
            ) == [(0,)], f"{table}.{column} still points at the old port"
        # The dashboard reaches the sandbox Meta at the new address: a signed-in refresh works.
        session = requests.Session()
        session.get(f"{new}/login/", timeout=10)
        session.post(
            f"{new}/login/",
            {"username": "marketer", "password": "demo-marketer-2026"},
            headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{new}/login/"},
            timeout=10,
        )
        (flow_pk,) = stored(
            database, "select id from flowsadmin_flow where name = 'Hotel feedback'"
        )[0]
        answer = session.post(
            f"{new}/flows/{flow_pk}/refresh/",  # flows:action
            headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{new}/flows/"},
            timeout=30,
        )
        assert answer.status_code == 200 and "Refreshed from Meta." in answer.text, answer.text[
            :2000
        ]


def seed(settings_, base: str) -> str:
    from io import StringIO

    from django.core.management import call_command

    settings_.PUBLIC_BASE_URL = base
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_moves_the_demos_stored_urls_to_a_new_address_on_postgresql(db, settings):
    from flowsadmin.models import Flow
    from sandbox.models import Account, Message, SentWebhook
    from sandbox.models import Flow as MetaFlow
    from wabas.models import Waba

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "dev.example.test"]  # as run-dev.sh adds it
    seed(settings, "http://127.0.0.1:8000")
    undelivered = SentWebhook.objects.order_by("pk").first()
    SentWebhook.objects.filter(pk=undelivered.pk).update(delivered=False)

    said = seed(settings, "http://dev.example.test:9000")

    new = "http://dev.example.test:9000"
    assert "The demo moved from http://127.0.0.1:8000 to http://dev.example.test:9000" in said
    assert "not the sandbox" not in said
    assert Waba.objects.get().graph_base_url == f"{new}/sandbox/graph"
    assert Account.objects.get().webhook_url == f"{new}/meta/webhook/"
    assert SentWebhook.objects.get(pk=undelivered.pk).target.startswith(f"{new}/")
    endpoints = set(
        MetaFlow.objects.exclude(endpoint_uri="").values_list("endpoint_uri", flat=True)
    )
    assert endpoints and all(uri.startswith(f"{new}/meta/flows/") for uri in endpoints)
    # Those equal what the flows' own data-exchange URLs now read.
    assert endpoints <= {flow.data_exchange_url() for flow in Flow.objects.all()}
    customer = Flow.objects.exclude(customer_endpoint_url="").get()
    assert customer.customer_endpoint_url.startswith(f"{new}/sandbox/")
    assert all(
        "127.0.0.1:8000" not in json.dumps([m.payload, m.header_media])
        for m in Message.objects.all()
    )
    # Run again at the same address: nothing more to move.
    assert "moved" not in seed(settings, new)


def test_a_demo_waba_moved_to_a_real_meta_is_left_alone(db, settings):
    from sandbox.relocation import served_from
    from wabas.models import Waba

    seed(settings, "http://127.0.0.1:8000")
    Waba.objects.update(graph_base_url="https://graph.example.test")
    said = seed(settings, "http://127.0.0.1:8001")
    assert "moved" not in said and "not the sandbox" in said
    assert Waba.objects.get().graph_base_url == "https://graph.example.test"
    assert served_from(Waba.objects.get()) is None
