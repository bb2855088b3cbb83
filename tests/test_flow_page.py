"""A flow's page in tabs (issue 15): each tab its own URL, readable responses, the live preview's
endpoint, the listing's row actions, History in words, and a GET on an action URL."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from audience.services import record_completion
from flowsadmin import flowjson
from flowsadmin.answers import choice_titles
from flowsadmin.models import Flow, FlowChange
from flowsadmin.preview import build_preview_from_text
from flowsadmin.tokens import issue_flow_token
from templates_app.models import MessageTemplate

from .conftest import client_for

EXAMPLES = Path(__file__).resolve().parent.parent / "flowsadmin" / "examples"
HOTEL = (EXAMPLES / "hotel-feedback.static.flow.json").read_text(encoding="utf-8")
BUS = (EXAMPLES / "bus-booking.clevertap-endpoint.flow.json").read_text(encoding="utf-8")
TABS = ["flows:detail", "flows:json", "flows:responses", "flows:insights", "flows:history"]
GOOD = "1_★★★★☆_•_Good_(4/5)"


@pytest.fixture
def hotel(waba, marketer) -> Flow:
    return Flow.objects.create(
        waba=waba,
        name="Hotel feedback",
        meta_flow_id="4242",
        status="PUBLISHED",
        flow_json=HOTEL,
        created_by=marketer,
    )


def complete(flow: Flow, whatsapp_id: str, message_id: str, **evt_data: str) -> None:
    """The hotel flow's last footer as WhatsApp sends it back: an nfm_reply carrying its ct-evt."""
    token = issue_flow_token(whatsapp_id=whatsapp_id, flow=flow)
    answers = {"flow_token": token, "ct-evt": {"evtName": "Stay Feedback", "evtData": evt_data}}
    message = {
        "from": whatsapp_id,
        "id": message_id,
        "timestamp": "1767225600",
        "type": "interactive",
        "interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": json.dumps(answers)}},
    }
    record_completion(flow.waba, message, contact_name="Ana")


# --- tabs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tab", TABS)
@pytest.mark.parametrize("role", ["admin_user", "marketer", "campaign_manager"])
def test_every_tab_is_its_own_page_for_every_role_with_flows(hotel, tab, role, request):
    client = client_for(request.getfixturevalue(role))
    response = client.get(reverse(tab, args=[hotel.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    # The tabs link to each other, the current one marked.
    for other in TABS:
        assert f'href="{reverse(other, args=[hotel.pk])}"' in page
    current = re.search(r'<a href="([^"]+)" aria-current="page">', page.split('class="tabs"')[1])
    assert current and current.group(1) == reverse(tab, args=[hotel.pk])
    # No template comment leaks onto the page ({# #} ends at its line; longer ones need {% comment %}).
    assert "{#" not in page and "#}" not in page


def test_the_new_flow_page_shows_no_template_comment(marketer, waba):
    page = client_for(marketer).get(reverse("flows:create")).content.decode()
    assert "Jump to the preview" in page
    assert "{#" not in page and "#}" not in page


@pytest.mark.parametrize("tab", TABS)
def test_a_user_without_a_role_gets_403_on_every_tab(hotel, tab, no_role_user):
    assert client_for(no_role_user).get(reverse(tab, args=[hotel.pk])).status_code == 403


def test_the_overview_is_short_with_copyable_urls_validation_and_templates(hotel, marketer):
    hotel.local_messages = [
        {"level": "warning", "message": "Check me", "line": 12, "column": 3, "path": "$.x"}
    ]
    hotel.save()
    MessageTemplate.objects.create(
        waba=hotel.waba, name="hotel_feedback_v1", flow=hotel, status="APPROVED"
    )
    page = html.unescape(
        client_for(marketer).get(reverse("flows:detail", args=[hotel.pk])).content.decode()
    )
    assert 'id="data-exchange-url"' in page and 'data-copy="data-exchange-url"' in page
    assert f"/meta/flows/{hotel.public_id}/" in page
    assert 'data-copy="webhook-url"' in page and "/meta/webhook/" in page
    assert "1 warning" in page and "No errors" in page
    # A message's line links to the editor at that line.
    assert f'href="{reverse("flows:json", args=[hotel.pk])}#line-12-3"' in page
    assert "hotel_feedback_v1" in page
    assert '"screens"' not in page  # the JSON is on its own tab
    assert "onsubmit=" not in page and "style=" not in page  # CSP-ready


def test_the_sandbox_phone_is_offered_to_marketers_and_campaign_managers(
    hotel, marketer, campaign_manager, settings
):
    phone = reverse("sandbox:phone", args=[hotel.pk])
    for user in (marketer, campaign_manager):
        assert (
            phone in client_for(user).get(reverse("flows:detail", args=[hotel.pk])).content.decode()
        )
    settings.SANDBOX_ENABLED = False
    page = client_for(marketer).get(reverse("flows:detail", args=[hotel.pk])).content.decode()
    assert phone not in page
    not_on_meta = Flow.objects.create(waba=hotel.waba, name="Local", flow_json=HOTEL)
    settings.SANDBOX_ENABLED = True
    page = client_for(marketer).get(reverse("flows:detail", args=[not_on_meta.pk])).content
    assert reverse("sandbox:phone", args=[not_on_meta.pk]) not in page.decode()


def test_the_json_tab_of_a_published_flow_is_read_only_with_its_preview(hotel, marketer):
    page = html.unescape(
        client_for(marketer)
        .get(reverse("flows:json", args=[hotel.pk]), {"screen": "RATE"})
        .content.decode()
    )
    assert "Save draft" not in page and "can't be changed; clone it" in page
    assert re.search(r"<textarea[^>]*readonly", page)
    # Without JavaScript, ?screen= picks the screen drawn beside the text.
    assert '<h2 class="pv-title">Feedback 2 of 2</h2>' in page


def test_a_post_to_the_overview_saves_nothing_and_points_to_the_json_tab(hotel, marketer):
    draft = Flow.objects.create(waba=hotel.waba, name="D", flow_json=HOTEL)
    response = client_for(marketer).post(
        reverse("flows:detail", args=[draft.pk]), {"flow_json": "{}", "name": "X"}
    )
    assert response.status_code == 405
    assert reverse("flows:json", args=[draft.pk]) in response.content.decode()
    draft.refresh_from_db()
    assert draft.flow_json == HOTEL and draft.name == "D"


# --- a GET on an action URL ------------------------------------------------------------------


def test_a_get_on_an_action_url_explains_and_offers_the_button(hotel, marketer):
    draft = Flow.objects.create(waba=hotel.waba, name="Draft one", flow_json=HOTEL)
    response = client_for(marketer).get(reverse("flows:action", args=[draft.pk, "publish"]))
    page = html.unescape(response.content.decode())
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert "This address is a button, not a page" in page and "nothing was changed" in page
    assert re.search(r'<form method="post" action="[^"]+/publish/">', page)
    draft.refresh_from_db()
    assert draft.status == "DRAFT"


def test_a_get_on_an_action_the_status_or_role_refuses_says_why(hotel, marketer, campaign_manager):
    page = client_for(marketer).get(reverse("flows:action", args=[hotel.pk, "publish"]))
    assert "A published flow can't be published." in html.unescape(page.content.decode())
    assert (
        "<button"
        not in page.content.decode()
        .split("This address is a button")[1]
        .split("Back to the flow")[0]
    )
    page = client_for(campaign_manager).get(reverse("flows:action", args=[hotel.pk, "deprecate"]))
    assert "Your role can't do this." in html.unescape(page.content.decode())
    assert (
        client_for(marketer).get(reverse("flows:action", args=[hotel.pk, "nope"])).status_code
        == 404
    )


def test_a_get_on_the_endpoint_settings_url_changes_nothing_and_points_to_the_form(hotel, marketer):
    hotel.customer_endpoint_url = "https://hotel.example/flows"
    hotel.save()
    response = client_for(marketer).get(reverse("flows:endpoint_settings", args=[hotel.pk]))
    assert response.status_code == 405
    assert "Endpoint settings are saved from the form" in html.unescape(response.content.decode())
    hotel.refresh_from_db()
    assert hotel.customer_endpoint_url == "https://hotel.example/flows"


# --- History ---------------------------------------------------------------------------------


def test_history_says_what_happened_in_words(hotel, marketer):
    FlowChange.objects.create(flow=hotel, user=marketer, action="create")
    FlowChange.objects.create(flow=hotel, user=marketer, action="update_endpoint", detail="x")
    FlowChange.objects.create(flow=hotel, user=marketer, action="future_thing")
    page = client_for(marketer).get(reverse("flows:history", args=[hotel.pk])).content.decode()
    assert "Changed the endpoint settings" in page and "Created" in page
    assert "Future thing" in page
    assert "update_endpoint" not in page


# --- responses -------------------------------------------------------------------------------


def test_choices_are_shown_by_the_titles_people_saw(hotel, marketer):
    complete(
        hotel,
        "15550001",
        "wamid.1",
        stay_experience=GOOD,
        customer_service_experience="0_Excellent",
        recommend="0_Yes",
        comment="Lovely =)",
    )
    complete(hotel, "15550002", "wamid.2", stay_experience="not-an-option")
    response = client_for(marketer).get(reverse("flows:responses", args=[hotel.pk]))
    page = html.unescape(response.content.decode())
    assert GOOD not in page
    assert "★★★★☆ • Good (4/5)" in page and "★★★★★ • Excellent (5/5)" in page
    assert ">Yes<" in page and "Lovely =)" in page
    assert "not-an-option" in page  # what matches no option is shown as given
    rows = response.context["response_rows"]
    # One row per completion, its ct-evt name beside it.
    assert len(rows) == 2 and [names for _, names, _ in rows] == [["Stay Feedback"]] * 2
    assert page.count("Stay Feedback") == 2


def test_the_csv_has_the_same_titles_and_the_ct_evt_name(hotel, marketer):
    complete(hotel, "15550001", "wamid.1", stay_experience=GOOD, recommend="1_No")
    response = client_for(marketer).get(reverse("flows:responses_csv", args=[hotel.pk]))
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    assert len(rows) == 1
    assert rows[0]["ct_evt"] == "Stay Feedback"
    assert rows[0]["stay_experience"] == "★★★★☆ • Good (4/5)" and rows[0]["recommend"] == "No"


def test_titles_follow_payloads_examples_and_lists():
    hotel = choice_titles(HOTEL)
    # complete payload -> ${form.Stay_Experience_f2b4e8} on the same screen
    assert hotel.readable("stay_experience", GOOD) == "★★★★☆ • Good (4/5)"
    # the same id means different titles in two fields: only the right field's applies
    assert hotel.readable("customer_service_experience", "1_Good") == "★★★★☆ • Good (4/5)"
    # ${data.recommend} <- the first screen's navigate payload <- ${form.recommend}
    assert hotel.readable("recommend", "1_No") == "No"
    # a field's own name, and checkbox lists
    assert hotel.readable("Customer_service", ["0_Excellent", "4_Very_Poor"]) == [
        "★★★★★ • Excellent (5/5)",
        "★☆☆☆☆ • Very Poor (1/5)",
    ]
    assert hotel.readable("anything", 5) == 5
    # dynamic data sources: the screen data's __example__
    assert choice_titles(BUS).readable("left_seats", "1A") == "Seat 1A"


@pytest.mark.parametrize(
    "text", ["", "{oops", "[]", '{"screens": 5}', '{"screens": [1, {"id": 3}]}']
)
def test_titles_of_an_unreadable_flow_leave_answers_as_given(text):
    assert choice_titles(text).readable("x", "0_Yes") == "0_Yes"


def test_an_option_id_with_two_meanings_is_not_guessed():
    flow = {
        "screens": [
            {
                "id": "A",
                "layout": {
                    "children": [
                        {
                            "type": "Dropdown",
                            "name": "a",
                            "data-source": [{"id": "1", "title": "One"}],
                        },
                        {
                            "type": "Dropdown",
                            "name": "b",
                            "data-source": [{"id": "1", "title": "Uno"}],
                        },
                        {
                            "type": "Dropdown",
                            "name": "c",
                            "data-source": [{"id": "2", "title": "Two"}],
                        },
                    ]
                },
            }
        ]
    }
    titles = choice_titles(json.dumps(flow))
    assert titles.readable("renamed", "1") == "1"
    assert titles.readable("renamed", "2") == "Two"


# --- live preview ----------------------------------------------------------------------------


def test_the_live_preview_draws_the_posted_text_without_saving(hotel, campaign_manager):
    text = HOTEL.replace("Feedback 1 of 2", "Tell us more")
    response = client_for(campaign_manager).post(
        reverse("flows:live_preview"), {"flow_json": text, "screen": "RECOMMEND"}
    )
    page = html.unescape(response.content.decode())
    assert response.status_code == 200 and "<html" not in page
    assert '<h2 class="pv-title">Tell us more</h2>' in page
    assert '<option value="RATE"' in page
    hotel.refresh_from_db()
    assert "Tell us more" not in hotel.flow_json


@pytest.mark.parametrize(
    "text",
    [
        '{\n  "version": "7.3",\n  "screens": [1, 2,\n  ]\n}',  # trailing comma: json.loads says line 4
        '{\n  "version": "7.3"\n  "screens": []\n}',  # missing comma
        '{\n  // note\n  "version": "7.3"\n}',  # a comment
        "{\n  'version': '7.3'\n}",
    ],
)
def test_the_preview_of_a_broken_draft_names_the_validators_line(text, marketer):
    first = flowjson.validate(text).errors[0]
    preview = build_preview_from_text(text)
    assert (preview.error_line, preview.error_column) == (first.line, first.column)
    page = client_for(marketer).post(reverse("flows:live_preview"), {"flow_json": text})
    assert f'data-jump-line="{first.line}"' in page.content.decode()


def test_the_live_preview_needs_a_role_and_a_post(hotel, no_role_user, marketer):
    url = reverse("flows:live_preview")
    assert client_for(no_role_user).post(url, {"flow_json": HOTEL}).status_code == 403
    assert client_for(None).post(url, {"flow_json": HOTEL}).status_code == 302
    assert client_for(marketer).get(url).status_code == 405


def test_check_json_names_the_place_and_hands_the_gutter_its_messages(marketer):
    text = '{\n  "version": "7.3",\n  "screens": [,]\n}'
    response = client_for(marketer).post(reverse("flows:validate"), {"flow_json": text})
    page = html.unescape(response.content.decode())
    assert "line 3, column 15" in page
    assert "<code>$</code>" not in page
    carried = re.search(r"data-editor-messages=\"([^\"]*)\"", response.content.decode())
    messages = json.loads(html.unescape(carried.group(1)))
    assert [(m["line"], m["column"], m["level"]) for m in messages] == [(3, 15, "error")]


# --- listing ---------------------------------------------------------------------------------


def test_listing_rows_offer_preview_clone_and_publish_where_allowed(
    hotel, marketer, campaign_manager
):
    draft = Flow.objects.create(waba=hotel.waba, name="Draft one", flow_json=HOTEL)
    page = client_for(marketer).get(reverse("flows:list")).content.decode()
    for flow in (hotel, draft):
        assert reverse("flows:preview", args=[flow.pk]) in page
        assert reverse("flows:action", args=[flow.pk, "clone"]) in page
    assert reverse("flows:action", args=[draft.pk, "publish"]) in page
    assert reverse("flows:action", args=[hotel.pk, "publish"]) not in page  # already published
    # Campaign managers look, they don't author.
    page = client_for(campaign_manager).get(reverse("flows:list")).content.decode()
    assert reverse("flows:preview", args=[draft.pk]) in page
    assert reverse("flows:action", args=[draft.pk, "clone"]) not in page
    assert reverse("flows:action", args=[draft.pk, "publish"]) not in page


def test_listing_urls_are_one_copyable_token(hotel, marketer):
    page = client_for(marketer).get(reverse("flows:list")).content.decode()
    url = hotel.data_exchange_url()
    assert f'<code class="one-line" id="dx-url-{hotel.pk}" title="{url}">{url}</code>' in page
    assert f'data-copy="dx-url-{hotel.pk}"' in page
    assert '<td data-label="Flow ID" class="mono nowrap">4242</td>' in page
