"""The data-exchange endpoint served by the Procfile's `web` command, against the floor of its cryptography.

The production server is the Procfile's `web` line (granian), started through the shell with $PORT as a
platform starts it, one worker (WEB_CONCURRENCY=1) pinned to core 0 where `taskset` exists, on the test
database. Load comes from a separate process (benchmarks/loadgen.py, pinned to core 1) with requests
built as Meta builds them and encrypted before the clock starts. Printed side by side from one run:

- the floor: one core, in-process, the RSA-OAEP decryption of the key plus the AES-GCM work of one
  request and its answer, the key already parsed; measured again just before every load run;
- ping and data_exchange with a durable ct-evt INSERT at concurrency 1, 4 and 16, each the median of
  three runs: requests per second, the server's CPU time per request (every process of it), p50/p99
  latency, and the ratios to the floor. Targets at c=4: ping >= 80 % of the floor per busy core,
  data_exchange >= 60 %, p99 < 5 ms;
- at c=4 on the same server, clients that keep their connections (the figures above open one per
  request, the costlier case);
- at c=4, for comparison under the same load: the same server without the lean route (every request
  through Django's middleware), the previous server (gunicorn, one sync worker), a bare WSGI endpoint
  under the same granian (benchmarks/minimal_endpoint.py: the server's and database's ceiling), the
  server alone (an app that answers "ok": its CPU per request bounds what any app can reach), and
  the peer, pywa's helpers in a minimal Starlette app under uvicorn (benchmarks/peer_pywa.py, no write);
- the whole machine: the `web` command with two workers, unpinned, beside the load generator;
- events ingested per second from completion webhooks.

The machine may be shared: each ratio is to a floor measured seconds before, and the load average is
printed at the start and the end so a reader can judge the noise.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audience.models import Event
from exchange import crypto
from flowsadmin.models import Flow
from sandbox.meta_crypto import sign
from tests.conftest import make_waba
from tests.meta_client import MetaPhone
from tests.production_server import (
    TASKSET,
    Server,
    free_port,
    procfile,
    production_env,
    running,
    web,
)

ROOT = Path(__file__).resolve().parent.parent
BUS = (ROOT / "flowsadmin" / "examples" / "bus-booking.clevertap-endpoint.flow.json").read_text()
REQUESTS_PER_RUN = int(os.environ.get("BENCH_REQUESTS", "1000"))
ROUNDS = 3
CONCURRENCY = (1, 4, 16)
TARGETS = {"ping": 0.80, "data_exchange+ct-evt": 0.60}
SCENARIOS = {
    "ping": {"version": "3.0", "action": "ping"},
    "data_exchange+ct-evt": {
        "version": "3.0",
        "action": "data_exchange",
        "screen": "welcome_screen",
        "flow_token": "tok-bench",
        # What the flow's welcome screen sends: its Footer's payload with the form filled in.
        "data": {
            "next_screen": "seat_selection",
            "depart_from": "Pune",
            "arrive_in": "Goa",
            "depart_date": "2026-12-20",
            "return_date": "2026-12-27",
            "ct-evt": {
                "evtName": "Date Selected",
                "evtData": {
                    "depart_from": "Pune",
                    "arrive_in": "Goa",
                    "depart_date": "2026-12-20",
                    "return_date": "2026-12-27",
                },
            },
        },
    },
}

pytestmark = pytest.mark.django_db(transaction=True)


def pinned(core: int, command: list[str]) -> list[str]:
    return [TASKSET, "-c", str(core), *command] if TASKSET and os.cpu_count() > 1 else command


def say(line: str) -> None:
    print(f"BENCH {line}")  # noqa: T201


def load(
    url: str,
    path: str,
    sealed: list[tuple[bytes, str]],
    concurrency: int,
    core: int | None = 1,
    *,
    keep_alive: bool = False,
) -> dict:
    spec = {
        "host": "127.0.0.1",
        "port": int(url.rsplit(":", 1)[1]),
        "path": path,
        "concurrency": concurrency,
        "keep_alive": keep_alive,
        "requests": [(base64.b64encode(body).decode(), signature) for body, signature in sealed],
    }
    command = [sys.executable, "-m", "benchmarks.loadgen"]
    done = subprocess.run(
        pinned(core, command) if core is not None else command,
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


class Bench:
    """One flow, its Meta phone and the floor, shared by every server measured in this run."""

    def __init__(self) -> None:
        self.waba = make_waba()
        self.flow = Flow.objects.create(
            waba=self.waba, name="Bus booking", flow_json=BUS, status="PUBLISHED"
        )
        self.phone = MetaPhone(self.waba.key_pair.public_pem, self.waba.app_secret)
        self.path = f"/meta/flows/{self.flow.public_id}/"
        self.floor = Floor(self.phone, crypto.load_private_key(self.waba.key_pair.private_pem))
        self.events_written = 0

    def measure(
        self,
        server: Server,
        request: dict,
        concurrency: int,
        *,
        cores: int = 1,
        load_core: int | None = 1,
        writes: bool = True,
        keep_alive: bool = False,
    ) -> dict:
        """Load the server with one kind of request, ROUNDS times; the medians."""
        writing = writes and "ct-evt" in request.get("data", {})
        sealed = [self.phone.seal(request) for _ in range(200)]
        warm = [(s.body, s.signature) for s in sealed]
        load(server.url, self.path, warm, 4, load_core, keep_alive=keep_alive)
        self.events_written += 200 * writing
        runs = []
        for _ in range(ROUNDS):
            sealed = [self.phone.seal(request) for _ in range(REQUESTS_PER_RUN)]
            floor_now = self.floor.per_second() * cores
            cpu_before = server.cpu_seconds()
            result = load(
                server.url,
                self.path,
                [(s.body, s.signature) for s in sealed],
                concurrency,
                load_core,
                keep_alive=keep_alive,
            )
            cpu = (server.cpu_seconds() - cpu_before) / result["requests"]
            assert result["statuses"] == {"200": REQUESTS_PER_RUN}, result["statuses"]
            self.events_written += REQUESTS_PER_RUN * writing
            runs.append(
                result
                | {
                    "cpu": cpu,
                    "per_core": (1 / cpu if cpu else float("inf")) / (floor_now / cores),
                    "of_floor": result["rps"] / floor_now,
                    "floor_per_core": floor_now / cores,
                }
            )
        return {
            key: statistics.median(run[key] for run in runs) for key in runs[0] if key != "statuses"
        }


def figures(m: dict) -> str:
    return (
        f"{m['rps']:6,.0f} req/s ({m['of_floor']:4.0%} of floor) | "
        f"CPU {m['cpu'] * 1000:.2f} ms/req ({m['per_core']:4.0%} of floor per busy core) | "
        f"p50 {m['p50_ms']:5.2f} ms p99 {m['p99_ms']:5.2f} ms"
    )


def server_env(**extra: str) -> dict[str, str]:
    """The environment of production, on the test database."""
    return production_env(
        LOG_LEVEL="WARNING",
        # As in production, not as in the test settings: the endpoint's numbers go to Redis once a
        # second. Webhooks are processed in the request (CELERY_TASK_ALWAYS_EAGER from the test
        # settings), so the webhook figure below is receipt plus ingestion, end to end.
        FLOW_STATS_FLUSH_SECONDS="1.0",
        **extra,
    )


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def test_bench_endpoint_against_the_crypto_floor(tmp_path):
    bench = Bench()
    say(
        f"load average {load_average()} on {os.cpu_count()} cores at the start; floor (1 core, "
        "in-process RSA-OAEP + AES-GCM request and answer): "
        f"{bench.floor.per_second():,.0f}/s; each line is the median of {ROUNDS} runs of "
        f"{REQUESTS_PER_RUN} requests, each compared with the floor measured just before it"
    )
    one_worker = server_env(WEB_CONCURRENCY="1")
    threads = os.environ.get("WEB_THREADS", "the Procfile's default")
    with web(one_worker, cores="0") as server:
        for name, request in SCENARIOS.items():
            for concurrency in CONCURRENCY:
                m = bench.measure(server, request, concurrency)
                say(
                    f"granian (Procfile web, 1 worker, threads: {threads}) {name:20} "
                    f"c={concurrency:<2} {figures(m)} (target {TARGETS[name]:.0%} per busy core)"
                )
        # Each client keeping its connection, as an HTTP/1.1 client may: the accept and close are
        # the server's costliest part of a request besides the cryptography (see "the server alone").
        for name, request in SCENARIOS.items():
            m = bench.measure(server, request, 4, keep_alive=True)
            say(f"granian, kept-alive connections {name:20} c=4  {figures(m)}")
        webhooks(bench, server)

    # The same app and server, every request through Django's middleware: does the lean route pay?
    without_lean = server_env(WEB_CONCURRENCY="1")
    production = procfile()["web"]
    command = production.replace(
        "flowsadmin.wsgi:application", "flowsadmin.wsgi:django_application"
    )
    with running(command, without_lean, port=free_port(), cores="0") as server:
        for name, request in SCENARIOS.items():
            m = bench.measure(server, request, 4)
            say(f"granian, no lean route (Django's middleware) {name:20} c=4  {figures(m)}")

    # The previous production command: gunicorn, one sync worker.
    gunicorn = [sys.executable, "-m", "gunicorn", "flowsadmin.wsgi", "--workers", "1"]
    gunicorn += ["--worker-class", "sync", "--bind", "127.0.0.1:{port}", "--backlog", "2048"]
    port = free_port()
    env = server_env(XDG_RUNTIME_DIR=str(tmp_path))  # gunicorn >= 24 puts a control socket there
    gunicorn = [part.replace("{port}", str(port)) for part in gunicorn]
    with running(gunicorn, env, port=port, cores="0") as server:
        for name, request in SCENARIOS.items():
            m = bench.measure(server, request, 4)
            say(f"gunicorn (previous: 1 sync worker) {name:20} c=4  {figures(m)}")

    key_file = tmp_path / "key.pem"
    key_file.write_text(bench.waba.key_pair.private_pem)
    bare = server_env(
        BENCH_PRIVATE_KEY_FILE=str(key_file),
        BENCH_APP_SECRET=bench.waba.app_secret,
        WEB_CONCURRENCY="1",
    )
    # The ceiling of this server and database: a bare WSGI endpoint with the same INSERT, same granian.
    command = production.replace(
        "flowsadmin.wsgi:application", "benchmarks.minimal_endpoint:application"
    )
    with running(command, bare, port=free_port(), cores="0") as server:
        for name, request in SCENARIOS.items():
            m = bench.measure(server, request, 4)
            say(f"bare WSGI endpoint under granian (the ceiling) {name:20} c=4  {figures(m)}")

    # The server alone: an app that reads the body and answers "ok", under the same command. What
    # it costs per request is out of reach of any app behind it, so it bounds the share of the floor.
    command = production.replace(
        "flowsadmin.wsgi:application", "benchmarks.minimal_endpoint:server_alone"
    )
    with running(command, bare, port=free_port(), cores="0") as server:
        for keep_alive in (False, True):
            m = bench.measure(server, SCENARIOS["ping"], 4, keep_alive=keep_alive)
            best = 1 / (1 + m["cpu"] * m["floor_per_core"])
            say(
                f"the server alone (granian, an app that answers 'ok') c=4, "
                f"{'kept-alive' if keep_alive else 'new'} connections: CPU "
                f"{m['cpu'] * 1000:.3f} ms/req, so any app behind it reaches at most "
                f"{best:.0%} of the floor per busy core"
            )

    # The peer: pywa's helpers in Starlette under uvicorn (httptools, uvloop), one worker, no write.
    port = free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "benchmarks.peer_pywa:app", "--port", str(port)]
    uvicorn += ["--workers", "1", "--no-access-log", "--log-level", "warning", "--backlog", "2048"]
    with running(uvicorn, bare, port=port, cores="0") as server:
        for name, request in SCENARIOS.items():
            m = bench.measure(server, request, 4, writes=False)
            say(f"peer: pywa + Starlette/uvicorn (no write) {name:20} c=4  {figures(m)}")

    # The whole machine: the Procfile's web with two workers, unpinned, sharing both cores with the
    # load generator; the ratio is to two cores' floor.
    cores = min(2, os.cpu_count() or 1)
    with web(server_env(WEB_CONCURRENCY="2")) as server:
        for name, request in SCENARIOS.items():
            m = bench.measure(server, request, 16, cores=cores, load_core=None)
            say(f"whole machine: granian, 2 workers, beside the load {name:20} c=16 {figures(m)}")

    assert Event.objects.filter(name="Date Selected").count() == bench.events_written
    say(f"load average {load_average()} at the end")


def webhooks(bench: Bench, server: Server) -> None:
    """Completion webhooks: each carries a ct-evt and a ct-up, so three events per completion."""
    waba = bench.waba
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
    result = load(server.url, "/meta/webhook/", bodies, 4)
    assert result["statuses"] == {"200": len(bodies)}, result["statuses"]
    events = Event.objects.count() - before
    assert events == 3 * len(bodies)
    say(
        f"completion webhooks c=4: {result['rps']:,.0f} webhooks/s, "
        f"{events / result['seconds']:,.0f} events ingested/s "
        f"(p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms)"
    )
