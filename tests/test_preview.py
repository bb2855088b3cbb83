"""Our own Flow preview: the render model built from Flow JSON, and the page that draws it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from flowsadmin.preview import Action, Preview, build_preview, build_preview_from_text

EXAMPLES = Path(__file__).resolve().parent.parent / "flowsadmin" / "examples"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.flow.json").read_text(encoding="utf-8"))


def kinds(preview: Preview, screen_id: str) -> list[str]:
    return [c.kind for c in preview.screen(screen_id).components]


def one_screen(*children: Any, data: dict | None = None, **screen: Any) -> dict:
    """A Flow with one screen holding these components."""
    return {
        "version": "7.3",
        "screens": [
            {
                "id": "ONLY",
                "title": "Only",
                "terminal": True,
                "data": data or {},
                "layout": {"type": "SingleColumnLayout", "children": list(children)},
                **screen,
            }
        ],
    }


# --- the three examples ---------------------------------------------------------------------------


def test_hotel_feedback_screens_in_order_with_their_components() -> None:
    preview = build_preview(example("hotel-feedback.static"))

    assert [(s.id, s.title, s.terminal) for s in preview.screens] == [
        ("RECOMMEND", "Feedback 1 of 2", False),
        ("RATE", "Feedback 2 of 2", True),
    ]
    assert preview.problems == []
    # The Form draws nothing itself: its children take its place.
    assert kinds(preview, "RECOMMEND") == [
        "subheading",
        "radio_group",
        "subheading",
        "text_area",
        "footer",
    ]
    assert kinds(preview, "RATE") == ["subheading", "dropdown", "dropdown", "dropdown", "footer"]


def test_hotel_feedback_options_keep_their_non_ascii_star_ids() -> None:
    preview = build_preview(example("hotel-feedback.static"))

    recommend = preview.screen("RECOMMEND").components[1]
    assert (recommend.label, recommend.name, recommend.required) == (
        "Choose one",
        "recommend",
        True,
    )
    assert [(o.id, o.title) for o in recommend.options] == [("0_Yes", "Yes"), ("1_No", "No")]
    stay = preview.screen("RATE").components[1]
    assert stay.label == "Stay Experience"
    assert stay.options[0].id == "0_★★★★★_•_Excellent_(5/5)"
    assert stay.options[0].title == "★★★★★ • Excellent (5/5)"
    assert [o.id for o in stay.options][-1] == "4_★☆☆☆☆_•_Very_Poor_(1/5)"
    comment = preview.screen("RECOMMEND").components[3]
    assert (comment.kind, comment.label, comment.required) == (
        "text_area",
        "Leave a comment",
        False,
    )


def test_hotel_feedback_footers_navigate_then_complete() -> None:
    preview = build_preview(example("hotel-feedback.static"))

    first, last = preview.screens
    assert first.footer.label == "Continue"
    assert first.footer.action == Action(name="navigate", target="RATE")
    # No routing model in a static Flow: the navigate actions say where a screen leads.
    assert first.next_screens == ["RATE"]
    assert last.footer.action.name == "complete"
    assert last.next_screens == []


def test_bus_booking_inputs_dates_and_example_data() -> None:
    preview = build_preview(example("bus-booking.clevertap-endpoint"))

    assert preview.ids == ["welcome_screen", "seat_selection", "booking_confirmation"]
    assert preview.uses_endpoint
    assert kinds(preview, "welcome_screen") == [
        "heading",
        "subheading",
        "text_input",
        "text_input",
        "date_picker",
        "date_picker",
        "footer",
        "caption",
    ]
    welcome = preview.screen("welcome_screen").components
    assert (welcome[2].label, welcome[2].input_type, welcome[2].required) == (
        "Depart from",
        "text",
        True,
    )
    assert welcome[2].helper_text == "Enter departure city"
    assert (welcome[5].label, welcome[5].required) == ("Return date", False)
    assert (welcome[5].min_date, welcome[5].max_date) == ("2025-05-25", "2026-05-25")

    confirmation = preview.screen("booking_confirmation")
    bodies = [c.text for c in confirmation.components if c.kind == "body"]
    # ${data.x} filled from the screen's __example__ values.
    assert bodies == ["Journey Details:", "Pune", "Pune", "20250520", "20250520", "1A"]
    assert confirmation.footer.action.name == "complete"


def test_bus_booking_seats_and_data_exchange_footers() -> None:
    preview = build_preview(example("bus-booking.clevertap-endpoint"))

    seats = preview.screen("seat_selection")
    left = seats.components[3]
    assert (left.kind, left.label) == ("radio_group", "Left Seats")
    assert [(o.id, o.description, o.enabled) for o in left.options][1:3] == [
        ("2A", "Window seat", True),
        ("3A", "Window seat - Unavailable", False),
    ]
    assert seats.footer.action == Action(name="data_exchange")
    assert seats.next_screens == ["booking_confirmation"]
    assert preview.screen("welcome_screen").next_screens == ["seat_selection"]


def test_weather_title_comes_from_example_data_and_routing_gives_two_ways() -> None:
    preview = build_preview(example("weather-or-age.customer-endpoint"))

    assert preview.ids == ["WELCOME", "WEATHER", "YOUR_AGE", "TODAYS_WEATHER"]
    welcome = preview.screen("WELCOME")
    assert welcome.title == "Text to be displayed"  # "${data.toDisplay}"
    assert welcome.next_screens == ["WEATHER", "YOUR_AGE"]
    assert welcome.footer.action.name == "data_exchange"
    assert [o.title for o in welcome.components[0].options] == [
        "Check weather of the city",
        "Check my age",
    ]
    assert preview.screen("WEATHER").next_screens == ["TODAYS_WEATHER"]
    # Absent from the routing model and without navigate actions: nowhere to go.
    assert preview.screen("YOUR_AGE").next_screens == []
    assert preview.screen("YOUR_AGE").components[0].text == "Text to be displayed"


def test_screen_lookup_falls_back_to_the_first_screen() -> None:
    preview = build_preview(example("weather-or-age.customer-endpoint"))

    assert preview.screen(None).id == "WELCOME"
    assert preview.screen("NO_SUCH_SCREEN").id == "WELCOME"
    assert preview.screen("TODAYS_WEATHER").id == "TODAYS_WEATHER"
    assert build_preview({"screens": []}).screen("X") is None


# --- dynamic values --------------------------------------------------------------------------------


def test_data_source_from_example_data_and_form_values_as_placeholders() -> None:
    data = {
        "slots": {
            "type": "array",
            "items": {"type": "object"},
            "__example__": [{"id": "s1", "title": "09:00", "description": "Morning"}],
        },
        "name": {"type": "string", "__example__": "Jay"},
    }
    preview = build_preview(
        one_screen(
            {
                "type": "RadioButtonsGroup",
                "name": "slot",
                "label": "Slot",
                "data-source": "${data.slots}",
            },
            {"type": "TextBody", "text": "Hello ${data.name}, you typed ${form.slot}"},
            {"type": "Footer", "label": "Book", "on-click-action": {"name": "complete"}},
            data=data,
        )
    )

    radio, body, _ = preview.screens[0].components
    assert [(o.id, o.title, o.description) for o in radio.options] == [("s1", "09:00", "Morning")]
    assert body.text == "Hello Jay, you typed [form.slot]"


def test_nested_expressions_are_shown_as_readable_text() -> None:
    preview = build_preview(
        one_screen(
            {"type": "TextBody", "text": "`'Hello ' ${data.name} '!'`"},
            {"type": "TextBody", "text": "`${form.qty} * ${data.price}`"},
            {"type": "TextBody", "text": "`'Your reference: ' ${data.ref}`"},
            {"type": "TextBody", "text": "`${form.name} != '' && ${data.price} > 10`"},
            data={
                "name": {"type": "string", "__example__": "Jay"},
                "price": {"type": "number", "__example__": 12},
                "ref": {"type": "string", "__example__": "B-1"},
            },
        )
    )

    assert [c.text for c in preview.screens[0].components] == [
        "Hello Jay!",
        "[form.qty] * 12",
        "Your reference: B-1",
        "[form.name] != '' && 12 > 10",
    ]


def test_if_draws_one_branch_and_says_so() -> None:
    preview = build_preview(
        one_screen(
            {
                "type": "If",
                "condition": "`${form.age} >= 18`",
                "then": [{"type": "TextBody", "text": "Adult"}],
                "else": [{"type": "TextBody", "text": "Minor"}],
            },
            {
                "type": "Switch",
                "value": "${data.plan}",
                "cases": {"free": [{"type": "TextBody", "text": "Free plan"}], "pro": []},
            },
            data={"plan": {"type": "string", "__example__": "free"}},
        )
    )

    marker, then, switch, case = preview.screens[0].components
    assert (marker.kind, marker.text) == ("if", "[form.age] >= 18")
    assert "then branch" in marker.note
    assert (then.text, then.depth) == ("Adult", 1)
    assert (switch.kind, switch.text) == ("switch", "free")
    assert 'selects case "free"' in switch.note
    assert (case.text, case.depth) == ("Free plan", 1)


# --- what must not break it ------------------------------------------------------------------------


def test_unknown_component_becomes_a_labelled_placeholder() -> None:
    preview = build_preview(one_screen({"type": "HologramPicker", "label": "Pick one"}))

    (placeholder,) = preview.screens[0].components
    assert (placeholder.kind, placeholder.type, placeholder.label) == (
        "unknown",
        "HologramPicker",
        "Pick one",
    )


@pytest.mark.parametrize(
    "flow_json",
    [
        None,
        [],
        "screens",
        {},
        {"screens": "not a list"},
        {"screens": [None, 3, "x", []]},
        {"screens": [{}]},
        {"screens": [{"id": 5, "title": ["a", {"b": 1}], "layout": "flat"}]},
        {"screens": [{"id": "A", "layout": {"children": {"not": "a list"}}}]},
        {"screens": [{"id": "A", "data": [], "layout": {"children": [None, 1, {"type": 7}]}}]},
        {"routing_model": ["A"], "screens": [{"id": "A", "layout": {"children": []}}]},
        one_screen({"type": "Dropdown", "data-source": "${data.missing}"}),
        one_screen({"type": "Dropdown", "data-source": [None, 1, {"id": None}, {"title": 2}]}),
        one_screen({"type": "Footer", "on-click-action": "complete"}),
        one_screen({"type": "Footer", "on-click-action": {"name": "navigate", "next": "B"}}),
        one_screen({"type": "If", "then": "nope", "else": 3}),
        one_screen({"type": "Switch", "cases": []}),
        one_screen({"type": "NavigationList", "list-items": [{"main-content": "x"}, 3]}),
        one_screen({"type": "ImageCarousel", "images": [None, {"alt-text": "Sea"}]}),
        one_screen({"type": "PhotoPicker", "max-file-size-kb": "big"}),
        one_screen({"type": "TextBody", "text": "`'unterminated ${data.x}`"}),
        one_screen(
            {"type": "TextBody", "text": "${data.deep}"}, data={"deep": {"__example__": []}}
        ),
    ],
)
def test_broken_input_never_raises(flow_json: Any) -> None:
    preview = build_preview(flow_json)

    assert isinstance(preview, Preview)
    for screen in preview.screens:
        assert isinstance(screen.title, str)
        assert all(isinstance(c.kind, str) for c in screen.components)


def test_duplicate_screen_ids_both_stay_reachable() -> None:
    flow = one_screen({"type": "TextBody", "text": "first"})
    flow["screens"].append(copy.deepcopy(flow["screens"][0]))
    flow["screens"][1]["layout"]["children"][0]["text"] = "second"

    preview = build_preview(flow)

    assert preview.ids == ["ONLY", "ONLY~2"]
    assert preview.screen("ONLY~2").components[0].text == "second"
    assert any("used twice" in p for p in preview.problems)


def test_deeply_nested_input_does_not_exhaust_the_stack() -> None:
    nested: Any = [{"type": "TextBody", "text": "deep"}]
    for _ in range(5000):
        nested = [{"type": "Form", "name": "f", "children": nested}]
    deep_example: Any = "x"
    for _ in range(5000):
        deep_example = [deep_example]
    flow = one_screen(
        *nested, data={"d": {"type": "array", "__example__": deep_example}}, title=deep_example
    )
    flow["screens"][0]["layout"]["children"].append({"type": "TextBody", "text": "${data.d}"})

    preview = build_preview(flow)

    drawn = preview.screens[0].components
    assert preview.screens[0].title == "…"
    assert drawn[0].kind == "unknown"
    assert "nested too deeply" in drawn[0].note
    assert drawn[-1].kind == "body"


def test_stored_text_that_does_not_parse_becomes_a_problem() -> None:
    preview = build_preview_from_text('{"screens": [}')

    assert preview.screens == []
    # The validator's words and place (flowjson.syntax), so the two never disagree on the line.
    assert preview.problems == [
        "The Flow JSON does not parse: JSON syntax error on line 1, column 14: expecting value."
    ]
    assert (preview.error_line, preview.error_column) == (1, 14)
    assert build_preview_from_text("  ").problems == ["This Flow has no Flow JSON yet."]
    with_bom = "\ufeff" + json.dumps(example("hotel-feedback.static"))
    assert build_preview_from_text(with_bom).ids == ["RECOMMEND", "RATE"]


# --- the page --------------------------------------------------------------------------------------


def render_page(preview: Preview, screen_id: str | None, user: object, **flow: Any) -> str:
    request = RequestFactory().get("/flows/1/preview/", {"screen": screen_id or ""})
    request.user = user
    screen = preview.screen(screen_id)
    context = {
        "flow": SimpleNamespace(**({"pk": 1, "name": "Hotel feedback", "preview_url": ""} | flow)),
        "preview": preview,
        "screen": screen,
        "next_screens": screen.next_screens if screen else [],
    }
    return render_to_string("flowsadmin/flow_preview.html", context, request=request)


def test_page_escapes_html_in_titles_and_text(admin_user: object) -> None:
    flow = one_screen(
        {"type": "TextHeading", "text": "<img src=x onerror=alert(2)>"},
        {"type": "Footer", "label": "<b>Go</b>", "on-click-action": {"name": "complete"}},
        title="<script>alert(1)</script>",
    )

    html = render_page(build_preview(flow), None, admin_user, name="<i>flow</i>")

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "&lt;b&gt;Go&lt;/b&gt;" in html
    assert "Preview: &lt;i&gt;flow&lt;/i&gt;" in html


def test_page_draws_the_screen_and_links_navigate_footer_to_the_next_screen(
    admin_user: object,
) -> None:
    html = render_page(build_preview(example("hotel-feedback.static")), "RECOMMEND", admin_user)

    assert '<h2 class="pv-title">Feedback 1 of 2</h2>' in html
    assert '<a class="pv-button" href="?screen=RATE">Continue</a>' in html
    assert "Would you recommend us to a friend?" in html
    assert 'type="radio" name="pv-2" value="0_Yes"' in html
    # Every screen is listed, the current one marked.
    assert '<a href="?screen=RECOMMEND" aria-current="page">Feedback 1 of 2</a>' in html
    assert '<a href="?screen=RATE">Feedback 2 of 2</a>' in html


def test_page_draws_dropdown_options_and_complete_footer(admin_user: object) -> None:
    html = render_page(build_preview(example("hotel-feedback.static")), "RATE", admin_user)

    assert '<option value="0_★★★★★_•_Excellent_(5/5)">★★★★★ • Excellent (5/5)</option>' in html
    assert "Ends the flow and sends the answers." in html
    assert '<button type="button" class="pv-button" disabled>Done</button>' in html


def test_page_offers_the_routing_model_targets_for_a_data_exchange_footer(
    admin_user: object,
) -> None:
    html = render_page(build_preview(example("weather-or-age.customer-endpoint")), None, admin_user)

    chooser = html.split("The endpoint decides the next screen:", 1)[1].split("</ul>", 1)[0]
    assert '<a href="?screen=WEATHER">WEATHER</a>' in chooser
    assert '<a href="?screen=YOUR_AGE">YOUR_AGE</a>' in chooser
    assert "TODAYS_WEATHER" not in chooser


def test_page_links_to_metas_preview_only_when_there_is_one(admin_user: object) -> None:
    preview = build_preview(example("hotel-feedback.static"))

    without = render_page(preview, None, admin_user)
    with_link = render_page(
        preview, None, admin_user, preview_url="https://business.facebook.com/wa/manage/flows/1/"
    )
    hostile = render_page(preview, None, admin_user, preview_url="javascript:alert(1)")

    assert "Open Meta's preview" not in without
    assert 'href="https://business.facebook.com/wa/manage/flows/1/"' in with_link
    assert "Open Meta's preview" in with_link
    assert "javascript:alert(1)" not in hostile


def test_page_draws_unknown_components_and_open_url_as_text(admin_user: object) -> None:
    flow = one_screen(
        {"type": "HologramPicker"},
        {
            "type": "EmbeddedLink",
            "text": "Terms",
            "on-click-action": {"name": "open_url", "url": "javascript:alert(1)"},
        },
    )

    html = render_page(build_preview(flow), None, admin_user)

    assert "Unknown component: <code>HologramPicker</code>" in html
    assert 'href="javascript:' not in html
    assert "(opens javascript:alert(1))" in html


def test_page_says_so_when_there_is_nothing_to_draw(admin_user: object) -> None:
    html = render_page(build_preview_from_text("{oops"), None, admin_user)

    assert "The Flow JSON does not parse: Property name without quotes on line 1" in html
    assert "Nothing to preview" in html
