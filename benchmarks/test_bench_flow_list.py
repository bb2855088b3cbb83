"""The Flows listing with 10,000 flows: time per page and SQL queries, against the health check."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from flowsadmin.models import Flow
from tests.conftest import client_for

from .harness import median_seconds, report


def test_bench_listing_10000_flows(waba, admin_user):
    Flow.objects.bulk_create(
        (Flow(waba=waba, name=f"Flow {i:05}", created_by=admin_user) for i in range(10_000)),
        batch_size=2000,
    )
    client = client_for(admin_user)
    baseline = median_seconds(lambda: client.get(reverse("healthz")), number=10)
    for label, params in [
        ("first page", {}),
        ("page 200", {"page": 200}),
        ("search", {"q": "Flow 09"}),
        ("sort by name", {"sort": "name"}),
    ]:
        seconds = median_seconds(
            lambda p=params: client.get(reverse("flows:list"), p), repeat=5, number=5
        )
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("flows:list"), params)
        report(
            f"flows listing, 10,000 flows, {label} ({len(queries)} queries)",
            seconds,
            "/healthz",
            baseline,
        )
