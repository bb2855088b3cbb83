"""Campaign pages: the permission matrix, the listing, building a campaign step by step, publishing
and the buttons of the campaign page."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audience.models import Profile
from campaigns.models import Campaign
from templates_app.models import MessageTemplate

from .campaign_support import add_recipients, make_campaign, make_template
from .conftest import client_for

ALLOW, DENY, LOGIN = "allow", "deny", "login"
MANAGERS = {"admin": ALLOW, "marketer": DENY, "campaigns": ALLOW, "norole": DENY, "anon": LOGIN}


@pytest.fixture
def cast(admin_user, marketer, campaign_manager, no_role_user) -> dict:
    return {
        "admin": admin_user,
        "marketer": marketer,
        "campaigns": campaign_manager,
        "norole": no_role_user,
        "anon": None,
    }


def form_data(template: MessageTemplate, **changes: object) -> dict:
    """A campaign the form accepts: the template, a London segment, sent now."""
    return {
        "name": "Spring stays",
        "channel": "whatsapp",
        "template": str(template.pk),
        "phone_number": str(template.waba.phone_numbers.first().pk),
        "var_user_name_field": "name",
        "var_user_name_fallback": "there",
        "var_user_city_field": "city",
        "var_user_city_fallback": "town",
        "audience_kind": "SEGMENT",
        "match": "all",
        "rule_0_subject": "city",
        "rule_0_op": "equals",
        "rule_0_value": "London",
        "send_mode": "now",
        "time_zone": "Europe/London",
        "send_rate": "20",
        "control_percent": "0",
    } | changes


def urls(campaign: Campaign) -> list[tuple[str, str, str]]:
    pk = [campaign.pk]
    return [
        ("list", "get", reverse("campaigns:list"), MANAGERS),
        ("detail", "get", reverse("campaigns:detail", args=pk), MANAGERS),
        ("csv", "get", reverse("campaigns:recipients_csv", args=pk), MANAGERS),
        ("create", "get", reverse("campaigns:create"), MANAGERS),
        ("create post", "post", reverse("campaigns:create"), MANAGERS),
        ("edit", "get", reverse("campaigns:edit", args=pk), MANAGERS),
        ("edit post", "post", reverse("campaigns:edit", args=pk), MANAGERS),
        ("publish", "get", reverse("campaigns:publish", args=pk), MANAGERS),
        ("delete", "get", reverse("campaigns:delete", args=pk), MANAGERS),
        ("pause", "post", reverse("campaigns:action", args=[campaign.pk, "pause"]), MANAGERS),
        ("resume", "post", reverse("campaigns:action", args=[campaign.pk, "resume"]), MANAGERS),
        ("cancel", "post", reverse("campaigns:action", args=[campaign.pk, "cancel"]), MANAGERS),
        # Last: it publishes the campaign when allowed.
        ("publish post", "post", reverse("campaigns:publish", args=pk), MANAGERS),
    ]


@pytest.mark.parametrize("role", ["admin", "marketer", "campaigns", "norole", "anon"])
def test_every_campaign_url_answers_each_role_as_the_matrix_says(sendable, people, cast, role):
    campaign = make_campaign(sendable)
    client = client_for(cast[role])
    for name, method, url, expected in urls(campaign):
        response = getattr(client, method)(url)
        want = expected[role]
        if want == ALLOW:
            assert response.status_code in (200, 302), (name, role, response.status_code)
            if response.status_code == 302:
                assert not response["Location"].startswith(reverse("login")), (name, role)
        elif want == DENY:
            assert response.status_code == 403, (name, role, response.status_code)
        else:
            assert response.status_code == 302, (name, role)
            assert response["Location"].startswith(reverse("login")), (name, role)
    campaign.refresh_from_db()
    published = campaign.status != Campaign.Status.DRAFT
    assert published == (expected_allows := MANAGERS[role] == ALLOW), (role, expected_allows)


@pytest.mark.parametrize("role", ["admin", "marketer", "campaigns"])
def test_the_navigation_shows_campaigns_only_to_campaign_managers_and_admins(cast, role, waba):
    page = client_for(cast[role]).get(reverse("flows:list") if role == "marketer" else "/")
    page = client_for(cast[role]).get(reverse("templates:list"))
    shown = f'href="{reverse("campaigns:list")}"' in page.content.decode()
    assert shown == (role != "marketer")


def test_the_listing_shows_each_campaigns_counts(client, campaign_manager, sendable):
    finished = make_campaign(sendable, name="Winter stays", status="COMPLETED", audience_size=5)
    add_recipients(finished, ["sent", "delivered", "read", "read", "failed"])
    finished.recipients.filter(status="read").update(completed_at=timezone.now())
    make_campaign(sendable, name="Draft one")
    page = client_for(campaign_manager).get(reverse("campaigns:list")).content.decode()
    row = page.split("Winter stays")[1].split("</tr>")[0]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in row.split("</td>")][:9]
    # Template, flow, status, audience, sent, delivered, read, completed.
    assert cells[1:9] == ["stay_feedback", "Hotel feedback", "Completed", "5", "4", "3", "2", "2"]
    assert "Draft one" in page


def test_the_listing_counts_in_queries_that_do_not_grow_with_campaigns(campaign_manager, sendable):
    client = client_for(campaign_manager)
    add_recipients(make_campaign(sendable, name="C0", status="SENDING"), ["sent"] * 3)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("campaigns:list"))
    for i in range(1, 12):
        add_recipients(
            make_campaign(sendable, name=f"C{i}", status="SENDING"), ["sent"] * 3, start=i * 10
        )
    with CaptureQueriesContext(connection) as twelve:
        response = client.get(reverse("campaigns:list"))
    assert len(twelve) == len(one)
    assert response.content.decode().count('<td class="num">3</td>') == 12


def test_the_template_step_offers_only_approved_templates_with_a_published_flow(
    campaign_manager, waba, hotel_flow, sendable
):
    make_template(waba, hotel_flow, name="pending_one", status="PENDING")
    from flowsadmin.models import Flow

    old = Flow.objects.create(waba=waba, name="Old flow", status="DEPRECATED", flow_json="{}")
    make_template(waba, old, name="deprecated_flow_one")
    page = client_for(campaign_manager).get(reverse("campaigns:create")).content.decode()
    assert "stay_feedback (English (US)) · Flow: Hotel feedback" in page
    assert "pending_one" not in page and "deprecated_flow_one" not in page


def test_without_a_sendable_template_the_page_says_so_and_links_to_creating_one(
    campaign_manager, waba
):
    page = client_for(campaign_manager).get(reverse("campaigns:create")).content.decode()
    assert "No template can be sent yet." in page
    assert f'href="{reverse("templates:create")}"' in page


def test_a_campaign_is_built_saved_as_a_draft_and_reviewed(campaign_manager, sendable, people):
    client = client_for(campaign_manager)
    response = client.post(reverse("campaigns:create"), form_data(sendable))
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:publish", args=[campaign.pk])
    assert campaign.status == "DRAFT" and campaign.created_by == campaign_manager
    assert campaign.variables["user_name"] == {"field": "name", "fallback": "there"}
    assert campaign.segment == {
        "match": "all",
        "rules": [{"kind": "property", "field": "city", "op": "equals", "value": "London"}],
    }
    page = client.get(response["Location"]).content.decode()
    # Three Londoners ("london" too); the preview is for the first, with the Flow CTA details.
    assert "<strong>3</strong> people will get stay_feedback now" in page
    assert "Hi Ana, how was your stay in London?" in page
    for label, value in [
        ("Button type", "Flow"),
        ("Flow name", "Hotel feedback"),
        ("Flow ID", "771023498811223"),
        ("Flow action", "Navigation"),
        ("Landing screen", "RATE"),
    ]:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in page


def test_the_preview_uses_the_fallback_for_a_person_without_the_value(
    campaign_manager, sendable, people
):
    client = client_for(campaign_manager)
    client.post(reverse("campaigns:create"), form_data(sendable))
    campaign = Campaign.objects.get()
    page = client.get(
        reverse("campaigns:publish", args=[campaign.pk]), {"sample": "447700900003"}
    ).content.decode()
    assert "Hi there, how was your stay in London?" in page


def test_the_preview_fills_a_variable_as_the_sender_does(campaign_manager, sendable, people):
    """Both read the value through templates_app.variables.person_value: a name of spaces alone is
    no name, so the preview shows the fallback the message will carry."""
    Profile.objects.create(whatsapp_id="447700900009", name="   ", city="London")
    client = client_for(campaign_manager)
    client.post(reverse("campaigns:create"), form_data(sendable))
    campaign = Campaign.objects.get()
    page = client.get(
        reverse("campaigns:publish", args=[campaign.pk]), {"sample": "447700900009"}
    ).content.decode()
    assert "Hi there, how was your stay in London?" in page


def test_the_live_parts_answer_htmx_with_the_count_and_preview(campaign_manager, sendable, people):
    client = client_for(campaign_manager)
    data = form_data(sendable, rule_0_value="Paris", sample="33612345678")
    live = client.post(
        reverse("campaigns:create"), data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="campaign-live"
    ).content.decode()
    assert (
        live.startswith('\n    <div id="campaign-live"') or '<div id="campaign-live"' in live[:80]
    )
    assert "Audience: <strong>1</strong> person" in live
    assert "Hi Chloé, how was your stay in Paris?" in live
    # The template's fields were already drawn for it: not sent again.
    same = client.post(
        reverse("campaigns:create"),
        data | {"drawn_for": str(sendable.pk)},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="campaign-live",
    ).content.decode()
    assert "template-step" not in same
    assert not Campaign.objects.exists()  # htmx never saves
    event = form_data(sendable, rule_0_subject="Stay Feedback", rule_0_op="did", rule_0_value="30")
    live = client.post(
        reverse("campaigns:create"), event, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="campaign-live"
    ).content.decode()
    assert "Audience: <strong>1</strong> person" in live
    step = client.post(
        reverse("campaigns:create"),
        data,
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="campaign-live",
    ).content.decode()
    # Choosing a template also redraws its variables, out of band.
    assert '<div id="template-step" hx-swap-oob="true">' in step
    assert "var_user_city_fallback" in step and "<html" not in step


def test_flow_action_data_is_checked_against_the_landing_screens_declared_data(
    campaign_manager, sendable, people
):
    client = client_for(campaign_manager)
    bad = form_data(sendable, data_0_key="coupon", data_0_source="value", data_0_value="X")
    page = client.post(reverse("campaigns:create"), bad).content.decode()
    assert (
        "RATE declares no data &#x27;coupon&#x27;; its data keys are: comment, recommend." in page
    )
    good = form_data(
        sendable,
        data_0_key="recommend",
        data_0_source="value",
        data_0_value="Yes",
        data_1_key="comment",
        data_1_source="field",
        data_1_value="city",
    )
    assert client.post(reverse("campaigns:create"), good).status_code == 302
    assert Campaign.objects.get().flow_action_data == {
        "recommend": {"value": "Yes"},
        "comment": {"field": "city"},
    }


def test_a_segment_takes_more_conditions_than_the_page_first_shows(
    campaign_manager, sendable, people
):
    """The page shows the conditions in use and one empty row (the rest wait for "Add a condition");
    six conditions are all kept, and editing shows the six and one more."""
    client = client_for(campaign_manager)

    def segment_rows(page: str) -> tuple[int, int]:
        """(rows shown, rows spare) of the segment builder."""
        end = page.index("Add a condition")
        rows = page[page.rindex("<div data-rows>", 0, end) : end]
        return rows.count('class="cp-row"'), rows.count('class="cp-row spare-row"')

    assert segment_rows(client.get(reverse("campaigns:create")).content.decode()) == (1, 11)

    rules = {}
    for i, city in enumerate(["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Pune"]):
        rules |= {
            f"rule_{i}_subject": "city",
            f"rule_{i}_op": "not_equals",
            f"rule_{i}_value": city,
        }
    assert client.post(reverse("campaigns:create"), form_data(sendable, **rules)).status_code == 302

    campaign = Campaign.objects.get()
    assert [rule["value"] for rule in campaign.segment["rules"]] == [
        "Paris", "Rome", "Oslo", "Lima", "Kyiv", "Pune"
    ]  # fmt: skip
    edit = client.get(reverse("campaigns:edit", args=[campaign.pk])).content.decode()
    assert segment_rows(edit) == (7, 5)


def test_flow_action_data_is_refused_for_a_data_exchange_button(
    campaign_manager, waba, hotel_flow, people
):
    template = make_template(waba, hotel_flow, flow_action="data_exchange", navigate_screen="")
    data = form_data(template, data_0_key="recommend", data_0_value="Yes")
    page = client_for(campaign_manager).post(reverse("campaigns:create"), data).content.decode()
    assert "Flow Action data is for Navigation buttons" in page
    assert not Campaign.objects.exists()


def test_a_send_rate_above_the_numbers_throughput_is_refused(campaign_manager, sendable, people):
    phone = sendable.waba.phone_numbers.first()
    data = form_data(sendable, send_rate=str(phone.throughput_mps + 1))
    page = client_for(campaign_manager).post(reverse("campaigns:create"), data).content.decode()
    assert (
        f"sends at most {phone.throughput_mps} messages a second (its throughput on Meta)" in page
    )
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    "changes, field_text",
    [
        ({"control_percent": "51"}, "Ensure this value is less than or equal to 50."),
        ({"quiet_start": "21:00"}, "Give both ends of the quiet hours, or neither."),
        ({"var_user_name_fallback": ""}, "This field is required."),
        ({"rule_0_op": "did", "rule_0_value": "soon"}, "For an event, give the days to look back"),
    ],
)
def test_bad_delivery_and_targeting_values_are_refused_at_their_field(
    campaign_manager, sendable, people, changes, field_text
):
    page = client_for(campaign_manager).post(
        reverse("campaigns:create"), form_data(sendable, **changes)
    )
    assert page.status_code == 200
    assert field_text in page.content.decode()
    assert not Campaign.objects.exists()


def test_a_scheduled_campaign_keeps_its_time_zone(campaign_manager, sendable, people):
    tomorrow = (timezone.now() + timedelta(days=1)).astimezone(ZoneInfo("Asia/Tokyo"))
    data = form_data(
        sendable,
        send_mode="later",
        send_date=tomorrow.date().isoformat(),
        send_time="09:30",
        time_zone="Asia/Tokyo",
    )
    client = client_for(campaign_manager)
    assert client.post(reverse("campaigns:create"), data).status_code == 302
    campaign = Campaign.objects.get()
    local = campaign.send_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.date(), local.hour, local.minute) == (tomorrow.date(), 9, 30)
    page = client.get(reverse("campaigns:publish", args=[campaign.pk])).content.decode()
    assert f"on {local:%-d %b %Y} at 09:30 (Asia/Tokyo)" in page
    # Publishing keeps the time chosen: the campaign waits for it instead of going now.
    client.post(reverse("campaigns:publish", args=[campaign.pk]))
    scheduled = campaign.send_at
    campaign.refresh_from_db()
    assert (campaign.status, campaign.send_at) == (Campaign.Status.SCHEDULED, scheduled)
    assert not campaign.recipients.exists()


def test_publishing_sends_the_campaign_on_its_way_and_shows_its_page(
    campaign_manager, sendable, people
):
    client = client_for(campaign_manager)
    campaign = make_campaign(sendable, segment={"rules": [{"field": "city", "value": "London"}]})
    response = client.post(reverse("campaigns:publish", args=[campaign.pk]), follow=True)
    campaign.refresh_from_db()
    assert campaign.status != Campaign.Status.DRAFT
    assert "Published: Spring stays goes to 3 people now." in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("campaigns:detail", args=[campaign.pk])


def test_pause_resume_and_cancel_follow_the_status_table(campaign_manager, sendable):
    client = client_for(campaign_manager)
    campaign = make_campaign(sendable, status="SENDING")
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert ">Pause</button>" in page and ">Cancel</button>" in page and ">Resume<" not in page
    client.post(reverse("campaigns:action", args=[campaign.pk, "pause"]))
    campaign.refresh_from_db()
    assert campaign.status == "PAUSED"
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert ">Resume</button>" in page and ">Pause<" not in page
    # Not allowed by the table: said, not done.
    response = client.post(reverse("campaigns:action", args=[campaign.pk, "pause"]), follow=True)
    assert "A paused campaign can&#x27;t be paused." in response.content.decode()
    client.post(reverse("campaigns:action", args=[campaign.pk, "cancel"]))
    campaign.refresh_from_db()
    assert campaign.status == "CANCELLED"
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "</button>" not in page.split("<main")[1].split("Recipients")[0]


def test_an_unknown_action_is_not_found(campaign_manager, sendable):
    campaign = make_campaign(sendable, status="SENDING")
    url = reverse("campaigns:action", args=[campaign.pk, "explode"])
    assert client_for(campaign_manager).post(url).status_code == 404


def test_a_draft_can_be_deleted_after_asking_and_a_published_campaign_cannot(
    campaign_manager, marketer, sendable
):
    client = client_for(campaign_manager)
    draft = make_campaign(sendable)
    page = client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    assert reverse("campaigns:delete", args=[draft.pk]) in page
    asked = client.get(reverse("campaigns:delete", args=[draft.pk])).content.decode()
    assert "Delete the draft Spring stays?" in asked and "Keep it" in asked
    assert Campaign.objects.filter(pk=draft.pk).exists()  # asking deletes nothing

    assert (
        client_for(marketer).post(reverse("campaigns:delete", args=[draft.pk])).status_code == 403
    )
    response = client.post(reverse("campaigns:delete", args=[draft.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("campaigns:list")
    assert "Spring stays: deleted." in response.content.decode()
    assert not Campaign.objects.filter(pk=draft.pk).exists()

    sent = make_campaign(sendable, status="SENDING")
    page = client.get(reverse("campaigns:detail", args=[sent.pk])).content.decode()
    assert reverse("campaigns:delete", args=[sent.pk]) not in page
    response = client.post(reverse("campaigns:delete", args=[sent.pk]), follow=True)
    assert "A sending campaign can&#x27;t be deleted." in response.content.decode()
    assert Campaign.objects.filter(pk=sent.pk).exists()
