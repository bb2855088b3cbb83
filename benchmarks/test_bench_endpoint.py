"""The data-exchange endpoint served as in production, against the floor of its cryptography.

gunicorn with one sync worker, pinned to core 0 where `taskset` exists, on the test database; load from
a separate process (benchmarks/loadgen.py, pinned to core 1) with requests built as Meta builds them
and encrypted before the clock starts. Printed side by side from the same run:

- the floor: one core, in-process, the RSA-OAEP decryption of the key plus the AES-GCM work of one
  request and its answer, the key already parsed; measured again just before every load run;
- per scenario and concurrency, the median of three runs: requests per second, the worker's CPU
  time per request, p50/p99 latency, and the ratios to the floor (targets per busy core: ping >= 50 %,
  data_exchange with ingestion >= 35 %; p99 < 10 ms at concurrency 4);
- the same at concurrency 4 for a minimal endpoint (benchmarks/minimal_endpoint.py) under the same
  gunicorn, with the same durable INSERT per ct-evt: the ceiling this server and database allow, so
  the gap that is ours can be told from theirs;
- events ingested per second from completion webhooks.

BENCH_WSGI names another WSGI module to serve (default flowsadmin.wsgi), to compare a different
request path with the same load.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connection

from audience.models import Event
from exchange import crypto
from flowsadmin.models import Flow
from sandbox.meta_crypto import sign
from tests.conftest import make_waba
from tests.meta_client import MetaPhone

ROOT = Path(__file__).resolve().parent.parent
BUS = (ROOT / "flowsadmin" / "examples" / "bus-booking.clevertap-endpoint.flow.json").read_text()
TASKSET = shutil.which("taskset")
REQUESTS_PER_RUN = 1500
ROUNDS = 3
CONCURRENCY = (1, 4, 16)

pytestmark = pytest.mark.django_db(transaction=True)


def pinned(core: int, command: list[str]) -> list[str]:
    return [TASKSET, "-c", str(core), *command] if TASKSET and os.cpu_count() > 1 else command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@contextlib.contextmanager
def gunicorn(module: str, extra_env: dict[str, str] | None = None):
    """gunicorn serving `module`, one sync worker on one core; yields (url, worker pid)."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", module, "--workers", "1"]
    command += ["--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--backlog", "2048"]
    process = subprocess.Popen(
        pinned(0, command), cwd=ROOT, env=os.environ | {"LOG_LEVEL": "WARNING"} | (extra_env or {})
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            # A worker still booting on a busy machine leaves the first request waiting: try again.
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.05)
        else:
            raise RuntimeError("gunicorn did not start")
        master = process.pid  # taskset execs gunicorn in place, so this is gunicorn's master
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        yield url, int(children[0])
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server():
    """Our app as in production, on the test database; yields (url, worker pid, its environment)."""
    db = connection.settings_dict
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DEBUG": "false",
        "HTTPS_ONLY": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        # As in production, not as in the test settings: the endpoint's numbers go to Redis once a
        # second. Webhooks are processed in the request (CELERY_TASK_ALWAYS_EAGER from the test
        # settings), so the webhook figure below is receipt plus ingestion, end to end.
        "FLOW_STATS_FLUSH_SECONDS": "1.0",
    }
    with gunicorn(os.environ.get("BENCH_WSGI", "flowsadmin.wsgi"), env) as (url, worker):
        yield url, worker, env


def load(url: str, path: str, sealed: list[tuple[bytes, str]], concurrency: int) -> dict:
    spec = {
        "host": "127.0.0.1",
        "port": int(url.rsplit(":", 1)[1]),
        "path": path,
        "concurrency": concurrency,
        "requests": [(base64.b64encode(body).decode(), signature) for body, signature in sealed],
    }
    done = subprocess.run(
        pinned(1, [sys.executable, "-m", "benchmarks.loadgen"]),
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return json.loads(done.stdout)


class Floor:
    """Requests per second one core could serve if the cryptography were all there is.

    Measured again before every load run: the machine is shared, and a ratio to a floor measured
    seconds apart is steadier than one measured at the start of the whole benchmark."""

    def __init__(self, phone: MetaPhone, private_key: object, samples: int = 600) -> None:
        self.private_key = private_key
        self.answer = json.dumps(
            {"version": "3.0", "screen": "seat_selection", "data": {}}
        ).encode()
        self.prepared = []
        for _ in range(samples):
            fields, _, _ = phone.envelope(b'{"version":"3.0","action":"ping"}')
            self.prepared.append({k: base64.b64decode(v) for k, v in fields.items()})

    def per_second(self) -> float:
        affinity = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {0})
        try:
            started = time.perf_counter()
            for fields in self.prepared:
                aes_key = self.private_key.decrypt(fields["encrypted_aes_key"], crypto.OAEP)
                iv = fields["initial_vector"]
                json.loads(AESGCM(aes_key).decrypt(iv, fields["encrypted_flow_data"], None))
                AESGCM(aes_key).encrypt(bytes(b ^ 0xFF for b in iv), self.answer, None)
            elapsed = time.perf_counter() - started
        finally:
            os.sched_setaffinity(0, affinity)
        return len(self.prepared) / elapsed


def measure(
    url: str,
    worker: int,
    path: str,
    phone: MetaPhone,
    floor: Floor,
    request: dict,
    concurrency: int,
) -> str:
    """Load the server with one kind of request, ROUNDS times; the medians, as one line of text."""
    sealed = [phone.seal(request) for _ in range(200)]
    load(url, path, [(s.body, s.signature) for s in sealed], 4)  # warm up: key, connections
    runs = []
    for _ in range(ROUNDS):
        sealed = [phone.seal(request) for _ in range(REQUESTS_PER_RUN)]
        floor_now = floor.per_second()
        cpu_before = cpu_seconds(worker)
        result = load(url, path, [(s.body, s.signature) for s in sealed], concurrency)
        cpu = (cpu_seconds(worker) - cpu_before) / result["requests"]
        assert result["statuses"] == {"200": REQUESTS_PER_RUN}, result["statuses"]
        result |= {
            "cpu": cpu,
            "per_core": (1 / cpu if cpu else float("inf")) / floor_now,
            "of_floor": result["rps"] / floor_now,
        }
        runs.append(result)

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    return (
        f"{median('rps'):7,.0f} req/s ({median('of_floor'):4.0%} of floor) | "
        f"CPU {median('cpu') * 1000:.2f} ms/req ({median('per_core'):4.0%} of floor per busy core) | "
        f"p50 {median('p50_ms'):.2f} ms p99 {median('p99_ms'):.2f} ms"
    )


def say(line: str) -> None:
    print(f"BENCH {line}")  # noqa: T201


def test_bench_endpoint_against_the_crypto_floor(server, tmp_path):
    url, worker, server_env = server
    waba = make_waba()
    flow = Flow.objects.create(waba=waba, name="Bus booking", flow_json=BUS, status="PUBLISHED")
    phone = MetaPhone(waba.key_pair.public_pem, waba.app_secret)
    path = f"/meta/flows/{flow.public_id}/"
    floor = Floor(phone, crypto.load_private_key(waba.key_pair.private_pem))
    say(
        "floor (1 core, in-process RSA-OAEP + AES-GCM request and answer): "
        f"{floor.per_second():,.0f}/s; each line below is the median of {ROUNDS} runs, each "
        "compared with the floor measured just before it"
    )

    scenarios = {
        "ping": {"version": "3.0", "action": "ping"},
        "data_exchange+ct-evt": {
            "version": "3.0",
            "action": "data_exchange",
            "screen": "welcome_screen",
            "flow_token": "tok-bench",
            "data": {
                "next_screen": "seat_selection",
                "depart_from": "Pune",
                "arrive_in": "Goa",
                "ct-evt": {"evtName": "Date Selected", "evtData": {"depart_from": "Pune"}},
            },
        },
    }
    targets = {"ping": 0.50, "data_exchange+ct-evt": 0.35}
    for name, request in scenarios.items():
        for concurrency in CONCURRENCY:
            figures = measure(url, worker, path, phone, floor, request, concurrency)
            say(
                f"{name:22} c={concurrency:<2} {figures} (target {targets[name]:.0%} per busy core)"
            )
    expected = (200 + REQUESTS_PER_RUN * ROUNDS) * len(CONCURRENCY)
    assert Event.objects.filter(name="Date Selected").count() == expected

    # The ceiling: the least an endpoint can do for the same requests, under the same gunicorn.
    key_file = tmp_path / "key.pem"
    key_file.write_text(waba.key_pair.private_pem)
    minimal_env = {
        "BENCH_PRIVATE_KEY_FILE": str(key_file),
        "BENCH_APP_SECRET": waba.app_secret,
        "DATABASE_URL": server_env["DATABASE_URL"],
    }
    with gunicorn("benchmarks.minimal_endpoint", minimal_env) as (minimal_url, minimal_worker):
        for name, request in scenarios.items():
            figures = measure(minimal_url, minimal_worker, path, phone, floor, request, 4)
            say(f"minimal {name:14} c=4  {figures} (bare WSGI, no checks: the ceiling)")

    # Completion webhooks: each carries a ct-evt and a ct-up, so three events per completion.
    bodies = []
    for i in range(600):
        value = {
            "messaging_product": "whatsapp",
            "contacts": [{"profile": {"name": f"User {i}"}, "wa_id": f"1555{i:07}"}],
            "messages": [
                {
                    "from": f"1555{i:07}",
                    "id": f"wamid.BENCH_{i}",
                    "timestamp": "1767000123",
                    "type": "interactive",
                    "interactive": {
                        "type": "nfm_reply",
                        "nfm_reply": {
                            "name": "flow",
                            "body": "Sent",
                            "response_json": json.dumps(
                                {
                                    "flow_token": f"tok-{i}",
                                    "rating": "5",
                                    "ct-evt": {"evtName": "Stay Feedback", "evtData": {"r": "5"}},
                                    "ct-up": {"Email": f"user{i}@example.org"},
                                }
                            ),
                        },
                    },
                }
            ],
        }
        change = {"field": "messages", "value": value}
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [{"id": waba.meta_waba_id, "changes": [change]}],
            }
        ).encode()
        bodies.append((body, sign(body, waba.app_secret)))
    before = Event.objects.count()
    result = load(url, "/meta/webhook/", bodies, 4)
    assert result["statuses"] == {"200": len(bodies)}, result["statuses"]
    events = Event.objects.count() - before
    assert events == 3 * len(bodies)
    say(
        f"completion webhooks c=4: {result['rps']:,.0f} webhooks/s, "
        f"{events / result['seconds']:,.0f} events ingested/s "
        f"(p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms)"
    )
