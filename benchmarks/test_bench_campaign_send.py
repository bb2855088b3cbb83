"""The campaign sender against a loopback stand-in for Meta that answers at once (meta_standin.py, in
its own process, pinned to core 1 where `taskset` exists), and the start of a 100,000-person campaign.

Printed side by side from the same run:
- the floor: one bare HTTP/1.1 POST of the same JSON on a kept-alive connection (http.client, one
  thread), its CPU per message; then the sender (send_due: limiter, claim, token, send, record) for
  one number at 1,000 a second (Meta's top throughput) with the configured threads: messages a
  second, and its CPU per message as a ratio to the floor (goals: >= 1,000 msg/s, < 300 us);
- starting campaigns of 10,000 and 100,000 people (freeze + recipients): seconds, against a plain
  INSERT ... SELECT of as many rows into the same table; the Python memory peak of each start
  (tracemalloc), which must not grow with the audience.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from django.db import connection

from campaigns.limiter import connection as redis_connection
from campaigns.models import Campaign, Recipient
from campaigns.sending import send_due, start_campaign
from flowsadmin.models import Flow
from templates_app.models import MessageTemplate
from tests.conftest import make_waba
from wabas.models import PhoneNumber

ROOT = Path(__file__).resolve().parent.parent
TASKSET = shutil.which("taskset")
MESSAGES = 5000

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def standin():
    port = free_port()
    command = [sys.executable, str(ROOT / "benchmarks" / "meta_standin.py"), str(port)]
    if TASKSET and os.cpu_count() > 1:
        command = [TASKSET, "-c", "1", *command]
    process = subprocess.Popen(command)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def add_people(count: int, start: int = 0, city: str = "London") -> None:
    """Profiles straight in SQL: the setup, not what is measured."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO audience_profile (whatsapp_id, phone, name, email, gender, date_of_birth,
                city, properties, created_at, updated_at)
            SELECT '44770' || lpad(n::text, 7, '0'), '', 'Guest ' || n, '', '', '', %s,
                '{}'::jsonb, now(), now()
            FROM generate_series(%s, %s) AS n
            """,
            [city, start, start + count - 1],
        )


def campaign_for(base_url: str, **fields: object) -> Campaign:
    template = MessageTemplate.objects.first()
    if template is not None:
        campaign = Campaign.objects.create(
            waba=template.waba, name="Bench", template=template, **fields
        )
        campaign.mark_published()
        return campaign
    waba = make_waba(graph_base_url=base_url)
    phone = PhoneNumber.objects.create(
        waba=waba,
        meta_phone_number_id="106540352242922",
        display_phone_number="+1 555 0100",
        throughput_mps=1000,
    )
    flow = Flow.objects.create(
        waba=waba, name="Hotel feedback", status="PUBLISHED", meta_flow_id="771023498811223"
    )
    template = MessageTemplate.objects.create(
        waba=waba, name="stay_feedback", status="APPROVED", meta_template_id="9001",
        body="Hi {{user.name}}, how was your stay?", button_text="Rate your stay", flow=flow,
        variables=[{"variable": "user.name", "param": "user_name", "example": "Ana"}],
    )  # fmt: skip
    campaign = Campaign.objects.create(
        waba=waba, name="Bench", template=template, phone_number=phone,
        variables={"user_name": {"field": "name", "fallback": "there"}}, **fields,
    )  # fmt: skip
    campaign.mark_published()
    return campaign


def floor_cpu_per_message(base_url: str, count: int = 2000) -> float:
    """One bare POST of a template send's JSON on a kept-alive connection, CPU seconds each."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    payload = {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "447700000001",
        "type": "template", "template": {"name": "stay_feedback", "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Guest 1",
        "parameter_name": "user_name"}]}]}, "biz_opaque_callback_data": "campaign:1:recipient:1",
    }  # fmt: skip

    def one() -> None:
        conn.request(
            "POST", "/v23.0/106540352242922/messages", body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
        )  # fmt: skip
        json.loads(conn.getresponse().read())

    for _ in range(200):
        one()
    started = time.process_time()
    for _ in range(count):
        one()
    conn.close()
    return (time.process_time() - started) / count


def test_bench_sender_rate_and_cpu_per_message_for_one_number():
    redis = redis_connection()
    for key in redis.scan_iter("campaigns:*"):
        redis.delete(key)
    with standin() as base_url:
        add_people(MESSAGES)
        campaign = start_campaign(campaign_for(base_url, send_rate=1000))
        floor = floor_cpu_per_message(base_url)

        wall, cpu = time.perf_counter(), time.process_time()
        sent = send_due(campaign.pk, seconds=120)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    assert sent == MESSAGES
    assert Recipient.objects.filter(campaign=campaign, status="sent").count() == MESSAGES
    from django.conf import settings

    rate, per_message = sent / wall, cpu / sent
    print(  # noqa: T201
        f"BENCH campaign sender, one number at 1,000/s, {settings.CAMPAIGN_SEND_THREADS} threads: "
        f"{rate:.0f} msg/s ({rate / 1000:.2f}x the 1,000/s goal); "
        f"CPU {per_message * 1e6:.0f} us/msg = {per_message / floor:.2f}x the floor "
        f"(a bare POST, {floor * 1e6:.0f} us/msg); goal < 300 us: {per_message * 1e6 / 300:.2f}x"
    )


def plain_copy_seconds(rows: int) -> float:
    """The floor of a start: INSERT ... SELECT of as many rows into the recipients table."""
    campaign = Campaign.objects.order_by("pk").first()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Recipient._meta.db_table}
                (campaign_id, whatsapp_id, status, flow_token, error_code, error, attempts)
            SELECT %s, 'x' || n, 'cancelled', '', '', '', 0 FROM generate_series(1, %s) AS n
            """,
            [campaign.pk, rows],
        )
    seconds = time.perf_counter() - started
    Recipient.objects.filter(campaign=campaign, whatsapp_id__startswith="x").delete()
    return seconds


def test_bench_starting_a_100000_person_campaign():
    add_people(10_000, city="Leeds")
    add_people(90_000, start=10_000)
    results = {}
    for size, segment in [
        (10_000, {"rules": [{"kind": "property", "field": "city", "value": "Leeds"}]}),
        (100_000, {}),  # everyone
    ]:
        campaign = campaign_for(
            "http://127.0.0.1:9", segment=segment, control_percent=10, frequency_cap_hours=24
        )
        tracemalloc.start()
        started = time.perf_counter()
        start_campaign(campaign)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert campaign.audience_size == size
        assert campaign.recipients.filter(status="control").count() == size // 10
        results[size] = (seconds, peak, plain_copy_seconds(size))
    for size, (seconds, peak, floor) in results.items():
        print(  # noqa: T201
            f"BENCH start a {size:,}-person campaign (freeze, control 10%, frequency cap): "
            f"{seconds:.2f} s = {seconds / floor:.2f}x a plain INSERT ... SELECT of {size:,} rows "
            f"({floor:.2f} s); Python memory peak {peak / 1024:.0f} KiB"
        )
    # Memory that does not grow with the audience: the peaks of 10,000 and 100,000 are alike.
    assert results[100_000][1] < 2 * results[10_000][1] + 256 * 1024
