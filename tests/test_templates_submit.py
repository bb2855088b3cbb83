"""Submitting templates to the sandbox Meta over real HTTP: what Meta receives, what it answers, and
what happens here when it refuses, fails or is slow (the template is kept, nothing is duplicated)."""

from __future__ import annotations

import json
from html import unescape

import pytest
from django.urls import reverse

from sandbox.models import Template as MetaTemplate
from sandbox.models import UploadSession
from sandbox.services import set_faults
from templates_app.models import MessageTemplate
from templates_app.tasks import refresh_pending_templates_task

from .conftest import client_for
from .template_helpers import PDF, form_data, png, upload


@pytest.fixture
def manager(campaign_manager):
    return client_for(campaign_manager)


def test_a_template_with_an_image_and_a_flow_button_reaches_meta_as_meta_documents(
    manager, meta_flow
):
    response = manager.post(reverse("templates:create"), form_data(meta_flow))
    template = MessageTemplate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("templates:detail", args=[template.pk])
    meta = MetaTemplate.objects.get(template_id=template.meta_template_id)
    assert (meta.name, meta.language, meta.category, meta.parameter_format) == (
        "stay_feedback",
        "en_US",
        "MARKETING",
        "NAMED",
    )
    header, body, footer, buttons = meta.components
    upload_session = UploadSession.objects.get(handle=header["example"]["header_handle"][0])
    assert bytes(upload_session.data) == png() and upload_session.file_type == "image/png"
    assert body == {
        "type": "BODY",
        "text": "Hi {{user_name}}, how was your stay with us? Tell us in two minutes.",
        "example": {"body_text_named_params": [{"param_name": "user_name", "example": "Ana"}]},
    }
    assert footer == {"type": "FOOTER", "text": "Hotel Azul"}
    assert buttons["buttons"] == [
        {
            "type": "FLOW",
            "text": "Rate your stay",
            "flow_id": meta_flow.meta_flow_id,
            "flow_action": "navigate",
            "navigate_screen": "RECOMMEND",
        }
    ]
    # The sandbox reviews at once here (tasks run in-process) and its webhook approved ours.
    assert (template.status, template.created_by.username) == ("APPROVED", "charlie")
    assert template.variables == [{"variable": "user.name", "param": "user_name", "example": "Ana"}]
    # The template's page shows the components exactly as Meta received them.
    page = unescape(manager.get(reverse("templates:detail", args=[template.pk])).content.decode())
    assert "What we sent to Meta" in page
    assert json.dumps(meta.components, indent=2, ensure_ascii=False) in page
    assert template.sample.content_type == "image/png"
    page = manager.get(response["Location"]).content.decode()
    assert "Approved" in page and "Hi Ana, how was your stay with us?" in page


def test_an_image_far_from_3_to_2_is_taken_with_advice(manager, meta_flow):
    square = upload(content=png(500, 500))
    response = manager.post(
        reverse("templates:create"), form_data(meta_flow, header_sample=square), follow=True
    )
    assert MessageTemplate.objects.get().is_on_meta
    assert "The image is 500×500 px; WhatsApp shows header images best at 3:2" in (
        response.content.decode()
    )


def test_a_document_header_and_a_utility_category(manager, meta_flow):
    data = form_data(
        meta_flow,
        category="UTILITY",
        header_format="DOCUMENT",
        header_sample=upload("menu.pdf", PDF, "application/pdf"),
    )
    manager.post(reverse("templates:create"), data)
    meta = MetaTemplate.objects.get()
    assert (meta.category, meta.components[0]["format"]) == ("UTILITY", "DOCUMENT")


def test_meta_refusing_the_template_keeps_it_here_with_metas_words_at_the_field(manager, meta_flow):
    # It exists on Meta but not here (made in WhatsApp Manager): Meta refuses the name (2388024).
    MetaTemplate.objects.create(
        account=MetaTemplate.objects.model._meta.get_field("account").related_model.objects.get(),
        name="stay_feedback",
        language="en_US",
        category="MARKETING",
        components=[{"type": "BODY", "text": "Hello there"}],
    )
    response = manager.post(reverse("templates:create"), form_data(meta_flow))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["name"] == [
        "Meta: There is already en_US content for the template stay_feedback. You can create a new "
        "template and try again."
    ]
    kept = MessageTemplate.objects.get()
    assert (kept.status, kept.meta_template_id) == ("NOT_SUBMITTED", "")
    assert kept.submission_error.startswith("There is already en_US content")
    # The form now edits the kept template, with everything typed still in it.
    html = response.content.decode()
    assert f'action="{reverse("templates:edit", args=[kept.pk])}"' in html
    assert "Hi {{user.name}}, how was your stay with us?" in html and "Try again" in html


def test_meta_unreachable_keeps_the_template_and_try_again_submits_it(manager, meta_flow):
    set_faults(error_rate=1.0)
    response = manager.post(reverse("templates:create"), form_data(meta_flow))
    assert response.status_code == 200
    error = response.context["form"].non_field_errors()[0]
    assert error.startswith("Meta did not answer (") and error.endswith(
        "Your template is kept here: try again in a moment."
    )
    kept = MessageTemplate.objects.get()
    assert kept.status == "NOT_SUBMITTED" and kept.submission_error == error
    assert not MetaTemplate.objects.exists()
    assert 'value="Rate your stay"' in response.content.decode()
    set_faults()
    response = manager.post(reverse("templates:submit", args=[kept.pk]), follow=True)
    kept.refresh_from_db()
    assert kept.is_on_meta and kept.submission_error == ""
    assert MetaTemplate.objects.get().template_id == kept.meta_template_id


def test_meta_too_slow_then_try_again_finds_what_meta_made_instead_of_a_second(
    manager, meta_flow, settings
):
    # Slower than the client waits (10 s): the answer is lost, but the sandbox still creates it.
    set_faults(latency_ms=10_500)
    data = form_data(meta_flow, header_format="", header_sample="")
    response = manager.post(reverse("templates:create"), data)
    set_faults()
    assert response.context["form"].non_field_errors()[0].startswith("Meta did not answer")
    kept = MessageTemplate.objects.get()
    assert kept.status == "NOT_SUBMITTED"
    manager.post(reverse("templates:submit", args=[kept.pk]))
    kept.refresh_from_db()
    made = MetaTemplate.objects.get()  # one, not two
    assert kept.meta_template_id == made.template_id


def test_a_flow_deprecated_on_meta_after_the_form_checked_it_is_refused_at_the_flow(
    manager, meta_flow
):
    from sandbox.models import Flow as MetaFlow

    # Meta deprecated it, and our copy has not heard yet: Meta's refusal names the flow.
    MetaFlow.objects.filter(flow_id=meta_flow.meta_flow_id).update(status="DEPRECATED")
    data = form_data(meta_flow, header_format="", header_sample="")
    response = manager.post(reverse("templates:create"), data)
    assert (
        response.context["form"]
        .errors["flow"][0]
        .startswith("Meta: The FLOW button's flow is DEPRECATED")
    )
    assert MessageTemplate.objects.get().status == "NOT_SUBMITTED"


def test_editing_an_approved_template_sends_it_back_to_review_once_a_day(manager, meta_flow):
    manager.post(reverse("templates:create"), form_data(meta_flow))
    template = MessageTemplate.objects.get()
    assert template.status == "APPROVED"
    edited = form_data(meta_flow, body="Hello {{user.name}}, tell us about your stay in a minute.")
    del edited["header_sample"]  # the kept sample stays
    response = manager.post(reverse("templates:edit", args=[template.pk]), edited)
    assert response.status_code == 302
    template.refresh_from_db()
    meta = MetaTemplate.objects.get()
    assert meta.components[1]["text"] == "Hello {{user_name}}, tell us about your stay in a minute."
    # Meta took it as an edit of an approved template and reviewed it again at once. Its webhook can
    # have the very body of the first approval (same second) and be dropped as a re-delivery: the
    # scheduled refresh of templates under review is what catches that up.
    assert len(meta.approved_edits) == 1 and len(template.approved_edits) == 1
    refresh_pending_templates_task.delay()
    template.refresh_from_db()
    assert template.status == "APPROVED"
    page = manager.get(reverse("templates:edit", args=[template.pk]), follow=True)
    assert "Meta lets an approved template be edited at most once in 24 hours" in unescape(
        page.content.decode()
    )


def test_deleting_removes_every_language_here_and_on_meta(manager, meta_flow):
    manager.post(reverse("templates:create"), form_data(meta_flow))
    manager.post(reverse("templates:create"), form_data(meta_flow, language="pt_BR"))
    first = MessageTemplate.objects.order_by("pk").first()
    confirm = manager.get(reverse("templates:delete", args=[first.pk])).content.decode()
    assert "every language of it goes" in confirm and "Portuguese (Brazil)" in confirm
    response = manager.post(reverse("templates:delete", args=[first.pk]), follow=True)
    assert "stay_feedback was deleted here and on Meta (en_US, pt_BR)." in response.content.decode()
    assert not MessageTemplate.objects.exists() and not MetaTemplate.objects.exists()


def test_a_disabled_template_cant_be_deleted(manager, meta_flow):
    manager.post(reverse("templates:create"), form_data(meta_flow))
    template = MessageTemplate.objects.get()
    MessageTemplate.objects.filter(pk=template.pk).update(status="DISABLED")
    response = manager.post(reverse("templates:delete", args=[template.pk]), follow=True)
    assert "A disabled template can't be deleted (Meta's rule)" in unescape(
        response.content.decode()
    )
    assert MessageTemplate.objects.exists() and MetaTemplate.objects.exists()
