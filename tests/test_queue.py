"""Webhook processing on a real Celery worker over Redis: the queue, not an in-process shortcut."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from flowsadmin.celery import app as celery_app
from flowsadmin.models import Flow
from wabas.models import WebhookDelivery
from wabas.tasks import process_webhook_task

from .conftest import post_webhook

ROOT = Path(__file__).resolve().parents[1]
SUCCEEDED = re.compile(r"process_webhook_task\[[0-9a-f-]+\] succeeded")


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db, tmp_path):
    """A real `celery worker` process on the test database and the test Redis."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "flowsadmin",
            "worker",
            "--pool=solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        celery_app.conf.task_always_eager = True
        log.close()


def wait_for(predicate, *, seconds: float = 60) -> bool:
    """True once predicate() is, polled every 0.05 s; False after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_worker_processes_a_delivery_once_even_when_it_is_queued_twice(worker, client, waba):
    flow = Flow.objects.create(
        waba=waba, name="Hotel feedback", meta_flow_id="771023498811223", status="PUBLISHED"
    )
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": waba.meta_waba_id,
                    "time": 1767225600,
                    "changes": [
                        {
                            "field": "flows",
                            "value": {
                                "event": "FLOW_STATUS_CHANGE",
                                "flow_id": "771023498811223",
                                "old_status": "PUBLISHED",
                                "new_status": "BLOCKED",
                                "message": "Blocked for policy",
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    response = post_webhook(client, waba, body)
    # Answered before processing: the delivery is stored and waiting for the worker.
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    # A duplicate task for the same delivery, as a redelivered message would be.
    process_webhook_task.delay(delivery.pk)

    assert wait_for(lambda: WebhookDelivery.objects.get().status == "PROCESSED"), (
        "the worker never processed it"
    )
    flow.refresh_from_db()
    assert flow.status == "BLOCKED" and flow.status_reason == "Blocked for policy"
    delivery.refresh_from_db()
    first_processed_at = delivery.processed_at
    # Let the duplicate task run too; it must find the delivery already claimed.
    assert wait_for(lambda: len(SUCCEEDED.findall(worker.read_text())) == 2), worker.read_text()
    delivery.refresh_from_db()
    assert delivery.processed_at == first_processed_at
    assert delivery.result == "flows: Hotel feedback is now BLOCKED."
