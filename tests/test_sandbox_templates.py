"""The sandbox Meta reviews templates as Meta does, over real HTTP: one test per rule and bad input,
each asserting Meta's code, subcode and words; editing and deleting; the webhooks of Meta's review and
quality monitors, and the sandbox page's buttons that trigger them. Sends are in
test_sandbox_template_sends.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from sandbox.models import Account, Template, TemplateStateError
from sandbox.services import (
    announce_category_change,
    ensure_account,
    pause_template,
    recategorize_template,
    set_faults,
    set_template_quality,
    unpause_template,
)
from tests.conftest import client_for
from tests.test_sandbox import Graph, Recorder, _Recording
from wabas.graph import FlowButton, GraphClient, TemplateContent, TemplateHeader

WABA_ID = "102290129340398"
PHONE_ID = "106540352242922"
APP_ID = "300000000000001"
TOKEN = "EAAGm0PX4ZCpsBAKZAbCdEfGhIjKlMnOpQr"
OTHER_WABA_ID = "203390129340399"
OTHER_TOKEN = "EAAOtherAccountTokenXyZ0123456789"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))

# WELCOME leads to DONE: a template may open the flow at WELCOME, never at DONE.
FLOW_JSON = {
    "version": "7.2",
    "screens": [
        {
            "id": "WELCOME",
            "title": "Welcome",
            "layout": {
                "type": "SingleColumnLayout",
                "children": [
                    {
                        "type": "Footer",
                        "label": "Next",
                        "on-click-action": {
                            "name": "navigate",
                            "next": {"type": "screen", "name": "DONE"},
                        },
                    }
                ],
            },
        },
        {
            "id": "DONE",
            "title": "Thanks",
            "terminal": True,
            "layout": {
                "type": "SingleColumnLayout",
                "children": [
                    {
                        "type": "Footer",
                        "label": "Done",
                        "on-click-action": {"name": "complete", "payload": {}},
                    }
                ],
            },
        },
    ],
}


class Meta(Graph):
    """The sandbox's Graph API with what these tests need: a published flow, uploads, templates."""

    flow_id: str = ""

    def flow(self, name: str, *, publish: bool = True) -> str:
        body = {"name": name, "categories": ["SURVEY"], "flow_json": json.dumps(FLOW_JSON)}
        flow_id = self.post(f"{WABA_ID}/flows", json=body).json()["id"]
        if publish:
            assert self.post(f"{flow_id}/publish").json() == {"success": True}
        return flow_id

    def upload(
        self, content: bytes = PNG, file_type: str = "image/png", *, finish: bool = True
    ) -> str:
        session = self.post(
            f"{APP_ID}/uploads",
            params={"file_name": "sample", "file_length": len(content), "file_type": file_type},
        ).json()["id"]
        sent = content if finish else content[:4]
        answer = self.post(session, data=sent, headers={"file_offset": "0"}).json()
        return answer.get("h") or f"4::unfinished:{session}"

    def create(self, payload: dict) -> dict:
        return self.post(f"{WABA_ID}/message_templates", json=payload).json()

    def refused(self, payload: dict, path: str = f"{WABA_ID}/message_templates") -> dict:
        response = self.post(path, json=payload)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["type"], error["is_transient"]) == ("OAuthException", False)
        assert error["fbtrace_id"]
        return error


def start_recorder() -> Iterator[Recorder]:
    """A webhook callback on loopback that keeps what it gets (the fixture of both template modules)."""
    server = Recorder(("127.0.0.1", 0), _Recording)
    server.received, server.answers = [], []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.daemon = True
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def sandbox_meta(live_server_url: str, webhook_url: str) -> Meta:
    """Two accounts on the sandbox (ours has the app id and a published flow), faults off."""
    for waba_id, token, phone_id in (
        (WABA_ID, TOKEN, PHONE_ID),
        (OTHER_WABA_ID, OTHER_TOKEN, "207640352242933"),
    ):
        ensure_account(
            waba_id=waba_id,
            name=f"Account {waba_id}",
            access_token=token,
            app_secret="b1946ac92492d2347c6235b4d2611184",
            app_id=APP_ID if waba_id == WABA_ID else "",
            webhook_url=webhook_url,
            phone_numbers=[(phone_id, "+1 555 0100", "Hotel Azul")],
        )
    set_faults()
    meta = Meta(f"{live_server_url}/sandbox/graph/v23.0", TOKEN)
    meta.flow_id = meta.flow("Hotel feedback")
    return meta


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    yield from start_recorder()


@pytest.fixture
def meta(live_server: object, recorder: Recorder, transactional_db: None) -> Meta:
    return sandbox_meta(live_server.url, recorder.url)


def template(meta: Meta, name: str = "stay_feedback", **changes: object) -> dict:
    """A template Meta approves: text header, body with an example, footer, a FLOW button."""
    return {
        "name": name,
        "language": "en_US",
        "category": "MARKETING",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Your stay"},
            {
                "type": "BODY",
                "text": "Hi {{1}}, how was your stay with us this week?",
                "example": {"body_text": [["Ana"]]},
            },
            {"type": "FOOTER", "text": "Hotel Azul"},
            {"type": "BUTTONS", "buttons": [flow_button(meta)]},
        ],
    } | changes


def flow_button(meta: Meta, **changes: object) -> dict:
    button = {
        "type": "FLOW",
        "text": "Rate your stay",
        "flow_id": meta.flow_id,
        "flow_action": "navigate",
        "navigate_screen": "WELCOME",
    }
    return button | changes


def with_component(meta: Meta, component: dict, **changes: object) -> dict:
    """The template with one component replaced (or added) by type."""
    payload = template(meta, **changes)
    others = [c for c in payload["components"] if c["type"] != component["type"]]
    return payload | {"components": [component, *others]}


def body(text: str, *examples: str) -> dict:
    component = {"type": "BODY", "text": text}
    if examples:
        component["example"] = {"body_text": [list(examples)]}
    return component


# --- a good template --------------------------------------------------------------------------------


def test_a_good_template_is_pending_then_approved_with_its_quality_and_category(meta, recorder):
    created = meta.create(template(meta))
    assert created | {"id": ""} == {"id": "", "status": "PENDING", "category": "MARKETING"}
    stored = meta.get(created["id"]).json()  # in-process tasks finish the review at once
    assert stored["status"] == "APPROVED"
    assert stored["quality_score"]["score"] == "UNKNOWN"
    assert stored["components"][3]["buttons"][0]["flow_id"] == meta.flow_id
    assert [v["event"] for v in recorder.values("message_template_status_update")] == ["APPROVED"]


def test_the_client_creates_a_template_with_an_uploaded_image_and_a_flow_button(meta):
    client = GraphClient(
        base_url=meta.base.removesuffix("/v23.0"),
        api_version="v23.0",
        access_token=TOKEN,
        app_id=APP_ID,
    )
    try:
        handle = client.upload_media_resumable(
            content=PNG, file_name="h.png", mime_type="image/png"
        )
        content = TemplateContent(
            header=TemplateHeader("IMAGE", handle=handle),
            body="Thanks for staying with us, {{first_name}}. How did we do?",
            examples={"first_name": "Ana"},
            footer="Hotel Azul",
            flow_button=FlowButton("Rate your stay", meta.flow_id, navigate_screen="WELCOME"),
        )
        created = client.create_template(
            WABA_ID, name="stay_rating", language="en_US", category="UTILITY", content=content
        )
        stored = client.get_template(created["id"])
    finally:
        client.session.close()
    assert (stored["status"], stored["parameter_format"], stored["quality_score"]) == (
        "APPROVED",
        "NAMED",
        "UNKNOWN",
    )


# --- names, categories, limits ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Stay Feedback", "stay-feedback", "stay feedback", "a" * 513])
def test_a_name_with_capitals_spaces_or_over_512_characters_is_refused(meta, name):
    error = meta.refused(template(meta, name))
    assert (error["code"], error["error_subcode"]) == (100, 2388046)
    assert error["message"] == "Invalid parameter"
    assert error["error_user_title"] == "Name Format is Incorrect"


def test_a_name_and_language_that_exist_are_refused_another_language_is_not(meta):
    meta.create(template(meta))
    error = meta.refused(template(meta))
    assert (error["code"], error["error_subcode"]) == (100, 2388024)
    assert error["error_user_title"] == "Content in This Language Already Exists"
    assert meta.create(template(meta, language="pt_BR"))["status"] == "PENDING"


@pytest.mark.parametrize(
    ("category", "title"),
    [("PROMO", "Category is invalid"), ("AUTHENTICATION", "Flow buttons aren't allowed")],
)
def test_only_marketing_and_utility_templates_take_a_flow_button(meta, category, title):
    error = meta.refused(template(meta, category=category))
    assert (error["code"], error.get("error_subcode"), error["error_user_title"]) == (
        100,
        None,
        title,
    )


def test_250_template_names_per_account(meta):
    account = Account.objects.get(waba_id=WABA_ID)
    Template.objects.bulk_create(
        Template(account=account, name=f"t{i}", language="en_US", category="UTILITY")
        for i in range(250)
    )
    error = meta.refused(template(meta))
    assert (error["code"], error["error_subcode"]) == (100, 2388019)
    # Another language of a name it already has is no new name.
    assert meta.create(template(meta, "t7", language="pt_BR"))["status"] == "PENDING"


# --- text limits and variables ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "component",
    [
        body("Hi {{1}}, " + "a" * 1020, "Ana"),
        {"type": "FOOTER", "text": "f" * 61},
        {"type": "HEADER", "format": "TEXT", "text": "h" * 61},
        {"type": "BUTTONS", "buttons": [{"type": "FLOW", "text": "r" * 26, "flow_id": "1"}]},
    ],
    ids=["body-1025", "footer-61", "header-61", "button-26"],
)
def test_texts_over_their_limit_are_refused(meta, component):
    error = meta.refused(with_component(meta, component))
    assert (error["code"], error["error_subcode"]) == (100, 2388040)
    assert "can have at most" in error["error_user_msg"]


@pytest.mark.parametrize(
    "text",
    ["{{1}}, how was your stay with us?", "How was your stay with us, {{1}}", "  {{1}} hi there  "],
)
def test_a_variable_at_the_very_start_or_end_of_the_body_is_refused(meta, text):
    error = meta.refused(with_component(meta, body(text, "Ana")))
    assert (error["code"], error["error_subcode"]) == (100, 2388299)
    assert error["error_user_title"] == "Leading or trailing params not allowed"
    assert error["error_user_msg"] == "Variables can't be at the start or end of the template."


def test_too_many_variables_for_the_length_are_refused(meta):
    error = meta.refused(with_component(meta, body("Hi {{1}} {{2}} and {{3}} ok", "a", "b", "c")))
    assert (error["code"], error["error_subcode"]) == (100, 2388293)
    assert error["error_user_title"] == "Parameters words ratio exceeds limit"


def test_no_variable_in_the_footer_or_a_button_and_one_in_a_text_header(meta):
    error = meta.refused(with_component(meta, {"type": "FOOTER", "text": "Order {{1}}"}))
    assert (error["error_subcode"], error["error_user_msg"]) == (
        2388073,
        "Variables aren't allowed in the footer.",
    )
    button = {"type": "BUTTONS", "buttons": [flow_button(meta, text="Rate {{1}}")]}
    error = meta.refused(with_component(meta, button))
    assert error["error_user_msg"] == "Variables aren't allowed in the text of a button."
    header = {
        "type": "HEADER",
        "format": "TEXT",
        "text": "{{1}} and {{2}}",
        "example": {"header_text": ["a", "b"]},
    }
    error = meta.refused(with_component(meta, header))
    assert (error["error_subcode"], error["error_user_msg"]) == (
        2388047,
        "A text header can have at most one variable.",
    )


@pytest.mark.parametrize(
    ("parameter_format", "component", "subcode"),
    [
        ("POSITIONAL", body("Hi {{first_name}}, how was your stay?", "Ana"), 2388072),
        (
            "POSITIONAL",
            body("Hi {{1}}, your room {{3}} is ready for you today.", "a", "b"),
            2388072,
        ),
        ("NAMED", body("Hi {{1}}, how was your stay with us?", "Ana"), 2388072),
        ("NAMED", body("Hi {{First}}, how was your stay with us?", "Ana"), 2388072),
    ],
    ids=["name-in-positional", "gap", "number-in-named", "capital-in-named"],
)
def test_positional_variables_are_numbers_in_order_and_named_ones_lowercase_names(
    meta, parameter_format, component, subcode
):
    error = meta.refused(with_component(meta, component, parameter_format=parameter_format))
    assert (error["code"], error["error_subcode"]) == (100, subcode)


@pytest.mark.parametrize(
    ("parameter_format", "example"),
    [
        ("POSITIONAL", None),
        ("POSITIONAL", {"body_text": [["Ana", "extra"]]}),
        ("POSITIONAL", {"body_text": [[""]]}),
        ("NAMED", {"body_text_named_params": [{"param_name": "room", "example": "204"}]}),
        ("NAMED", {"body_text": [["Ana"]]}),
    ],
)
def test_every_variable_needs_an_example_of_its_kind(meta, parameter_format, example):
    variable = "first_name" if parameter_format == "NAMED" else "1"
    component = {"type": "BODY", "text": f"Hi {{{{{variable}}}}}, how was your stay with us?"}
    if example is not None:
        component["example"] = example
    error = meta.refused(with_component(meta, component, parameter_format=parameter_format))
    assert (error["code"], error.get("error_subcode")) == (100, None)
    assert error["error_user_title"] == "Variables need example values"
    named = {"body_text_named_params": [{"param_name": "first_name", "example": "Ana"}]}
    good = component | {
        "example": named if parameter_format == "NAMED" else {"body_text": [["Ana"]]}
    }
    assert meta.create(with_component(meta, good, parameter_format=parameter_format))["id"]


# --- media headers --------------------------------------------------------------------------------


def test_a_media_header_needs_the_handle_of_a_finished_upload_of_its_kind(meta):
    def image(handle: object) -> dict:
        example = {"header_handle": [handle]} if handle else {}
        return {"type": "HEADER", "format": "IMAGE", "example": example}

    for handle in (
        None,
        "4::made-up",
        meta.upload(finish=False),
        meta.upload(b"%PDF-1.4", "application/pdf"),
    ):
        error = meta.refused(with_component(meta, image(handle)))
        assert (error["code"], error["error_subcode"]) == (100, 2388047)
        assert "needs a sample" in error["error_user_msg"]
    assert meta.create(with_component(meta, image(meta.upload())))["status"] == "PENDING"
    location = {"type": "HEADER", "format": "LOCATION"}
    assert meta.create(with_component(meta, location, name="where_we_are"))["status"] == "PENDING"
    error = meta.refused(with_component(meta, {"type": "HEADER", "format": "GIF"}, name="x"))
    assert error["error_subcode"] == 2388047


# --- the Flow button ---------------------------------------------------------------------------------


def test_the_flow_button_needs_a_published_flow_of_this_account(meta):
    draft = meta.flow("A draft", publish=False)
    deprecated = meta.flow("Old one")
    meta.post(f"{deprecated}/deprecate")
    other = (
        Graph(meta.base, OTHER_TOKEN)
        .post(f"{OTHER_WABA_ID}/flows", json={"name": "Theirs", "categories": ["OTHER"]})
        .json()["id"]
    )
    for flow_id, title, words in (
        (draft, "Flow isn't published", "DRAFT"),
        (deprecated, "Flow isn't published", "DEPRECATED"),
        (other, "Flow doesn't exist", "doesn't exist in this WhatsApp Business Account"),
        ("999999999999999", "Flow doesn't exist", "doesn't exist"),
    ):
        button = {"type": "BUTTONS", "buttons": [flow_button(meta, flow_id=flow_id)]}
        error = meta.refused(with_component(meta, button))
        assert (error["code"], error["error_user_title"]) == (100, title)
        assert words in error["error_user_msg"]


@pytest.mark.parametrize(
    ("changes", "title", "words"),
    [
        ({"navigate_screen": "NOWHERE"}, "Navigate screen is invalid", "not a screen"),
        ({"navigate_screen": "DONE"}, "Navigate screen is invalid", "can't be opened at DONE"),
        ({"flow_action": "data_exchange"}, "Navigate screen is not allowed", "only with"),
        ({"flow_action": "open", "navigate_screen": None}, "Flow action is invalid", "navigate or"),
        ({"icon": "STAR"}, "Flow button icon is invalid", "PROMOTION"),
    ],
)
def test_the_flow_button_opens_an_entry_screen_with_a_known_action(meta, changes, title, words):
    button = {"type": "BUTTONS", "buttons": [flow_button(meta, **changes)]}
    error = meta.refused(with_component(meta, button))
    assert error["error_user_title"] == title and words in error["error_user_msg"]


def test_one_flow_button_per_template(meta):
    button = {"type": "BUTTONS", "buttons": [flow_button(meta), flow_button(meta, text="Again")]}
    assert meta.refused(with_component(meta, button))["error_user_title"] == "Too many Flow buttons"


# --- editing and deleting ------------------------------------------------------------------------------


def test_an_approved_template_is_edited_once_a_day_and_ten_times_a_month(meta):
    template_id = meta.create(template(meta))["id"]
    edit = {
        "components": with_component(meta, body("Hello {{1}}, did you enjoy your stay?", "Ana"))[
            "components"
        ]
    }
    assert meta.post(template_id, json=edit).json() == {"success": True}
    stored = Template.objects.get(template_id=template_id)
    assert stored.status == "APPROVED"  # edited, reviewed again at once by the in-process task
    assert stored.components[0]["text"] == "Hello {{1}}, did you enjoy your stay?"
    error = meta.refused(edit, path=template_id)
    assert "at most once in 24 hours" in error["error_user_msg"]

    two_days_ago = time.time() - 2 * 86400
    Template.objects.filter(pk=stored.pk).update(approved_edits=[two_days_ago] * 10)
    assert "10 times in 30 days" in meta.refused(edit, path=template_id)["error_user_msg"]
    Template.objects.filter(pk=stored.pk).update(approved_edits=[time.time() - 31 * 86400] * 10)
    assert meta.post(template_id, json=edit).json() == {"success": True}


def test_only_approved_rejected_or_paused_templates_are_edited_and_approved_keep_their_category(
    meta,
):
    approved = meta.create(template(meta))["id"]
    error = meta.refused({"category": "UTILITY"}, path=approved)
    assert error["error_user_title"] == "Category can't be changed"
    footer = with_component(meta, {"type": "FOOTER", "text": "x {{1}}"})
    error = meta.refused({"components": footer["components"]}, path=approved)
    assert error["error_subcode"] == 2388073  # an edit is checked like a new template

    rejected = meta.create(template(meta, "please_reject_me"))["id"]
    assert meta.post(rejected, json={"category": "UTILITY"}).json() == {"success": True}
    assert Template.objects.get(template_id=rejected).category == "UTILITY"

    Template.objects.filter(template_id=approved).update(status="PENDING")
    error = meta.refused({"category": "MARKETING"}, path=approved)
    assert error["error_user_title"] == "Message template can't be edited"
    assert "PENDING" in error["error_user_msg"]


def test_deleting_by_name_removes_every_language_but_not_a_disabled_template(meta):
    for language in ("en_US", "pt_BR"):
        meta.create(template(meta, language=language))
    meta.create(template(meta, "other_one"))
    assert meta.delete(f"{WABA_ID}/message_templates", params={"name": "stay_feedback"}).json() == {
        "success": True
    }
    assert list(Template.objects.values_list("name", flat=True)) == ["other_one"]
    Template.objects.update(status="DISABLED")
    response = meta.delete(f"{WABA_ID}/message_templates", params={"name": "other_one"})
    assert response.json()["error"]["error_user_title"] == "Message template can't be deleted"
    assert Template.objects.count() == 1


# --- Meta's review and monitors, by webhook ------------------------------------------------------------


def test_a_rejection_comes_with_rejection_info(meta, recorder):
    meta.create(template(meta, "please_reject_me"))
    [event] = recorder.values("message_template_status_update")
    assert (event["event"], event["reason"]) == ("REJECTED", "INVALID_FORMAT")
    assert set(event["rejection_info"]) == {"reason", "recommendation"}


def test_pausing_twice_then_a_third_time_disables_the_template(meta, recorder):
    template_id = meta.create(template(meta))["id"]
    pause_template(template_id)
    with pytest.raises(TemplateStateError):
        pause_template(template_id)  # only an approved template is paused
    unpause_template(template_id)
    pause_template(template_id)
    unpause_template(template_id)
    pause_template(template_id)
    events = recorder.values("message_template_status_update")[1:]
    assert [(e["event"], e.get("other_info", {}).get("title")) for e in events] == [
        ("PAUSED", "FIRST_PAUSE"),
        ("APPROVED", "UNPAUSE"),
        ("PAUSED", "SECOND_PAUSE"),
        ("APPROVED", "UNPAUSE"),
        ("DISABLED", "DISABLED"),
    ]
    assert events[0]["message_template_id"] == int(template_id)
    assert meta.get(template_id).json()["status"] == "DISABLED"


def test_quality_and_category_changes_have_their_own_webhooks(meta, recorder):
    template_id = meta.create(template(meta, category="UTILITY"))["id"]
    set_template_quality(template_id, "YELLOW")
    set_template_quality(template_id, "YELLOW")  # no change, no webhook
    [quality] = recorder.values("message_template_quality_update")
    assert quality == {
        "previous_quality_score": "UNKNOWN",
        "new_quality_score": "YELLOW",
        "message_template_id": int(template_id),
        "message_template_name": "stay_feedback",
        "message_template_language": "en_US",
    }
    announce_category_change(template_id)
    recategorize_template(template_id)
    notice, change = recorder.values("template_category_update")
    assert notice["correct_category"] == "MARKETING"
    assert notice["category_update_timestamp"] > time.time()
    assert (change["previous_category"], change["new_category"]) == ("UTILITY", "MARKETING")
    stored = meta.get(template_id, params={"fields": "category,previous_category,quality_score"})
    assert stored.json() | {"quality_score": stored.json()["quality_score"]["score"]} == {
        "id": template_id,
        "category": "MARKETING",
        "previous_category": "UTILITY",
        "quality_score": "YELLOW",
    }
    with pytest.raises(ValueError, match="UTILITY"):
        recategorize_template(template_id)


def test_the_sandbox_page_has_the_monitors_buttons_for_admins_only(
    meta, recorder, admin_user, marketer
):
    template_id = meta.create(template(meta, category="UTILITY"))["id"]
    stored = Template.objects.get(template_id=template_id)
    url = f"/sandbox/templates/{stored.pk}/action/"
    admin = client_for(admin_user)
    page = admin.get("/sandbox/").content.decode()
    for label in (
        "Pause stay_feedback",
        "Disable stay_feedback",
        "Move to Marketing",
        "Set quality",
    ):
        assert label in page
    assert f'action="{url}"' in page
    assert client_for(marketer).post(url, {"action": "pause"}).status_code == 403

    assert admin.post(url, {"action": "pause"}).status_code == 302
    assert admin.post(url, {"action": "quality", "quality": "RED"}).status_code == 302
    assert admin.post(url, {"action": "recategorize"}).status_code == 302
    stored.refresh_from_db()
    assert (stored.status, stored.quality_score, stored.category) == ("PAUSED", "RED", "MARKETING")
    refused = admin.post(url, {"action": "pause"}, follow=True).content.decode()
    assert "pause is not allowed for a PAUSED template" in refused
    assert admin.post(url, {"action": "unpause"}).status_code == 302
    stored.refresh_from_db()
    assert stored.status == "APPROVED"
    fields = [json.loads(r["body"])["entry"][0]["changes"][0]["field"] for r in recorder.received]
    assert fields.count("template_category_update") == 1
    assert fields.count("message_template_quality_update") == 1
