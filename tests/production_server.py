"""The Procfile's processes started as a platform starts them: its line through the shell, $PORT set.

Shared by the tests that check the production server (granian) and by benchmarks/, which measure it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parents[1]
TASKSET = shutil.which("taskset")


def procfile() -> dict[str, str]:
    """The Procfile's process types and their commands."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(
        (name.strip(), command.strip())
        for name, _, command in (line.partition(":") for line in lines)
        if command.strip() and not name.lstrip().startswith("#")
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """A postgres:// URL for a Django database, for a child process to share it."""
    user = quote(settings_dict["USER"] or "", safe="")
    password = quote(settings_dict["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@"
    host, port = settings_dict["HOST"] or "127.0.0.1", settings_dict["PORT"] or 5432
    return f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"


def production_env(**extra: str) -> dict[str, str]:
    """Production's environment (DEBUG off; HTTP, as the tests speak it) on the test database,
    with `extra` on top: one worker unless it says otherwise."""
    from django.db import connection

    return (
        os.environ
        | {
            "DATABASE_URL": database_url(connection.settings_dict),
            "DEBUG": "false",
            "HTTPS_ONLY": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "WEB_CONCURRENCY": "1",
        }
        | extra
    )


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its live descendants (a server's whole cost)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        pending += [int(child) for child in children]
    return total


@dataclass
class Server:
    url: str
    process: subprocess.Popen

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)


@contextlib.contextmanager
def running(
    command: str | list[str],
    env: dict[str, str],
    *,
    port: int,
    cores: str | None = None,
    log: Path | None = None,
    ready: str = "/healthz",
    timeout: float = 60,
) -> Iterator[Server]:
    """Start a server (a shell line or an argv) in its own session, wait until `ready` answers, stop it.

    `cores` pins it (and every process it starts) with taskset, where taskset exists."""
    argv = ["sh", "-c", command] if isinstance(command, str) else command
    if cores and TASKSET and (os.cpu_count() or 1) > 1:
        argv = [TASKSET, "-c", cores, *argv]
    # The venv's scripts (granian, celery) come first on PATH, as after `pip install .` in production.
    path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', os.environ.get('PATH', ''))}"
    output = log.open("w") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env | {"PORT": str(port), "PATH": path},
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as a whole, workers included
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv} exited with {process.returncode}")
            try:
                requests.get(f"{url}{ready}", timeout=2)
                break
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv} did not answer within {timeout} s") from None
                time.sleep(0.05)
        yield Server(url, process)
    finally:
        stop(process)
        if log:
            output.close()


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's own process group, SIGKILL if it is still there after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # Workers may outlive a shell that exited first: the group goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def web(env: dict[str, str], **kwargs: object) -> contextlib.AbstractContextManager[Server]:
    """The Procfile's `web` process on a free port."""
    return running(procfile()["web"], env, port=free_port(), **kwargs)
