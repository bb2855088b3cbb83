"""The Graph client's template, media and message calls, pinned to the request Meta documents.

A real HTTP server on loopback stands in for Meta (tests/fake_meta.py): each test scripts the answer and
checks the exact JSON, query and headers Meta would have received, and what the caller gets back.
Shapes: https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/components
and https://developers.facebook.com/docs/whatsapp/flows/guides/sendingaflow
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer

import pytest

from wabas.graph import (
    FlowButton,
    GraphClient,
    HeaderParameter,
    MetaError,
    MetaTransientError,
    SentMessage,
    TemplateContent,
    TemplateHeader,
)

from .fake_meta import APP_ID, FLOW_ID, PHONE_ID, TOKEN, WABA_ID, FakeMeta, fresh_meta, meta_error

TEMPLATE_ID = "1209876543210987"
HANDLE = "4::aW1hZ2UvanBlZw==:ARZhandle"
WAMID = "wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QUJD"


@pytest.fixture
def meta(fake_meta_server: ThreadingHTTPServer) -> FakeMeta:
    return fresh_meta(fake_meta_server)


def booking(**changes: object) -> TemplateContent:
    """The template of Meta's own Flow-button example: image header, body, footer, one FLOW button."""
    fields = {
        "header": TemplateHeader("IMAGE", handle=HANDLE),
        "body": "Hi {{1}}, pick a slot for your next cleaning, {{2}}.",
        "examples": {"1": "Ana", "2": "B-1042"},
        "footer": "Reply STOP to opt out",
        "flow_button": FlowButton(
            "Book now", FLOW_ID, navigate_screen="PICK_SLOT", icon="PROMOTION"
        ),
    }
    return TemplateContent(**(fields | changes))


# --- creating ----------------------------------------------------------------------------------------


def test_create_template_posts_metas_shape_with_an_image_header_and_a_flow_button(meta):
    meta.reply({"id": TEMPLATE_ID, "status": "PENDING", "category": "MARKETING"})
    created = meta.client().create_template(
        WABA_ID, name="book_cleaning_v2", language="en_US", category="MARKETING", content=booking()
    )
    assert created == {"id": TEMPLATE_ID, "status": "PENDING", "category": "MARKETING"}
    request = meta.only
    assert (request.method, request.path) == ("POST", f"/meta/v23.0/{WABA_ID}/message_templates")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "name": "book_cleaning_v2",
        "language": "en_US",
        "category": "MARKETING",
        "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [HANDLE]}},
            {
                "type": "BODY",
                "text": "Hi {{1}}, pick a slot for your next cleaning, {{2}}.",
                "example": {"body_text": [["Ana", "B-1042"]]},
            },
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "FLOW",
                        "text": "Book now",
                        "flow_id": FLOW_ID,
                        "flow_action": "navigate",
                        "navigate_screen": "PICK_SLOT",
                        "icon": "PROMOTION",
                    }
                ],
            },
        ],
    }


def test_positional_examples_go_in_variable_order_whatever_order_they_were_given(meta):
    meta.reply({"id": TEMPLATE_ID})
    content = booking(body="Hi {{2}} and {{1}}, welcome.", examples={"2": "Bo", "1": "Ana"})
    meta.client().create_template(
        WABA_ID, name="welcome", language="en_US", category="UTILITY", content=content
    )
    body = meta.only.json["components"][1]
    assert body["example"] == {"body_text": [["Ana", "Bo"]]}


def test_named_variables_make_a_named_template_with_named_examples(meta):
    meta.reply({"id": TEMPLATE_ID, "status": "PENDING", "category": "UTILITY"})
    content = TemplateContent(
        header=TemplateHeader("TEXT", text="Your stay, {{first_name}}", example="Ana"),
        body="Thanks for staying with us, {{first_name}}. How was room {{room}} for you?",
        examples={"first_name": "Ana", "room": "204"},
        flow_button=FlowButton("Rate your stay", FLOW_ID, flow_action="data_exchange"),
    )
    meta.client().create_template(
        WABA_ID, name="stay_rating", language="pt_BR", category="UTILITY", content=content
    )
    sent = meta.only.json
    assert sent["parameter_format"] == "NAMED"
    assert sent["components"] == [
        {
            "type": "HEADER",
            "format": "TEXT",
            "text": "Your stay, {{first_name}}",
            "example": {
                "header_text_named_params": [{"param_name": "first_name", "example": "Ana"}]
            },
        },
        {
            "type": "BODY",
            "text": "Thanks for staying with us, {{first_name}}. How was room {{room}} for you?",
            "example": {
                "body_text_named_params": [
                    {"param_name": "first_name", "example": "Ana"},
                    {"param_name": "room", "example": "204"},
                ]
            },
        },
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "FLOW",
                    "text": "Rate your stay",
                    "flow_id": FLOW_ID,
                    "flow_action": "data_exchange",
                }
            ],
        },
    ]


@pytest.mark.parametrize(
    ("header", "component"),
    [
        (
            TemplateHeader("TEXT", text="Order {{1}}", example="B-1042"),
            {
                "type": "HEADER",
                "format": "TEXT",
                "text": "Order {{1}}",
                "example": {"header_text": ["B-1042"]},
            },
        ),
        (
            TemplateHeader("TEXT", text="Your booking"),
            {"type": "HEADER", "format": "TEXT", "text": "Your booking"},
        ),
        (TemplateHeader("LOCATION"), {"type": "HEADER", "format": "LOCATION"}),
        (
            TemplateHeader("DOCUMENT", handle=HANDLE),
            {"type": "HEADER", "format": "DOCUMENT", "example": {"header_handle": [HANDLE]}},
        ),
    ],
)
def test_each_header_kind_has_metas_shape(meta, header, component):
    meta.reply({"id": TEMPLATE_ID})
    meta.client().create_template(
        WABA_ID, name="x", language="en_US", category="UTILITY", content=booking(header=header)
    )
    assert meta.only.json["components"][0] == component


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (booking(examples={"1": "Ana"}), "{{2}} needs an example"),
        (booking(header=TemplateHeader("IMAGE")), "needs the handle"),
        (
            booking(header=TemplateHeader("TEXT", text="Hi {{1}}")),
            "header's variable needs an example",
        ),
        (booking(header=TemplateHeader("GIF", handle=HANDLE)), "format is one of"),
        (
            booking(flow_button=FlowButton("Go", FLOW_ID, "data_exchange", navigate_screen="A")),
            "navigate_screen goes only with flow_action navigate",
        ),
        (booking(flow_button=FlowButton("Go", FLOW_ID, "open")), "navigate or data_exchange"),
    ],
)
def test_a_template_that_cannot_be_written_in_metas_shape_is_refused_before_any_call(
    meta, content, problem
):
    with pytest.raises(ValueError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        meta.client().create_template(
            WABA_ID, name="x", language="en_US", category="MARKETING", content=content
        )
    assert meta.received == []


def test_create_template_is_never_repeated(meta):
    meta.reply(meta_error(131000, "Something went wrong", status=500), {"id": "1"})
    with pytest.raises(MetaTransientError):
        meta.client().create_template(
            WABA_ID, name="x", language="en_US", category="MARKETING", content=booking()
        )
    assert len(meta.received) == 1


def test_metas_refusal_of_a_template_reaches_the_caller_with_its_subcode_and_words(meta):
    meta.reply(
        meta_error(
            100,
            "Invalid parameter",
            error_subcode=2388299,
            error_user_title="Leading or trailing params not allowed",
            error_user_msg="Variables can't be at the start or end of the template.",
        )
    )
    with pytest.raises(MetaError) as caught:
        meta.client().create_template(
            WABA_ID, name="x", language="en_US", category="MARKETING", content=booking()
        )
    assert (caught.value.code, caught.value.subcode) == (100, 2388299)
    assert caught.value.user_message == "Variables can't be at the start or end of the template."


# --- reading, editing, deleting ---------------------------------------------------------------------


def test_get_template_asks_for_status_category_quality_and_reason_and_unwraps_the_score(meta):
    meta.reply(
        {
            "id": TEMPLATE_ID,
            "name": "book_cleaning_v2",
            "status": "REJECTED",
            "category": "MARKETING",
            "previous_category": "UTILITY",
            "rejected_reason": "INVALID_FORMAT",
            "quality_score": {"score": "YELLOW", "date": 1767000000},
        }
    )
    template = meta.client().get_template(TEMPLATE_ID)
    assert template["quality_score"] == "YELLOW"
    assert template["rejected_reason"] == "INVALID_FORMAT"
    assert template["previous_category"] == "UTILITY"
    request = meta.only
    assert (request.method, request.path) == ("GET", f"/meta/v23.0/{TEMPLATE_ID}")
    assert request.param("fields") == (
        "id,name,language,status,category,parameter_format,components,rejected_reason,"
        "quality_score,previous_category"
    )


def test_list_templates_by_name_and_status_follows_the_pages(meta):
    meta.reply(
        {
            "data": [{"id": TEMPLATE_ID, "name": "book", "quality_score": {"score": "GREEN"}}],
            "paging": {"cursors": {"after": "QVFJ"}, "next": f"{meta.url}/v23.0/x?after=QVFJ"},
        },
        {"data": [{"id": 1209876543210988, "name": "book", "language": "pt_BR"}]},
    )
    templates = meta.client().list_templates(WABA_ID, name="book", status="APPROVED")
    assert [(t["id"], t.get("quality_score")) for t in templates] == [
        (TEMPLATE_ID, "GREEN"),
        ("1209876543210988", None),
    ]
    first, second = meta.received
    assert (first.method, first.path) == ("GET", f"/meta/v23.0/{WABA_ID}/message_templates")
    assert (first.param("name"), first.param("status")) == ("book", "APPROVED")
    assert second.param("after") == "QVFJ"


def test_edit_template_posts_the_new_components_to_the_template_and_is_never_repeated(meta):
    meta.reply({"success": True})
    meta.client().edit_template(TEMPLATE_ID, booking(footer=""), category="UTILITY")
    request = meta.only
    assert (request.method, request.path) == ("POST", f"/meta/v23.0/{TEMPLATE_ID}")
    assert request.json == {"components": booking(footer="").components(), "category": "UTILITY"}
    assert [c["type"] for c in request.json["components"]] == ["HEADER", "BODY", "BUTTONS"]

    meta.received.clear()
    meta.reply(meta_error(2, "Service unavailable", status=503), {"success": True})
    with pytest.raises(MetaTransientError):
        meta.client().edit_template(TEMPLATE_ID, booking())
    assert len(meta.received) == 1
    assert "category" not in meta.received[0].json


def test_delete_template_by_name_removes_every_language(meta):
    meta.reply({"success": True}, {"success": True})
    meta.client().delete_template(WABA_ID, name="book_cleaning_v2")
    meta.client().delete_template(WABA_ID, name="book_cleaning_v2", template_id=TEMPLATE_ID)
    by_name, by_id = meta.received
    assert (by_name.method, by_name.path) == ("DELETE", f"/meta/v23.0/{WABA_ID}/message_templates")
    assert by_name.query == {"name": ["book_cleaning_v2"]}
    assert by_id.query == {"name": ["book_cleaning_v2"], "hsm_id": [TEMPLATE_ID]}


# --- the media sample -----------------------------------------------------------------------------


def test_resumable_upload_opens_a_session_on_the_wabas_app_then_sends_the_bytes(meta, waba):
    content = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    session_id = "upload:MTphdHRhY2htZW50OjNhZmM3?sig=ARZxyz123"
    meta.reply({"id": session_id}, {"h": HANDLE})
    waba.graph_base_url = meta.url
    waba.meta_app_id = APP_ID
    handle = GraphClient.for_waba(waba).upload_media_resumable(
        content=content, file_name="header.png", mime_type="image/png"
    )
    assert handle == HANDLE
    opening, sending = meta.received
    assert (opening.method, opening.path) == ("POST", f"/meta/v23.0/{APP_ID}/uploads")
    assert opening.query == {
        "file_name": ["header.png"],
        "file_length": [str(len(content))],
        "file_type": ["image/png"],
    }
    assert opening.headers["Authorization"] == f"Bearer {waba.access_token}"
    # The session id is the path, colon and all; its own query (sig) goes along untouched.
    assert (sending.method, sending.path) == ("POST", "/meta/v23.0/upload:MTphdHRhY2htZW50OjNhZmM3")
    assert sending.query == {"sig": ["ARZxyz123"]}
    assert sending.headers["Authorization"] == f"OAuth {waba.access_token}"
    assert sending.headers["file_offset"] == "0"
    assert sending.body == content


def test_an_upload_without_an_app_id_says_so_and_calls_nothing(meta):
    with pytest.raises(MetaError, match="No Meta app id is set"):
        meta.client().upload_media_resumable(content=b"x", file_name="a.png", mime_type="image/png")
    assert meta.received == []
    meta.reply({"id": "upload:abc?sig=1"}, {"h": HANDLE})
    assert (
        meta.client(app_id=APP_ID).upload_media_resumable(
            content=b"x", file_name="a.png", mime_type="image/png"
        )
        == HANDLE
    )
    assert meta.received[0].path == f"/meta/v23.0/{APP_ID}/uploads"


def test_a_broken_upload_resumes_where_meta_says_it_stands(meta):
    content = bytes(range(200))
    meta.reply(
        {"id": "upload:MTpzZXNzaW9u?sig=ARZ"},
        meta_error(131000, "Something went wrong", status=500),
        {"id": "upload:MTpzZXNzaW9u", "file_offset": 120},
        {"h": "4::aW1hZ2UvcG5n:ARZhandle"},
    )
    handle = meta.client().upload_media_resumable(
        app_id=APP_ID, content=content, file_name="a.png", mime_type="image/png"
    )
    assert handle == "4::aW1hZ2UvcG5n:ARZhandle"
    opening, first, status, resumed = meta.received
    assert [r.method for r in (opening, first, status, resumed)] == ["POST", "POST", "GET", "POST"]
    assert status.headers["Authorization"] == f"OAuth {TOKEN}"
    assert resumed.headers["file_offset"] == "120"
    assert resumed.body == content[120:]


# --- sending ----------------------------------------------------------------------------------------


def accepted(status: str = "accepted") -> dict:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "+1 555 123 4567", "wa_id": "15551234567"}],
        "messages": [{"id": WAMID, "message_status": status}],
    }


def test_send_template_message_posts_the_flow_button_component_and_returns_wamid_and_status(meta):
    meta.reply(accepted())
    sent = meta.client().send_template_message(
        PHONE_ID,
        to="+1 555 123 4567",
        template_name="book_cleaning_v2",
        language="en_US",
        header=HeaderParameter("image", media_id="1122334455"),
        body=["Ana", "B-1042"],
        flow_token="tok-7f3a",
        flow_action_data={"customer_id": "C-88", "prefill_zip": "10115"},
        biz_opaque_callback_data="campaign-7:recipient-31",
    )
    assert sent == SentMessage(wamid=WAMID, message_status="accepted", wa_id="15551234567")
    request = meta.only
    assert (request.method, request.path) == ("POST", f"/meta/v23.0/{PHONE_ID}/messages")
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+1 555 123 4567",
        "type": "template",
        "template": {
            "name": "book_cleaning_v2",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "header",
                    "parameters": [{"type": "image", "image": {"id": "1122334455"}}],
                },
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ana"},
                        {"type": "text", "text": "B-1042"},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "flow",
                    "index": "0",
                    "parameters": [
                        {
                            "type": "action",
                            "action": {
                                "flow_token": "tok-7f3a",
                                "flow_action_data": {"customer_id": "C-88", "prefill_zip": "10115"},
                            },
                        }
                    ],
                },
            ],
        },
        "biz_opaque_callback_data": "campaign-7:recipient-31",
    }


def test_named_parameters_a_text_header_and_a_data_exchange_button(meta):
    meta.reply(accepted("held_for_quality_assessment"))
    sent = meta.client().send_template_message(
        PHONE_ID,
        to="15551234567",
        template_name="stay_rating",
        language="pt_BR",
        header=HeaderParameter("text", text="Ana", parameter_name="first_name"),
        body={"first_name": "Ana", "room": "204"},
        flow_token="tok-1",
        button_index=2,
    )
    assert sent.message_status == "held_for_quality_assessment"
    components = meta.only.json["template"]["components"]
    assert components == [
        {
            "type": "header",
            "parameters": [{"type": "text", "text": "Ana", "parameter_name": "first_name"}],
        },
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "first_name", "text": "Ana"},
                {"type": "text", "parameter_name": "room", "text": "204"},
            ],
        },
        {
            "type": "button",
            "sub_type": "flow",
            "index": "2",
            "parameters": [{"type": "action", "action": {"flow_token": "tok-1"}}],
        },
    ]
    assert "biz_opaque_callback_data" not in meta.only.json


@pytest.mark.parametrize(
    ("header", "parameter"),
    [
        (
            HeaderParameter("document", link="https://example.org/menu.pdf", filename="menu.pdf"),
            {
                "type": "document",
                "document": {"link": "https://example.org/menu.pdf", "filename": "menu.pdf"},
            },
        ),
        (
            HeaderParameter(
                "location", location={"latitude": 38.7, "longitude": -9.1, "name": "Hotel Azul"}
            ),
            {
                "type": "location",
                "location": {"latitude": 38.7, "longitude": -9.1, "name": "Hotel Azul"},
            },
        ),
    ],
)
def test_media_and_location_header_parameters(meta, header, parameter):
    meta.reply(accepted())
    meta.client().send_template_message(
        PHONE_ID,
        to="15551234567",
        template_name="t",
        language="en_US",
        header=header,
        flow_token="t",
    )
    assert meta.only.json["template"]["components"][0] == {
        "type": "header",
        "parameters": [parameter],
    }


def test_an_empty_flow_token_or_a_header_without_media_is_refused_before_any_call(meta):
    client = meta.client()
    with pytest.raises(ValueError, match="flow_token"):
        client.send_template_message(
            PHONE_ID, to="1555", template_name="t", language="en_US", flow_token=""
        )
    with pytest.raises(ValueError, match="media id or a link"):
        client.send_template_message(
            PHONE_ID,
            to="1555",
            template_name="t",
            language="en_US",
            header=HeaderParameter("image"),
        )
    assert meta.received == []


def test_send_template_message_is_never_repeated(meta):
    meta.reply(meta_error(131000, "Something went wrong", status=500), accepted())
    with pytest.raises(MetaTransientError):
        meta.client().send_template_message(
            PHONE_ID, to="15551234567", template_name="t", language="en_US", flow_token="tok"
        )
    assert [r.method for r in meta.received] == ["POST"]


def test_an_answer_without_a_message_id_is_an_error(meta):
    meta.reply({"messaging_product": "whatsapp", "messages": []})
    with pytest.raises(MetaError, match="no message id"):
        meta.client().send_template_message(
            PHONE_ID, to="15551234567", template_name="t", language="en_US", flow_token="tok"
        )
