"""`make run`'s last word: once the server answers, the URL and the demo logins, where they stay."""

from __future__ import annotations

import threading
import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from .seed_demo import DEMO_USERS


class Command(BaseCommand):
    help = (
        "Wait until the dashboard answers at PUBLIC_BASE_URL, print its URL and the demo logins, then "
        "wait until stopped (a Procfile process that ends would stop the others)."
    )

    def add_arguments(self, parser: object) -> None:
        parser.add_argument(
            "--timeout", type=float, default=90, help="Seconds to wait for the server."
        )
        parser.add_argument(
            "--once", action="store_true", help="Return after printing (for tests)."
        )
        parser.add_argument(
            "--settle",
            type=float,
            default=1,
            help="Seconds of quiet before printing, so it comes last.",
        )

    def handle(self, **options: object) -> None:
        url = settings.PUBLIC_BASE_URL
        deadline = time.monotonic() + float(options["timeout"])
        while not self._answers(url):
            if time.monotonic() > deadline:
                raise CommandError(
                    f"The dashboard did not answer at {url} in {options['timeout']:g} s."
                )
            time.sleep(0.5)
        if settings.CELERY_TASK_ALWAYS_EAGER:
            tasks = "in this process (no Redis answered)"
        elif self._worker_answers(deadline):
            tasks = "on a Celery worker, with beat"
        else:
            tasks = "on a Celery worker, which has not answered yet"
        # Let the last startup lines of the others go by, so these come last.
        time.sleep(float(options["settle"]))
        rule = "─" * 60
        lines = [
            rule,
            f"Flows dashboard: {url}/",
            f"Sandbox Meta:    {url}/sandbox/",
            "Demo logins (username / password):",
            *(f"  {name:<10} {password:<22} {role}" for name, role, password in DEMO_USERS),
            f"Tasks run {tasks}. Ctrl+C stops everything.",
            rule,
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
        if not options["once"]:
            threading.Event().wait()

    @staticmethod
    def _worker_answers(deadline: float) -> bool:
        """Wait for a worker to answer a ping: its startup lines are out by then."""
        from flowsadmin.celery import app

        while time.monotonic() < deadline:
            if app.control.ping(timeout=1.0):
                return True
        return False

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            # 503 is an answer too: the page names what is down, and the server is up.
            return requests.get(f"{url}/healthz", timeout=2).status_code in (200, 503)
        except requests.RequestException:
            return False
