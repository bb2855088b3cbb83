"""Shared setup for the template tests: a published hotel flow, valid form data, sample files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from flowsadmin.models import Flow
from wabas.graph import GraphClient
from wabas.models import Waba

EXAMPLES = Path(__file__).resolve().parents[1] / "flowsadmin" / "examples"
HOTEL_JSON = (EXAMPLES / "hotel-feedback.static.flow.json").read_text(encoding="utf-8")
APP_ID = "300000000000009"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def png(width: int = 600, height: int = 400) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (11, 122, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def upload(name: str = "room.png", content: bytes | None = None, content_type: str = "image/png"):
    return SimpleUploadedFile(name, png() if content is None else content, content_type)


def form_data(flow: Flow, **changes: object) -> dict:
    """A template the form and the sandbox Meta accept: image header, one variable, Flow button."""
    return {
        "category": "MARKETING",
        "name": "stay_feedback",
        "language": "en_US",
        "header_format": "IMAGE",
        "header_text": "",
        "body": "Hi {{user.name}}, how was your stay with us? Tell us in two minutes.",
        "example_user_name": "Ana",
        "footer": "Hotel Azul",
        "button_text": "Rate your stay",
        "flow_action": "navigate",
        "flow": str(flow.pk),
        "navigate_screen": "RECOMMEND",
        "header_sample": upload(),
    } | changes


@pytest.fixture
def published_flow(waba: Waba) -> Flow:
    """A published flow with a Flow ID, for tests that never reach Meta."""
    return Flow.objects.create(
        waba=waba,
        name="Hotel feedback",
        status=Flow.Status.PUBLISHED,
        meta_flow_id="771023498811223",
        flow_json=HOTEL_JSON,
    )


@pytest.fixture
def meta_waba(sandbox_waba: Waba) -> Waba:
    """The sandbox WABA with a Meta app id on both sides, for resumable uploads."""
    from sandbox.models import Account

    sandbox_waba.meta_app_id = APP_ID
    sandbox_waba.save(update_fields=["meta_app_id"])
    Account.objects.filter(waba_id=sandbox_waba.meta_waba_id).update(app_id=APP_ID)
    return sandbox_waba


@pytest.fixture
def meta_flow(meta_waba: Waba, marketer: object) -> Flow:
    """The hotel flow saved and published through our services, on the sandbox Meta."""
    from flowsadmin.services import FlowFields, publish_flow, save_flow

    client = GraphClient.for_waba(meta_waba)
    fields = FlowFields(
        name="Hotel feedback",
        categories=["SURVEY"],
        endpoint="HOSTED",
        custom_endpoint_url="",
        customer_endpoint_url="",
        flow_json=HOTEL_JSON,
    )
    flow = save_flow(Flow(waba=meta_waba), fields, by=marketer, lock_version=None, client=client)
    publish_flow(flow, by=marketer, client=client)
    client.session.close()
    return flow
