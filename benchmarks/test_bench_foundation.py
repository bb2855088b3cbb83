"""Foundation benchmarks: the cost of encrypted secrets and of the Flows listing page."""

from __future__ import annotations

from django.urls import reverse

from flowsadmin.models import Flow
from tests.conftest import client_for
from wabas.models import Waba

from .harness import median_seconds, report


def test_bench_reading_a_waba_with_its_encrypted_secrets(waba):
    """Decrypting three secrets and a private key on every load, against a plain row of similar size."""
    Flow.objects.create(waba=waba, name="Plain row", flow_json="x" * 2000)
    baseline = median_seconds(lambda: Flow.objects.get(name="Plain row"), number=50)
    encrypted = median_seconds(
        lambda: Waba.objects.select_related("key_pair").get(pk=waba.pk).key_pair.private_pem,
        number=50,
    )
    report("waba+keys load", encrypted, "plain row load", baseline)


def test_bench_flows_listing_with_the_keys_panel(waba, admin_user):
    """The admin's Flows page with a full page of flows, against the health check round trip."""
    Flow.objects.bulk_create(
        Flow(waba=waba, name=f"Flow {i:03}", created_by=admin_user) for i in range(25)
    )
    client = client_for(admin_user)
    baseline = median_seconds(lambda: client.get(reverse("healthz")), number=10)
    page = median_seconds(lambda: client.get(reverse("flows:list")), number=10)
    report("flows listing (25 rows, keys panel)", page, "/healthz", baseline)
