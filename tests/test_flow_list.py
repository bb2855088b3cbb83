"""The Flows listing: the product document's columns, search, filter, pages, and its htmx fragment."""

from __future__ import annotations

import re

from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.views.defaults import server_error

from flowsadmin.models import Flow

from .conftest import client_for, make_waba


def test_the_listing_shows_the_product_documents_columns(marketer, flow):
    flow.meta_flow_id = "1234567890"
    flow.customer_endpoint_url = "https://hotel.example/flows"
    flow.save()
    page = client_for(marketer).get(reverse("flows:list")).content.decode()
    for column in (
        "Flow Name",
        "Flow ID",
        "Flow Status",
        "Validation Errors",
        "Mapped/Data Exchange URLs",
        "Last Updated",
        "Created By",
    ):
        assert re.search(
            rf"<th scope=\"col\"[^>]*>(<a [^>]*>)?{re.escape(column)}(</a>)?</th>", page
        ), column
    assert "Hotel feedback" in page and "1234567890" in page and "Draft" in page
    assert f"/meta/flows/{flow.public_id}/" in page
    assert "https://hotel.example/flows" in page
    assert ">bob<" in page


def test_a_custom_endpoint_flow_shows_its_own_url(marketer, waba):
    Flow.objects.create(
        waba=waba,
        name="Own server",
        endpoint="CUSTOM",
        custom_endpoint_url="https://mine.example/wa",
    )
    assert (
        "https://mine.example/wa"
        in client_for(marketer).get(reverse("flows:list")).content.decode()
    )


def test_search_and_status_filter_narrow_the_list(marketer, waba):
    Flow.objects.create(waba=waba, name="Hotel feedback")
    Flow.objects.create(waba=waba, name="Bus booking", status="PUBLISHED")
    client = client_for(marketer)
    by_name = client.get(reverse("flows:list"), {"q": "hotel"}).content.decode()
    assert "Hotel feedback" in by_name and "Bus booking" not in by_name
    by_status = client.get(reverse("flows:list"), {"status": "PUBLISHED"}).content.decode()
    assert "Bus booking" in by_status and "Hotel feedback" not in by_status
    nothing = client.get(reverse("flows:list"), {"status": "NOT-A-STATUS"})
    assert nothing.status_code == 200


def test_htmx_gets_only_the_table_fragment(marketer, flow):
    response = client_for(marketer).get(
        reverse("flows:list"), {"q": "hotel"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="flow-table"')
    assert "<html" not in body and "Hotel feedback" in body


def test_flows_of_another_waba_are_not_listed(marketer, waba):
    other = make_waba(name="Other", meta_waba_id="55555555")
    Flow.objects.create(waba=other, name="Someone else's flow")
    assert "Someone else" not in client_for(marketer).get(reverse("flows:list")).content.decode()


def test_the_listing_pages_by_25(marketer, waba):
    Flow.objects.bulk_create(Flow(waba=waba, name=f"Flow {i:02}") for i in range(30))
    client = client_for(marketer)
    first = client.get(reverse("flows:list")).content.decode()
    assert len(re.findall(r">Flow \d\d</a>", first)) == 25 and "Page 1 of 2" in first
    second = client.get(reverse("flows:list"), {"page": 2}).content.decode()
    assert len(re.findall(r">Flow \d\d</a>", second)) == 5


def test_with_no_waba_the_listing_says_what_to_do(admin_user, marketer):
    assert "Add one" in client_for(admin_user).get(reverse("flows:list")).content.decode()
    assert (
        "Ask an admin to add one"
        in client_for(marketer).get(reverse("flows:list")).content.decode()
    )


def test_unknown_pages_get_the_friendly_404(marketer):
    response = client_for(marketer).get("/no/such/page/")
    assert response.status_code == 404 and b"Nothing here" in response.content


def test_server_errors_get_the_friendly_500_page(db):
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert b"Nothing you entered was lost" in response.content


def test_the_listing_costs_the_same_queries_for_5_or_25_flows(admin_user, waba):
    client = client_for(admin_user)
    Flow.objects.bulk_create(
        Flow(waba=waba, name=f"Flow {i:02}", created_by=admin_user) for i in range(5)
    )
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("flows:list"))
    Flow.objects.bulk_create(
        Flow(waba=waba, name=f"More {i:02}", created_by=admin_user) for i in range(20)
    )
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("flows:list"))
    assert len(many) == len(few)


def test_the_listing_sorts_by_name_both_ways(marketer, waba):
    for name in ("Bravo", "Alpha", "Charlie"):
        Flow.objects.create(waba=waba, name=name)
    client = client_for(marketer)
    up = client.get(reverse("flows:list"), {"sort": "name"}).content.decode()
    down = client.get(reverse("flows:list"), {"sort": "-name"}).content.decode()
    assert up.index(">Alpha<") < up.index(">Bravo<") < up.index(">Charlie<")
    assert down.index(">Charlie<") < down.index(">Bravo<") < down.index(">Alpha<")
    # Unknown sort keys fall back to the newest first instead of failing.
    assert client.get(reverse("flows:list"), {"sort": "password"}).status_code == 200


def test_a_row_refresh_with_meta_down_answers_the_row_with_the_error(marketer, waba):
    flow = Flow.objects.create(waba=waba, name="Hotel feedback", meta_flow_id="771023498811223")
    # The fixture WABA points at a sandbox URL where nothing listens: Meta can't be reached.
    waba.graph_base_url = "http://127.0.0.1:9"
    waba.save()
    response = client_for(marketer).post(
        reverse("flows:action", args=[flow.pk, "refresh"]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="flow-row-{flow.pk}"')
    assert "Nothing changed." in body and "<html" not in body
