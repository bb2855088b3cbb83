"""The send pipeline on real Celery workers over Redis, against the sandbox Meta over real HTTP: the
shared limiter holding the rate across two workers, two workers on one campaign, a worker killed
with SIGKILL mid-send, and Meta failing 30% of calls. Audiences are small to keep each test short."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from campaigns.models import Recipient
from campaigns.tasks import dispatch_due_campaigns_task, send_campaign_task
from flowsadmin.celery import app as celery_app
from sandbox.models import Message
from sandbox.services import set_faults

from .campaign_sending_support import make_people, messages_per_person, sending_campaign, wa
from .test_queue import database_url, wait_for

ROOT = Path(__file__).resolve().parents[1]
SENT_BY_WORKER = re.compile(r"Campaign \d+: (\d+) sent by this worker")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_limiter")]


@pytest.fixture
def workers(sandbox_waba, tmp_path):
    """start(name, threads) starts a real `celery worker` on the test database and Redis."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    started: list[tuple[subprocess.Popen, object]] = []

    def start(name: str, threads: int = 4) -> tuple[subprocess.Popen, Path]:
        env = os.environ | {
            "DATABASE_URL": database_url(),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CAMPAIGN_SEND_THREADS": str(threads),
        }
        log_path = tmp_path / f"{name}.log"
        log = log_path.open("w")
        command = [sys.executable, "-m", "celery", "-A", "flowsadmin", "worker", "--pool=solo"]
        command += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
        command += ["--loglevel=INFO", "-n", f"{name}@%h"]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((process, log))
        return process, log_path

    try:
        yield start
    finally:
        for process, log in started:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            log.close()
        celery_app.control.purge()
        celery_app.conf.task_always_eager = True


def settled(campaign) -> bool:
    return not Recipient.objects.filter(campaign=campaign).unfinished().exists()


def test_two_workers_share_one_numbers_rate_and_never_send_to_one_person_twice(
    campaign_template, workers
):
    make_people(100)
    campaign = sending_campaign(campaign_template, send_rate=20)
    # Enough threads that a slow sandbox (each send waits for its webhooks) is not the limit.
    (_, first_log), (_, second_log) = workers("one", threads=8), workers("two", threads=8)
    send_campaign_task.delay(campaign.pk)
    send_campaign_task.delay(campaign.pk)

    assert wait_for(lambda: Message.objects.count() >= 100, seconds=60), Message.objects.count()

    times = sorted(Message.objects.values_list("created_at", flat=True))
    # Skip the first second: the second worker may join a little late. Then 20 a second, both
    # workers together (a per-process limit would give 40).
    steady = [t for t in times if (t - times[0]).total_seconds() >= 1]
    rate = (len(steady) - 1) / (steady[-1] - steady[0]).total_seconds()
    assert 17 <= rate <= 22, rate
    assert messages_per_person() == {wa(n): 1 for n in range(100)}
    assert wait_for(lambda: SENT_BY_WORKER.search(second_log.read_text()), seconds=20)
    assert wait_for(lambda: SENT_BY_WORKER.search(first_log.read_text()), seconds=20)
    by_worker = [
        int(SENT_BY_WORKER.search(log.read_text()).group(1)) for log in (first_log, second_log)
    ]
    assert sum(by_worker) == 100 and min(by_worker) > 0, by_worker


def test_a_worker_killed_mid_send_loses_nobody_and_doubles_nobody(campaign_template, workers):
    make_people(30)
    campaign = sending_campaign(campaign_template)
    # Each send waits 0.6 s for Meta's answer: the kill lands while a request is out.
    set_faults(latency_ms=600)
    doomed, _ = workers("doomed", threads=1)
    send_campaign_task.delay(campaign.pk)
    assert wait_for(lambda: Message.objects.count() >= 5, seconds=60)
    time.sleep(0.25)  # the next send has left; its answer is 0.35 s away

    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    set_faults()
    assert Recipient.objects.filter(campaign=campaign, status="sending").exists()

    # The beat would find no live sender within a minute; here the next sender is queued at once.
    workers("survivor")
    send_campaign_task.delay(campaign.pk)
    assert wait_for(lambda: settled(campaign), seconds=90), list(
        campaign.recipients.exclude(status__in=["sent", "delivered", "read"]).values_list(
            "whatsapp_id", "status", "error"
        )
    )

    assert messages_per_person() == {wa(n): 1 for n in range(30)}
    for recipient in campaign.recipients.all():
        assert recipient.status in ("sent", "delivered", "read"), recipient.error
        assert recipient.wamid == Message.objects.get(to=recipient.whatsapp_id).wamid
    dispatch_due_campaigns_task()  # what the beat would do within the minute
    campaign.refresh_from_db()
    assert campaign.status == "COMPLETED"


def test_meta_failing_30_percent_of_calls_still_reaches_everyone_once(campaign_template, workers):
    make_people(60)
    campaign = sending_campaign(campaign_template)
    set_faults(error_rate=0.3)
    workers("steady")
    send_campaign_task.delay(campaign.pk)

    assert wait_for(lambda: Message.objects.count() >= 60, seconds=90), Message.objects.count()
    set_faults()

    assert messages_per_person() == {wa(n): 1 for n in range(60)}
    assert wait_for(lambda: settled(campaign), seconds=60)
    assert not campaign.recipients.filter(status="failed").exists()
