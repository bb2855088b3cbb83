"""The issue's fault "Redis restarting mid-send": the send pipeline's Redis (the shared rate schedule
and the sender's heartbeat) goes away while a campaign is sending and comes back empty.

A private redis-server on its own loopback port stands in for the project's Redis, so stopping it
touches no other test or engineer.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest
import redis
from celery._state import _set_task_join_will_block
from django.db import connection

from campaigns import limiter
from campaigns.models import Campaign
from campaigns.sending import send_due
from sandbox.models import Message
from sandbox.services import set_faults

from .campaign_sending_support import make_people, messages_per_person, sending_campaign, wa

pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A throwaway redis-server: no snapshots, no append-only file, so a restart comes back empty."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                probe.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None


def sending_in_background(
    campaign: Campaign, *, seconds: float
) -> tuple[threading.Thread, list[BaseException]]:
    """send_due on two threads, started in a thread of its own as a Celery worker would run it; the
    list gets what the task would have died of."""
    crashed: list[BaseException] = []

    def send() -> None:
        try:
            send_due(campaign.pk, threads=2, seconds=seconds)
        except BaseException as exc:  # noqa: BLE001
            crashed.append(exc)
        finally:
            connection.close()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender, crashed


@pytest.fixture
def private_redis(settings, monkeypatch):
    server = PrivateRedis()
    server.start()
    settings.REDIS_URL = server.url
    # The limiter keeps one client per process: forget it so the next one is made on the private
    # server (monkeypatch puts the project's one back afterwards).
    monkeypatch.setattr(limiter, "_client", None)
    try:
        yield server
    finally:
        server.stop()
        _set_task_join_will_block(False)  # see campaign_sending_support.fresh_limiter


def test_redis_restarting_mid_send_loses_and_doubles_nobody_and_the_campaign_completes(
    campaign_template, private_redis
):
    make_people(PEOPLE)
    campaign = sending_campaign(campaign_template, send_rate=20)
    set_faults(latency_ms=50)  # about two seconds of sending at 20 a second
    sender, crashed = sending_in_background(campaign, seconds=40)  # ends when everyone is sent
    deadline = time.monotonic() + 10
    while Message.objects.count() < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    sent_before = Message.objects.count()
    assert 8 <= sent_before < PEOPLE, "Redis should go away mid-send"

    private_redis.stop()
    time.sleep(2)  # a restart's worth of downtime
    private_redis.start()

    sender.join(45)
    assert not sender.is_alive()

    # The slice waited for Redis and carried on: no crash, no minute's stall until the next beat.
    assert crashed == []
    assert messages_per_person() == {wa(n): 1 for n in range(PEOPLE)}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert not campaign.recipients.filter(status__in=["queued", "sending"]).exists()


# A sender thread that died of the error on its own would show as this warning.
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_redis_down_longer_than_the_retries_ends_the_slice_and_the_next_one_finishes(
    campaign_template, private_redis
):
    """Down past the limiter's retries (about 10 s), the slice ends with the error: every sender
    thread stops and closes its connection, and nobody is left claimed but unsent. The next slice
    (the beat's, once Redis is back) sends to the rest, once each."""
    make_people(PEOPLE)
    campaign = sending_campaign(campaign_template, send_rate=20)
    set_faults(latency_ms=50)
    sender, crashed = sending_in_background(campaign, seconds=60)
    deadline = time.monotonic() + 10
    while Message.objects.count() < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    private_redis.stop()
    sender.join(40)  # gives up once the retries are spent, with Redis still down
    assert not sender.is_alive()
    sent_before = Message.objects.count()
    assert 8 <= sent_before < PEOPLE
    assert crashed and isinstance(crashed[0], redis.RedisError), crashed
    assert not [t for t in threading.enumerate() if t.name.endswith("(_thread)")]
    # Nobody was left claimed and unsent: each "sending" recipient is one whose message went out.
    unsent_claims = campaign.recipients.filter(status="sending", wamid__isnull=True).count()
    assert unsent_claims == 0

    private_redis.start()
    send_due(campaign.pk, threads=2, seconds=40)

    assert messages_per_person() == {wa(n): 1 for n in range(PEOPLE)}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert not campaign.recipients.filter(status__in=["queued", "sending"]).exists()
