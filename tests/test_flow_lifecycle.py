"""Creating, validating, publishing and retiring flows: the status table through the pages, and the
round trip with the sandbox Meta over real HTTP."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from django.urls import reverse

from flowsadmin.models import Flow, FlowChange
from flowsadmin.signals import flow_deprecated
from sandbox.services import set_faults
from templates_app.models import MessageTemplate
from wabas.graph import GraphClient, MetaError

from .conftest import client_for

EXAMPLES = Path(__file__).resolve().parents[1] / "flowsadmin" / "examples"
HOTEL = (EXAMPLES / "hotel-feedback.static.flow.json").read_text(encoding="utf-8")
JSONC = (
    Path(__file__).resolve().parent
    / "fixtures"
    / "flowjson"
    / "profile-update-with-comments.fragment.jsonc"
)


def form(**overrides: object) -> dict:
    return {
        "name": "Hotel feedback",
        "categories": ["SURVEY"],
        "endpoint": "HOSTED",
        "custom_endpoint_url": "",
        "customer_endpoint_url": "",
        "flow_json": HOTEL,
    } | overrides


def meta_status(flow: Flow) -> str:
    client = GraphClient.for_waba(flow.waba)
    try:
        return client.get_flow(flow.meta_flow_id, fields=["status"])["status"]
    finally:
        client.session.close()


# --- the status table, row by row, through the views -------------------------------------------

REFUSED = [
    ("PUBLISHED", "publish", "A published flow can't be published."),
    ("PUBLISHED", "delete", "A published flow can't be deleted."),
    ("DEPRECATED", "deprecate", "A deprecated flow can't be deprecated."),
    ("DEPRECATED", "publish", "A deprecated flow can't be published."),
    ("DEPRECATED", "delete", "A deprecated flow can't be deleted."),
    ("DRAFT", "deprecate", "A draft flow can't be deprecated."),
    ("THROTTLED", "publish", "A throttled flow can't be published."),
    ("BLOCKED", "delete", "A blocked flow can't be deleted."),
]


@pytest.mark.parametrize(("status", "action", "message"), REFUSED)
def test_the_server_refuses_what_the_status_table_does_not_allow(
    marketer, waba, status, action, message
):
    flow = Flow.objects.create(
        waba=waba, name="F", meta_flow_id="1", status=status, flow_json=HOTEL
    )
    response = client_for(marketer).post(
        reverse("flows:action", args=[flow.pk, action]), {"confirm": "yes"}, follow=True
    )
    assert message in html.unescape(response.content.decode())
    flow.refresh_from_db()
    assert flow.status == status


@pytest.mark.parametrize(
    ("status", "buttons", "absent"),
    [
        ("DRAFT", ["Publish", "Delete", "Refresh", "Save draft"], ["Deprecate…"]),
        (
            "PUBLISHED",
            ["Deprecate…", "Refresh", "Save endpoint settings"],
            ["Publish<", "Delete<", "Save draft"],
        ),
        (
            "DEPRECATED",
            ["Refresh"],
            ["Deprecate…", "Publish<", "Delete<", "Save endpoint settings", "Save draft"],
        ),
        (
            "THROTTLED",
            ["Deprecate…", "Refresh", "Save endpoint settings"],
            ["Publish<", "Delete<", "Save draft"],
        ),
        (
            "BLOCKED",
            ["Deprecate…", "Refresh", "Save endpoint settings"],
            ["Publish<", "Delete<", "Save draft"],
        ),
    ],
)
def test_the_page_shows_only_the_allowed_actions(marketer, waba, status, buttons, absent):
    flow = Flow.objects.create(
        waba=waba, name="F", meta_flow_id="1", status=status, flow_json=HOTEL
    )
    client = client_for(marketer)
    # Actions are on the Overview tab, saving on the Flow JSON tab.
    page = "".join(
        html.unescape(client.get(reverse(tab, args=[flow.pk])).content.decode())
        for tab in ("flows:detail", "flows:json")
    )
    for button in buttons:
        assert button in page, button
    for button in absent:
        assert button not in page, button


def test_a_deprecated_flow_refuses_json_and_endpoint_edits(marketer, waba):
    flow = Flow.objects.create(
        waba=waba, name="F", meta_flow_id="1", status="DEPRECATED", flow_json=HOTEL
    )
    client = client_for(marketer)
    response = client.post(
        reverse("flows:json", args=[flow.pk]), form(flow_json="{}", lock_version=1), follow=True
    )
    assert "A deprecated flow can't be edited." in html.unescape(response.content.decode())
    response = client.post(
        reverse("flows:endpoint_settings", args=[flow.pk]),
        {"customer_endpoint_url": "https://x.example"},
        follow=True,
    )
    assert "A deprecated flow can't be given a new customer endpoint." in html.unescape(
        response.content.decode()
    )
    flow.refresh_from_db()
    assert flow.flow_json == HOTEL and flow.customer_endpoint_url == ""


def test_a_published_flow_takes_a_new_customer_endpoint(marketer, waba):
    flow = Flow.objects.create(
        waba=waba, name="F", meta_flow_id="1", status="PUBLISHED", flow_json=HOTEL
    )
    client_for(marketer).post(
        reverse("flows:endpoint_settings", args=[flow.pk]),
        {"customer_endpoint_url": "https://hotel.example/flows"},
    )
    flow.refresh_from_db()
    assert flow.customer_endpoint_url == "https://hotel.example/flows"
    assert not flow.requires_our_token
    change = FlowChange.objects.get(flow=flow)
    assert (change.action, change.detail) == (
        "update_endpoint",
        "https://hotel.example/flows; any flow token",
    )


def test_a_published_flow_can_be_set_to_accept_only_our_tokens(marketer, waba):
    flow = Flow.objects.create(
        waba=waba, name="F", meta_flow_id="1", status="PUBLISHED", flow_json=HOTEL
    )
    client = client_for(marketer)
    page = client.get(reverse("flows:detail", args=[flow.pk])).content.decode()
    assert "Accept only flow tokens this dashboard issued" in page

    response = client.post(
        reverse("flows:endpoint_settings", args=[flow.pk]),
        {"customer_endpoint_url": "", "requires_our_token": "on"},
        follow=True,
    )

    assert "Endpoint settings saved." in response.content.decode()
    flow.refresh_from_db()
    assert flow.requires_our_token
    assert FlowChange.objects.get(flow=flow).detail == "no customer endpoint; only our flow tokens"
    assert "<dd>Only ours</dd>" in response.content.decode()


def test_a_draft_saves_its_token_setting_and_a_custom_endpoint_drops_it(sandbox_waba, marketer):
    client = client_for(marketer)
    client.post(reverse("flows:create"), form(requires_our_token="on"))
    hosted = Flow.objects.get()
    assert hosted.requires_our_token
    client.post(
        reverse("flows:json", args=[hosted.pk]),
        form(
            requires_our_token="on",
            endpoint="CUSTOM",
            custom_endpoint_url="https://hotel.example/meta",
            lock_version=hosted.lock_version,
        ),
    )
    hosted.refresh_from_db()
    assert hosted.endpoint == "CUSTOM" and not hosted.requires_our_token


def test_a_campaign_manager_views_flows_but_changes_nothing(campaign_manager, waba):
    flow = Flow.objects.create(waba=waba, name="F", meta_flow_id="1", flow_json=HOTEL)
    client = client_for(campaign_manager)
    page = html.unescape(client.get(reverse("flows:json", args=[flow.pk])).content.decode())
    assert "Your role can't edit flows." in page and ">Publish<" not in page
    assert client.post(reverse("flows:action", args=[flow.pk, "publish"])).status_code == 403
    assert (
        client.post(reverse("flows:json", args=[flow.pk]), form(lock_version=1)).status_code == 403
    )
    assert client.get(reverse("flows:create")).status_code == 403


def test_an_unknown_action_is_not_found(marketer, waba):
    flow = Flow.objects.create(waba=waba, name="F", flow_json=HOTEL)
    assert (
        client_for(marketer).post(reverse("flows:action", args=[flow.pk, "explode"])).status_code
        == 404
    )


# --- the round trip with the sandbox Meta -------------------------------------------------------


def test_create_publish_and_deprecate_through_the_sandbox(sandbox_waba, marketer):
    client = client_for(marketer)
    response = client.post(reverse("flows:create"), form(), follow=True)
    flow = Flow.objects.get()
    assert "Hotel feedback saved as a draft on Meta." in html.unescape(response.content.decode())
    assert flow.meta_flow_id and flow.status == "DRAFT" and flow.has_validation_errors is False
    assert flow.created_by == marketer and flow.revisions.count() == 1
    assert meta_status(flow) == "DRAFT"

    response = client.post(reverse("flows:action", args=[flow.pk, "publish"]), follow=True)
    assert "is published" in html.unescape(response.content.decode())
    flow.refresh_from_db()
    assert flow.status == "PUBLISHED" and meta_status(flow) == "PUBLISHED"

    template = MessageTemplate.objects.create(
        waba=flow.waba, name="hotel_feedback_v1", flow=flow, status="APPROVED"
    )
    heard = []
    flow_deprecated.connect(
        lambda sender, flow, **kw: heard.append(flow.pk), weak=False, dispatch_uid="t"
    )
    try:
        confirm = client.post(reverse("flows:action", args=[flow.pk, "deprecate"]))
        assert "This cannot be undone." in html.unescape(confirm.content.decode())
        flow.refresh_from_db()
        assert flow.status == "PUBLISHED"  # asking is not doing
        client.post(reverse("flows:action", args=[flow.pk, "deprecate"]), {"confirm": "yes"})
    finally:
        flow_deprecated.disconnect(dispatch_uid="t")
    flow.refresh_from_db()
    assert flow.status == "DEPRECATED" and meta_status(flow) == "DEPRECATED"
    assert heard == [flow.pk]
    template.refresh_from_db()
    assert template.flow is None  # removed from every template that used it
    assert list(flow.changes.values_list("action", flat=True)) == ["deprecate", "publish", "create"]


def test_a_flow_with_errors_is_saved_shown_refused_then_fixed_and_published(sandbox_waba, marketer):
    broken = HOTEL.replace('"name": "RATE"', '"name": "NOWHERE"', 1)
    assert broken != HOTEL
    client = client_for(marketer)
    client.post(reverse("flows:create"), form(flow_json=broken))
    flow = Flow.objects.get()
    page = html.unescape(client.get(reverse("flows:json", args=[flow.pk])).content.decode())
    assert flow.has_validation_errors is True
    assert "NOWHERE" in page and 'data-jump-line="' in page
    response = client.post(reverse("flows:action", args=[flow.pk, "publish"]), follow=True)
    assert "Nothing changed. Fix the" in html.unescape(response.content.decode())
    assert meta_status(flow) == "DRAFT"

    client.post(reverse("flows:json", args=[flow.pk]), form(lock_version=flow.lock_version))
    flow.refresh_from_db()
    assert flow.has_validation_errors is False and flow.revisions.count() == 2
    diff = client.get(reverse("flows:revision", args=[flow.pk, 2])).content.decode()
    assert '<span class="del">-' in diff and "NOWHERE" in diff
    client.post(reverse("flows:action", args=[flow.pk, "publish"]))
    flow.refresh_from_db()
    assert flow.status == "PUBLISHED"


def test_the_jsonc_paste_is_rejected_at_its_comment_line_and_not_sent_to_meta(
    sandbox_waba, marketer
):
    text = JSONC.read_text(encoding="utf-8")
    comment_line = next(i for i, line in enumerate(text.splitlines(), 1) if "//" in line)
    client = client_for(marketer)
    response = client.post(reverse("flows:create"), form(flow_json=text), follow=True)
    page = html.unescape(response.content.decode())
    assert (
        "Saved here as a draft, but not on Meta: the JSON has a syntax error; fix it and save again."
        in page
    )
    assert f'data-jump-line="{comment_line}"' in page
    flow = Flow.objects.get()
    assert flow.meta_flow_id == "" and flow.flow_json == text  # kept as typed, not on Meta


def test_when_meta_fails_the_flow_is_not_marked_created_and_nothing_is_lost(sandbox_waba, marketer):
    set_faults(error_rate=1.0)
    try:
        response = client_for(marketer).post(reverse("flows:create"), form(), follow=True)
    finally:
        set_faults()
    assert "Saved here as a draft, but not on Meta" in html.unescape(response.content.decode())
    flow = Flow.objects.get()
    assert flow.meta_flow_id == "" and flow.flow_json == HOTEL
    # Saving again once Meta is back creates it there.
    client_for(marketer).post(
        reverse("flows:json", args=[flow.pk]), form(lock_version=flow.lock_version)
    )
    flow.refresh_from_db()
    assert flow.meta_flow_id and flow.meta_sync_error == ""


def test_when_meta_refuses_the_publish_nothing_changes(sandbox_waba, marketer):
    client = client_for(marketer)
    client.post(reverse("flows:create"), form())
    flow = Flow.objects.get()
    set_faults(error_rate=1.0)
    try:
        response = client.post(reverse("flows:action", args=[flow.pk, "publish"]), follow=True)
    finally:
        set_faults()
    assert "Nothing changed. Meta" in html.unescape(response.content.decode())
    flow.refresh_from_db()
    assert flow.status == "DRAFT"


def test_two_people_editing_one_draft_the_second_is_told_and_nothing_is_overwritten(
    sandbox_waba, marketer, admin_user
):
    client_for(marketer).post(reverse("flows:create"), form())
    flow = Flow.objects.get()
    opened = flow.lock_version
    first = client_for(marketer).post(
        reverse("flows:json", args=[flow.pk]), form(name="Bob's name", lock_version=opened)
    )
    assert first.status_code == 302
    second = client_for(admin_user).post(
        reverse("flows:json", args=[flow.pk]), form(name="Alice's name", lock_version=opened)
    )
    assert second.status_code == 409
    assert "changed by someone else since you opened it" in html.unescape(second.content.decode())
    assert "Alice's name" in html.unescape(second.content.decode())  # her text is still in the form
    flow.refresh_from_db()
    assert flow.name == "Bob's name"


def test_clone_makes_a_new_draft_and_delete_removes_a_draft_here_and_on_meta(
    sandbox_waba, marketer
):
    client = client_for(marketer)
    client.post(reverse("flows:create"), form())
    original = Flow.objects.get()
    client.post(reverse("flows:action", args=[original.pk, "clone"]))
    copy = Flow.objects.exclude(pk=original.pk).get()
    assert copy.name == "Copy of Hotel feedback" and copy.status == "DRAFT"
    assert copy.meta_flow_id and copy.meta_flow_id != original.meta_flow_id

    response = client.post(reverse("flows:action", args=[copy.pk, "delete"]), follow=True)
    assert "was deleted" in html.unescape(response.content.decode())
    assert not Flow.objects.filter(pk=copy.pk).exists()
    with pytest.raises(MetaError):
        meta_status(copy)


def test_refresh_from_the_detail_page(sandbox_waba, marketer):
    client = client_for(marketer)
    client.post(reverse("flows:create"), form())
    flow = Flow.objects.get()
    response = client.post(reverse("flows:action", args=[flow.pk, "refresh"]), follow=True)
    assert "Refreshed from Meta." in html.unescape(response.content.decode())
    flow.refresh_from_db()
    assert flow.synced_at is not None and flow.preview_url


def test_check_json_answers_without_saving(marketer, waba):
    response = client_for(marketer).post(
        reverse("flows:validate"), {"flow_json": '{"version": "7.3", "screens": [,]}'}
    )
    assert response.status_code == 200
    assert "line 1" in html.unescape(response.content.decode())
    assert not Flow.objects.exists()


def test_the_preview_page_draws_the_flow_and_follows_navigate(campaign_manager, waba):
    flow = Flow.objects.create(
        waba=waba, name="Hotel feedback", flow_json=HOTEL, status="DEPRECATED"
    )
    client = client_for(campaign_manager)
    first = html.unescape(client.get(reverse("flows:preview", args=[flow.pk])).content.decode())
    assert 'href="?screen=RATE"' in first
    second = client.get(reverse("flows:preview", args=[flow.pk]), {"screen": "RATE"})
    assert second.status_code == 200 and "Ends the flow and sends the answers" in html.unescape(
        second.content.decode()
    )


def test_a_row_refresh_answers_the_fresh_row(sandbox_waba, marketer):
    client = client_for(marketer)
    client.post(reverse("flows:create"), form())
    flow = Flow.objects.get()
    response = client.post(
        reverse("flows:action", args=[flow.pk, "refresh"]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="flow-row-{flow.pk}"')
    assert flow.meta_flow_id in body
    flow.refresh_from_db()
    assert flow.synced_at is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://10.0.0.5/flows",
        "http://localhost/x",
        "https://[::1]/x",
        "http://169.254.169.254/latest",
    ],
)
def test_a_private_customer_endpoint_is_refused_in_production(marketer, waba, settings, url):
    settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS = False
    flow = Flow.objects.create(
        waba=waba, name="F", meta_flow_id="1", status="PUBLISHED", flow_json=HOTEL
    )
    response = client_for(marketer).post(
        reverse("flows:endpoint_settings", args=[flow.pk]),
        {"customer_endpoint_url": url},
        follow=True,
    )
    assert "private or loopback address" in html.unescape(response.content.decode())
    flow.refresh_from_db()
    assert flow.customer_endpoint_url == ""
