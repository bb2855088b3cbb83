"""The template form's rules, one test per bad input: each refused with its message at the right field,
before anything reaches Meta (these tests have no Meta to reach), and never a 500."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import SkipFile
from django.urls import reverse

from flowsadmin.models import Flow
from flowsadmin.routing import entry_screens
from templates_app.media import MB, CappedUploadHandler, SampleRejected, check_sample
from templates_app.models import MessageTemplate

from .conftest import client_for
from .template_helpers import PDF, form_data, png, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(campaign_manager):
    return client_for(campaign_manager)


def submit(client, flow: Flow, **changes: object):
    response = client.post(reverse("templates:create"), form_data(flow, **changes))
    assert response.status_code == 200, response.status_code  # the form again, never a 500
    assert not MessageTemplate.objects.exists(), "nothing is kept for a form with errors"
    return response.context["form"].errors


def test_the_shared_good_data_passes_every_rule(manager, published_flow):
    """So each refusal below fails for its own reason: the same data with one thing changed."""
    from templates_app.forms import TemplateForm

    data = form_data(published_flow)
    sample = data.pop("header_sample")
    form = TemplateForm(data, {"header_sample": sample}, waba=published_flow.waba)
    assert form.is_valid(), form.errors
    assert [v.as_dict() for v in form.cleaned_data["variables"]] == [
        {"variable": "user.name", "param": "user_name", "example": "Ana"}
    ]


def test_a_sample_over_the_images_limit_is_refused(manager, published_flow):
    big = upload(content=png() + b"\0" * (5 * MB))
    errors = submit(manager, published_flow, header_sample=big)
    assert errors["header_sample"] == ["room.png is 5.0 MB; an image sample can be at most 5 MB."]


def test_a_file_over_every_limit_is_dropped_while_it_arrives(manager, published_flow):
    huge = upload(content=png() + b"\0" * (17 * MB))
    errors = submit(manager, published_flow, header_sample=huge)
    assert errors["header_sample"] == [
        "The file is larger than 16 MB and was not received: an image sample can be at most 5 MB."
    ]


def test_the_upload_handler_stops_at_the_limit_instead_of_keeping_the_file():
    handler = CappedUploadHandler(limit=10)
    handler.new_file("header_sample", "big.png", "image/png", 100)
    assert handler.receive_data_chunk(b"x" * 8, 0) == b"x" * 8
    with pytest.raises(SkipFile):
        handler.receive_data_chunk(b"x" * 8, 8)


def test_the_size_is_checked_before_the_file_is_read():
    class Untouchable(SimpleUploadedFile):
        def read(self, *args):
            raise AssertionError("read before its size was checked")

    sample = Untouchable("room.png", b"", "image/png")
    sample.size = 6 * MB
    with pytest.raises(SampleRejected, match="at most 5 MB"):
        check_sample(sample, "IMAGE")


def test_a_pdf_renamed_png_is_refused(manager, published_flow):
    errors = submit(manager, published_flow, header_sample=upload(content=PDF))
    assert errors["header_sample"] == [
        "room.png is named .png but its content is application/pdf: upload a real "
        "png/jpeg/jpg file."
    ]


def test_an_empty_file_is_refused(manager, published_flow):
    errors = submit(manager, published_flow, header_sample=upload(content=b""))
    assert errors["header_sample"] == ["room.png is empty: upload an image with something in it."]


def test_a_media_header_needs_a_sample(manager, published_flow):
    data = form_data(published_flow)
    del data["header_sample"]
    response = manager.post(reverse("templates:create"), data)
    assert response.context["form"].errors["header_sample"] == [
        "Upload an image as a sample for Meta's review."
    ]


def test_a_26_character_button_text_is_refused(manager, published_flow):
    errors = submit(manager, published_flow, button_text="R" * 26)
    assert errors["button_text"] == ["Ensure this value has at most 25 characters (it has 26)."]


def test_a_variable_in_the_button_text_is_refused(manager, published_flow):
    errors = submit(manager, published_flow, button_text="Rate it {{user.name}}")
    assert errors["button_text"][0].startswith("Meta allows no variables in the button text")


def test_a_variable_at_the_start_of_the_body_is_refused(manager, published_flow):
    errors = submit(manager, published_flow, body="{{user.name}}, how was your stay with us today?")
    assert errors["body"][0].startswith(
        "Meta's rule: a variable can't be at the very start of the body."
    )


def test_a_variable_at_the_end_of_the_body_is_refused(manager, published_flow):
    errors = submit(manager, published_flow, body="How was your stay with us, {{user.name}}")
    assert errors["body"][0].startswith("Meta's rule: a variable can't be at the very end")


def test_too_many_variables_for_the_length_are_refused(manager, published_flow):
    errors = submit(
        manager,
        published_flow,
        body="Hi {{user.name}} {{user.city}} {{user.email}} thanks",
        example_user_city="Lisbon",
        example_user_email="ana@example.com",
    )
    assert errors["body"][0].startswith(
        "Meta's rule: too many variables for the length of the body. 3 variable(s) need at least 7"
    )


def test_a_variable_in_the_footer_is_refused(manager, published_flow):
    errors = submit(manager, published_flow, footer="See you {{user.name}}")
    assert errors["footer"] == [
        "Meta allows no variables in the footer: write it as every customer should see it. "
        "Personalise the body instead."
    ]


def test_a_variable_not_written_as_user_field_is_refused(manager, published_flow):
    errors = submit(manager, published_flow, body="Hi {{1}}, how was your stay with us?")
    assert "{{1}} is not a personalisation variable" in errors["body"][0]


def test_a_variable_without_an_example_is_refused_at_its_example(manager, published_flow):
    errors = submit(manager, published_flow, example_user_name="")
    assert errors["example_user_name"] == [
        "Give an example for {{user.name}}: Meta's reviewers see it."
    ]


@pytest.mark.parametrize("name", ["Stay_Feedback", "stay feedback", "stay-feedback"])
def test_a_name_with_capitals_spaces_or_dashes_is_refused(manager, published_flow, name):
    errors = submit(manager, published_flow, name=name)
    assert errors["name"][0].startswith(
        "Meta's rule: a template name has only lowercase letters, digits and underscores"
    )


def test_a_name_and_language_that_exist_are_refused(manager, published_flow):
    MessageTemplate.objects.create(waba=published_flow.waba, name="stay_feedback", language="en_US")
    response = manager.post(reverse("templates:create"), form_data(published_flow))
    assert response.context["form"].errors["name"] == [
        "A template named stay_feedback in English (US) already exists in this WABA: choose "
        "another name or language."
    ]
    assert MessageTemplate.objects.count() == 1


def test_the_same_name_in_another_language_is_fine(manager, published_flow):
    from templates_app.forms import TemplateForm

    MessageTemplate.objects.create(waba=published_flow.waba, name="stay_feedback", language="en_US")
    data = form_data(published_flow, language="pt_BR")
    sample = data.pop("header_sample")
    form = TemplateForm(data, {"header_sample": sample}, waba=published_flow.waba)
    assert form.is_valid(), form.errors


def test_a_flow_deprecated_between_choosing_and_submitting_is_refused(manager, published_flow):
    page = manager.get(reverse("templates:create"))
    assert f'<option value="{published_flow.pk}">Hotel feedback</option>' in page.content.decode()
    Flow.objects.filter(pk=published_flow.pk).update(status=Flow.Status.DEPRECATED)
    errors = submit(manager, published_flow)
    assert errors["flow"] == [
        "Hotel feedback is deprecated now, no longer published: Meta attaches only published "
        "flows. Choose another flow."
    ]


def test_navigation_needs_a_landing_screen_the_flow_can_be_opened_at(manager, published_flow):
    errors = submit(manager, published_flow, navigate_screen="RATE")
    assert errors["navigate_screen"] == [
        "Choose the landing screen: Hotel feedback can be opened at RECOMMEND."
    ]


def test_data_exchange_needs_a_flow_with_an_endpoint(manager, published_flow):
    errors = submit(manager, published_flow, flow_action="data_exchange")
    assert errors["flow_action"] == [
        "Hotel feedback has no data endpoint, so Data Exchange can't open it: use Navigation."
    ]


def test_without_a_published_flow_the_form_says_so_and_links_to_flows(manager, waba):
    Flow.objects.create(waba=waba, name="Draft only", flow_json="{}")
    page = manager.get(reverse("templates:create")).content.decode()
    assert "No flow is published in this WABA yet." in page
    assert f'href="{reverse("flows:create")}"' in page
    assert "Draft only" not in page


def test_example_fields_follow_the_variables_as_the_body_is_typed(manager, published_flow):
    body = "Hi {{user.name}}, did you enjoy {{user.city}} and the room we gave you?"
    response = manager.post(
        reverse("templates:variables"), {"body": body, "example_user_name": "Ana"}
    )
    html = response.content.decode()
    assert 'name="example_user_name"' in html and 'value="Ana"' in html
    assert 'name="example_user_city"' in html
    assert "Example for {{user.city}}" in html


def test_the_preview_shows_the_message_with_example_values(manager, published_flow):
    data = form_data(published_flow, header_format="TEXT", header_text="Your stay")
    del data["header_sample"]
    html = manager.post(reverse("templates:preview"), data).content.decode()
    assert "Hi Ana, how was your stay with us? Tell us in two minutes." in html
    assert "Your stay" in html and "Hotel Azul" in html and "Rate your stay" in html


def test_the_landing_screens_follow_the_chosen_flow(manager, published_flow):
    html = manager.get(reverse("templates:flow_screens"), {"flow": published_flow.pk}).content
    assert b'<option value="RECOMMEND">RECOMMEND</option>' in html
    assert b'value="RATE"' not in html


# --- the entry screen rule (flowsadmin.routing) -----------------------------------------------------


def screen(screen_id: str, *targets: str) -> dict:
    actions = [
        {"type": "Footer", "on-click-action": {"name": "navigate", "next": {"name": t}}}
        for t in targets
    ]
    return {"id": screen_id, "layout": {"children": actions}}


def test_with_a_routing_model_the_entry_screens_are_those_no_route_leads_to():
    import json

    flow = {
        "routing_model": {"A": ["B"], "B": ["C"], "C": [], "D": ["C"]},
        "screens": [screen("A"), screen("B"), screen("C"), screen("D")],
    }
    assert entry_screens(json.dumps(flow)) == ["A", "D"]


def test_without_a_routing_model_the_navigate_actions_are_the_routes():
    import json

    flow = {"screens": [screen("WELCOME", "PICK"), screen("PICK", "DONE"), screen("DONE")]}
    assert entry_screens(json.dumps(flow)) == ["WELCOME"]


def test_a_loop_leaves_only_the_first_screen_and_broken_json_none():
    import json

    flow = {"routing_model": {"A": ["B"], "B": ["A"]}, "screens": [screen("A"), screen("B")]}
    assert entry_screens(json.dumps(flow)) == ["A"]
    assert entry_screens("{not json") == []
