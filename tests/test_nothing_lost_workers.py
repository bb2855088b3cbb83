"""Completions survive a worker killed with SIGKILL mid-batch and a Redis that is down when one
arrives: real worker processes, real Redis (a private redis-server for the outage), real PostgreSQL.

Done means zero lost and zero doubled completions: exactly one submitted event per completion.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from audience.models import Event, Profile
from flowsadmin.celery import app as celery_app
from wabas.models import WebhookDelivery

from .conftest import post_webhook
from .test_campaign_redis_restart import PrivateRedis
from .test_people import completion
from .test_queue import wait_for

ROOT = Path(__file__).resolve().parents[1]
COMPLETIONS = 24
VICTIM = 9  # the completion the worker is killed in the middle of


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Worker:
    """A real `celery worker` on the test database; `kill` is SIGKILL, as the OOM killer does."""

    def __init__(self, log_dir: Path, **env: str) -> None:
        self.env = (
            os.environ
            | {
                "DATABASE_URL": database_url(),
                "CELERY_TASK_ALWAYS_EAGER": "false",
                # Redis gives a killed worker's unacknowledged task back after this many seconds,
                # and the worker looks for such tasks about every 10 seconds (kombu's default: 100).
                "CELERY_VISIBILITY_TIMEOUT": "2",
                "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            }
            | env
        )
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.log_dir / f"worker-{self.starts}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "flowsadmin", "worker", "--pool=solo"]
            + ["--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel=INFO"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("worker-*.log")))


@pytest.fixture
def queued():
    """Tasks go to the broker, not run in-process, for this test."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    yield
    celery_app.conf.task_always_eager = True


def sender(index: int) -> str:
    return f"1555000{index:04d}"


def answers(index: int) -> dict:
    return {"comment": f"answer {index}", "ct-up": {f"answered_{index}": "yes"}}


def submitted_per_sender() -> dict[str, int]:
    counts: dict[str, int] = {}
    for whatsapp_id in Event.objects.filter(name="WAF_Flow_Submitted").values_list(
        "profile__whatsapp_id", flat=True
    ):
        counts[whatsapp_id] = counts.get(whatsapp_id, 0) + 1
    return counts


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_then_restarted_loses_and_doubles_no_completion(
    client, waba, queued, tmp_path
):
    victim = Profile.objects.create(whatsapp_id=sender(VICTIM))
    worker = Worker(tmp_path)
    # Another session holds the victim's profile row: the worker's transaction for that completion
    # blocks on it, so the SIGKILL lands in the middle of a task, with writes already made.
    lock = psycopg.connect(database_url().replace("postgres://", "postgresql://"), autocommit=False)
    try:
        lock.execute("SELECT 1 FROM audience_profile WHERE id = %s FOR UPDATE", [victim.pk])
        for index in range(COMPLETIONS):
            body = completion(
                waba.meta_waba_id, answers(index), wamid=f"wamid.K{index}", sender=sender(index)
            )
            assert post_webhook(client, waba, body).status_code == 200
        worker.start()

        def blocked() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                return cursor.fetchone()[0] == 1

        assert wait_for(blocked), worker.logs()
        assert WebhookDelivery.objects.filter(status="PROCESSED").count() == VICTIM
        worker.kill()
    finally:
        lock.rollback()
        lock.close()
    # The killed transaction rolled back: nothing of the victim's completion was kept.
    assert wait_for(lambda: not Event.objects.filter(profile=victim).exists(), seconds=10)

    worker.start()
    try:
        done = wait_for(
            lambda: WebhookDelivery.objects.filter(status="PROCESSED").count() == COMPLETIONS,
            seconds=90,
        )
        assert done, worker.logs()
    finally:
        worker.stop()
    assert submitted_per_sender() == {sender(i): 1 for i in range(COMPLETIONS)}
    victim.refresh_from_db()
    assert victim.properties == {f"answered_{VICTIM}": "yes"}
    assert not WebhookDelivery.objects.needing_attention().exists()


@pytest.fixture
def private_broker(queued):
    """The web side and the worker talk to a private redis-server, which the test may stop."""
    server = PrivateRedis()
    server.start()
    original = celery_app.conf.broker_url

    def point_at(url: str) -> None:
        # The app keeps a connection pool and a producer pool on it: both are made anew.
        celery_app.conf.broker_url = url
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    point_at(server.url)
    try:
        yield server
    finally:
        server.stop()
        point_at(original)


@pytest.mark.django_db(transaction=True)
def test_redis_down_when_a_completion_arrives_then_meta_re_delivers_it_and_it_is_processed(
    client, waba, private_broker, tmp_path
):
    body = completion(waba.meta_waba_id, answers(1), wamid="wamid.OUTAGE", sender=sender(1))
    private_broker.stop()
    response = post_webhook(client, waba, body)
    # Stored, but the task could not be queued: Meta is told to deliver again.
    assert response.status_code == 503
    assert WebhookDelivery.objects.get().status == "RECEIVED"

    private_broker.start()  # same port, empty: the first task is gone for good
    worker = Worker(tmp_path, REDIS_URL=private_broker.url)
    worker.start()
    try:
        response = post_webhook(client, waba, body)  # Meta's retry of the same body
        assert (response.status_code, response.content) == (200, b"Queued again.")
        assert wait_for(lambda: WebhookDelivery.objects.get().status == "PROCESSED"), worker.logs()
        # A further retry (Meta may send one more) is only acknowledged.
        assert post_webhook(client, waba, body).content == b"Already received."
    finally:
        worker.stop()
    assert submitted_per_sender() == {sender(1): 1}
    assert json.loads(json.dumps(Profile.objects.get().properties)) == {"answered_1": "yes"}
