"""Where the endpoint's time goes under load: py-spy on the production server's worker.

Opt-in (BENCH_PROFILE=1 make bench), since sampling slows the server: the Procfile's `web` with one
worker pinned to core 0, loaded at concurrency 4 with ping, then with data_exchange + ct-evt, while
py-spy samples the worker's Python threads. Printed per scenario: the share of samples spent in the
cryptography, JSON, the database (the INSERT and its commit) and everything else, with the functions
that make up "everything else". The raw stacks are kept in test-output/ for a flame graph.
"""

from __future__ import annotations

import linecache
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.production_server import web

from .test_bench_endpoint import SCENARIOS, Bench, load, say, server_env

ROOT = Path(__file__).resolve().parent.parent
PY_SPY = shutil.which("py-spy") or str(Path(os.sys.executable).parent / "py-spy")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("BENCH_PROFILE"), reason="set BENCH_PROFILE=1 to profile"
    ),
]

# A sample's category: the innermost frame that is in one of these libraries, or a line of ours that
# calls into one (the cryptography's and json's work is native: py-spy shows the calling line).
CATEGORIES = (
    (
        "crypto",
        ("cryptography/", "hmac.py", "hashlib", "base64.py", "binascii", "jwt/"),
        ("decrypt(", "encrypt(", "hmac", "b64", "a2b_base64"),
    ),
    ("json", ("json/",), ("json.",)),
    ("database", ("psycopg/", "django/db/"), ()),
)
FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*):(?P<line>\d+)\)$")
REQUEST = "granian/wsgi.py"  # frames of a thread serving a request pass through granian's runner


def category(stack: list[str]) -> str:
    for frame in reversed(stack):
        match = FRAME.match(frame)
        if match is None:
            continue
        source = linecache.getline(match["path"], int(match["line"]))
        for name, libraries, calls in CATEGORIES:
            if any(library in match["path"] for library in libraries):
                return name
            if str(ROOT) in match["path"] and any(call in source for call in calls):
                return name
    return "other"


def short(frame: str) -> str:
    """function (path:line) with the path from the project or site-packages, and the line's text."""
    match = FRAME.match(frame)
    if match is None:
        return frame
    path = match["path"].replace(f"{ROOT}/", "").split("site-packages/")[-1]
    source = linecache.getline(match["path"], int(match["line"])).strip()
    return f"{match['function']} ({path}:{match['line']}) {source[:70]}"


def worker_pid(root: int) -> int:
    """The leaf of the server's process tree: the one granian worker."""
    pid = root
    while children := Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        pid = int(children[0])
    return pid


def test_bench_profile_of_the_endpoint_under_load(tmp_path):
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    bench = Bench()
    with web(server_env(WEB_CONCURRENCY="1"), cores="0") as server:
        worker = worker_pid(server.process.pid)
        for name, request in SCENARIOS.items():
            sealed = [bench.phone.seal(request) for _ in range(3000)]
            pairs = [(s.body, s.signature) for s in sealed]
            load(server.url, bench.path, pairs[:200], 4)  # warm up
            raw = out / f"profile-{name}.txt"
            spy = subprocess.Popen(
                [PY_SPY, "record", "-p", str(worker), "-f", "raw", "-o", str(raw)]
                + ["--full-filenames", "--rate", "200"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                load(server.url, bench.path, pairs[200:], 4)
            finally:
                spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
                spy.wait(timeout=30)
            report(name, raw)


def report(name: str, raw: Path) -> None:
    """Shares of the request threads' samples (idle threads and granian's own loop left out)."""
    samples: Counter[str] = Counter()
    others: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        stack = stack_text.split(";")
        if not any(REQUEST in frame for frame in stack):
            continue
        count = int(count_text)
        total += count
        kind = category(stack)
        samples[kind] += count
        if kind == "other":
            others[short(stack[-1])] += count
        for function in {FRAME.sub(r"\g<function> (\g<path>)", f) for f in stack}:
            if str(ROOT) in function and "/benchmarks/" not in function:
                ours[function.replace(f"{ROOT}/", "")] += count
    say(
        f"profile {name}: {total} samples of request threads: "
        + ", ".join(f"{kind} {n / total:.0%}" for kind, n in samples.most_common())
    )
    for frame, n in others.most_common(10):
        say(f"  other, innermost {n / total:5.1%} {frame}")
    for frame, n in ours.most_common(10):
        say(f"  ours, inclusive  {n / total:5.1%} {frame}")
