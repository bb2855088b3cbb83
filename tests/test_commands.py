"""Operator commands: seed_demo and create_user."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.roles import ROLE_PERMISSIONS
from exchange import cache
from flowsadmin.models import Flow, FlowChange
from sandbox.models import Flow as MetaFlow
from sandbox.models import PhoneNumber as MetaPhone
from sandbox.models import SentWebhook
from wabas.models import KeyPair, PhoneNumber, Waba

from .conftest import client_for
from .test_sandbox_phone import act


def run(*args: str, **options: object) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_seed_demo_creates_everything_a_newcomer_needs_and_is_idempotent(db, django_user_model):
    first = run("seed_demo")
    fingerprint = Waba.objects.get().key_pair.fingerprint
    second = run("seed_demo")

    assert Waba.objects.count() == 1 and KeyPair.objects.count() == 1
    assert Waba.objects.get().key_pair.fingerprint == fingerprint
    assert PhoneNumber.objects.count() == 1
    assert sorted(Flow.objects.values_list("name", flat=True)) == [
        "Bus booking",
        "Hotel feedback",
        "Weather or age",
    ]
    assert set(Flow.objects.values_list("status", flat=True)) == {"PUBLISHED"}
    # The weather example relays to the sandbox's stand-in for the customer's server.
    assert Flow.objects.get(name="Weather or age").customer_endpoint_url == (
        "http://127.0.0.1:8000/sandbox/customer/weather/"
    )
    assert Flow.objects.get(name="Bus booking").customer_endpoint_url == ""
    assert django_user_model.objects.count() == 3
    for output in (first, second):
        assert "admin      demo-admin-2026" in output
        assert "marketer   demo-marketer-2026" in output
        assert "campaigns  demo-campaigns-2026" in output


def test_seed_demo_adds_an_approved_template_with_an_image_and_a_flow_button_once(db):
    from PIL import Image

    from sandbox.models import Template as MetaTemplate
    from templates_app.models import MessageTemplate

    first = run("seed_demo")
    second = run("seed_demo")
    template = MessageTemplate.objects.get()
    meta = MetaTemplate.objects.get()
    assert "Demo template hotel_stay_feedback: Approved." in first and second
    assert (template.name, template.status, meta.status) == (
        "hotel_stay_feedback",
        "APPROVED",
        "APPROVED",
    )
    assert template.meta_template_id == meta.template_id and template.created_by.username == (
        "campaigns"
    )
    assert template.flow == Flow.objects.get(name="Hotel feedback")
    header, body, footer, buttons = meta.components
    assert header["format"] == "IMAGE" and header["example"]["header_handle"] == [
        template.header_handle
    ]
    assert buttons["buttons"][0]["flow_id"] == template.flow.meta_flow_id
    image = Image.open(io.BytesIO(bytes(template.sample.content)))
    assert image.size == (900, 600)  # 3:2


def test_seed_demo_publishes_the_example_flows_here_and_on_the_sandbox_with_the_same_json(db):
    run("seed_demo")
    for flow in Flow.objects.all():
        meta = MetaFlow.objects.get(flow_id=flow.meta_flow_id)
        assert (flow.status, meta.status) == ("PUBLISHED", "PUBLISHED")
        assert meta.account.waba_id == flow.waba.meta_waba_id
        assert (meta.name, meta.categories) == (flow.name, flow.categories)
        assert meta.flow_json == flow.flow_json and meta.validation_errors == []
        # As a refresh would leave it: Meta's verdict, preview link and health, and when.
        assert flow.meta_validation_errors == [] and not flow.has_validation_errors
        assert flow.preview_url.startswith("http://127.0.0.1:8000/sandbox/")
        assert flow.health_status["can_send_message"] == "AVAILABLE"
        assert flow.synced_at is not None
        assert flow.changes.get().action == "publish"
    # Flows with an endpoint point Meta at our hosted endpoint; the static one has none.
    endpoints = dict(MetaFlow.objects.values_list("name", "endpoint_uri"))
    assert endpoints["Hotel feedback"] == ""
    for name in ("Bus booking", "Weather or age"):
        assert endpoints[name] == Flow.objects.get(name=name).data_exchange_url()
    # Nobody listens while the seed runs, so the sandbox sends no webhooks about the flows (a late
    # "created as DRAFT" would undo the publish). The demo template's review does send its webhook,
    # which changes nothing: the seed already took the verdict by refreshing the template; so do the
    # demo campaign's message statuses, which the seed already handed to our handler.
    assert not SentWebhook.objects.exclude(
        field__in=["message_template_status_update", "messages"]
    ).exists()


def test_seed_demo_registers_the_public_key_on_the_sandbox_number(client, db):
    run("seed_demo")
    waba = Waba.objects.get()
    meta_phone = MetaPhone.objects.get(phone_number_id="200000000000001")
    assert meta_phone.business_public_key == waba.key_pair.public_pem
    assert meta_phone.key_uploaded_at is not None
    assert PhoneNumber.objects.get().key_status == "REGISTERED"
    assert client.login(username="admin", password="demo-admin-2026")
    page = client.get(reverse("wabas:detail", args=[waba.pk])).content.decode()
    assert '<span class="badge REGISTERED">Registered</span>' in page


def snapshot() -> list:
    """Every row the seed writes about flows and keys, on both sides, with its timestamps."""
    return [
        list(Flow.objects.order_by("pk").values()),
        list(FlowChange.objects.order_by("pk").values()),
        list(MetaFlow.objects.order_by("pk").values()),
        list(PhoneNumber.objects.order_by("pk").values()),
        list(MetaPhone.objects.order_by("pk").values()),
        list(SentWebhook.objects.values()),
    ]


def test_a_second_seed_changes_nothing(db):
    run("seed_demo")
    before = snapshot()
    output = run("seed_demo")
    assert snapshot() == before
    assert "Published" not in output


def as_an_older_seed_left_it() -> None:
    """Local drafts without a Flow ID, nothing on the sandbox, the key registration pending."""
    MetaFlow.objects.all().delete()
    FlowChange.objects.all().delete()
    Flow.objects.update(
        status="DRAFT", meta_flow_id="", preview_url="", health_status={}, synced_at=None
    )
    MetaPhone.objects.update(business_public_key="", key_uploaded_at=None)
    PhoneNumber.objects.update(key_status="PENDING", key_checked_at=None)


def test_an_older_seeds_local_drafts_are_put_on_the_sandbox_and_published(db):
    run("seed_demo")
    as_an_older_seed_left_it()
    pks = set(Flow.objects.values_list("pk", flat=True))

    output = run("seed_demo")

    assert set(Flow.objects.values_list("pk", flat=True)) == pks
    assert set(Flow.objects.values_list("status", flat=True)) == {"PUBLISHED"}
    assert MetaFlow.objects.count() == 3
    assert set(MetaFlow.objects.values_list("flow_id", flat=True)) == set(
        Flow.objects.values_list("meta_flow_id", flat=True)
    )
    assert set(MetaFlow.objects.values_list("status", flat=True)) == {"PUBLISHED"}
    assert MetaPhone.objects.get().business_public_key == Waba.objects.get().key_pair.public_pem
    assert PhoneNumber.objects.get().key_status == "REGISTERED"
    assert "Published Hotel feedback (Flow ID " in output


def test_a_draft_already_saved_to_the_sandbox_keeps_its_flow_id(db):
    run("seed_demo")
    as_an_older_seed_left_it()
    # The hotel flow was saved once from the dashboard: a draft on Meta with an id and no JSON yet.
    hotel = Flow.objects.get(name="Hotel feedback")
    saved = MetaFlow.objects.create(
        account=MetaPhone.objects.get().account, name=hotel.name, categories=hotel.categories
    )
    Flow.objects.filter(pk=hotel.pk).update(meta_flow_id=saved.flow_id)

    run("seed_demo")

    saved.refresh_from_db()
    assert Flow.objects.get(pk=hotel.pk).meta_flow_id == saved.flow_id
    assert (saved.status, saved.flow_json) == ("PUBLISHED", hotel.flow_json)
    assert MetaFlow.objects.filter(name="Hotel feedback").count() == 1


def test_seed_demo_writes_nothing_to_meta_for_a_waba_moved_off_the_sandbox(db):
    run("seed_demo")
    as_an_older_seed_left_it()
    Waba.objects.update(graph_base_url="https://graph.facebook.com")

    output = run("seed_demo")

    assert "not the sandbox" in output
    assert set(Flow.objects.values_list("status", "meta_flow_id")) == {("DRAFT", "")}
    assert not MetaFlow.objects.exists()
    assert MetaPhone.objects.get().business_public_key == ""
    assert PhoneNumber.objects.get().key_status == "PENDING"


def test_the_hotel_flow_starts_on_the_sandbox_phone_right_after_the_seed(db):
    run("seed_demo")
    client = client_for(get_user_model().objects.get(username="admin"))
    hotel = Flow.objects.get(name="Hotel feedback")
    text = act(client, hotel, op="start", whatsapp_id="15551234567")
    assert "Feedback 1 of 2" in text and "Would you recommend us to a friend?" in text


@pytest.fixture
def served_demo(live_server, settings, transactional_db):
    """The demo seeded for a live server, as `make run` serves it."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS = True
    cache.private_key.cache_clear()
    cache.forget_hosted_flows()
    run("seed_demo")
    yield
    cache.forget_hosted_flows()


def test_the_weather_flow_opens_through_our_endpoint_right_after_the_seed(served_demo):
    # The sandbox phone encrypts with the key the seed put on the sandbox number; our endpoint
    # decrypts and relays INIT to the sandbox's weather stub.
    client = client_for(get_user_model().objects.get(username="admin"))
    weather = Flow.objects.get(name="Weather or age")
    text = act(client, weather, op="start", whatsapp_id="15551234567")
    assert "What would you like to check?" in text and ">INIT<" in text


def test_the_demo_admin_signs_in_and_sees_the_demo_waba_and_its_keys(client, db):
    run("seed_demo")
    assert client.login(username="admin", password="demo-admin-2026")
    page = client.get(reverse("flows:list")).content.decode()
    waba = Waba.objects.get()
    assert "Flows · Demo Hotel" in page
    assert waba.key_pair.fingerprint in page
    assert "Hotel feedback" in page
    assert (
        f"http://127.0.0.1:8000/meta/flows/{Flow.objects.get(name='Hotel feedback').public_id}/"
        in page
    )


def test_seed_demo_refuses_without_the_sandbox(db, settings):
    settings.SANDBOX_ENABLED = False
    with pytest.raises(CommandError, match="SANDBOX_ENABLED"):
        run("seed_demo")
    assert Waba.objects.count() == 0


def test_create_user_makes_a_user_with_a_role_who_can_sign_in(client, db, django_user_model):
    output = run("create_user", "erin", role="Marketer", password="a sturdy passphrase 42")
    assert output.strip() == "Created erin as Marketer."
    erin = django_user_model.objects.get(username="erin")
    assert erin.has_perm("flowsadmin.change_flow") and not erin.has_perm("wabas.view_waba")
    assert client.login(username="erin", password="a sturdy passphrase 42")


def test_create_user_changes_the_role_of_an_existing_user(db, django_user_model):
    run("create_user", "erin", role="Marketer", password="a sturdy passphrase 42")
    assert run("create_user", "erin", role="Admin").strip() == "Updated erin as Admin."
    erin = django_user_model.objects.get(username="erin")
    assert list(erin.groups.values_list("name", flat=True)) == ["Admin"]


def test_create_user_refuses_a_weak_password(db, django_user_model):
    with pytest.raises(CommandError, match="too common"):
        run("create_user", "erin", role="Marketer", password="password")
    assert not django_user_model.objects.exists()


def test_create_user_refuses_an_unknown_role(db):
    with pytest.raises(CommandError, match="invalid choice"):
        run("create_user", "erin", role="Owner", password="a sturdy passphrase 42")


def test_roles_hold_exactly_their_permissions(db):
    for role, names in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert held == set(names)


def test_an_admin_adds_a_teammate_with_a_role_and_changes_it(admin_user, django_user_model):
    client = client_for(admin_user)
    response = client.post(
        reverse("users:list"),
        {
            "username": "frank",
            "password1": "a sturdy passphrase 42",
            "password2": "a sturdy passphrase 42",
            "role": "Campaign manager",
        },
    )
    assert response.status_code == 302
    frank = django_user_model.objects.get(username="frank")
    assert client.get(reverse("users:list")).content.decode().count("Campaign manager") >= 1
    client.post(reverse("users:role", args=[frank.pk]), {"role": "Marketer"})
    assert list(frank.groups.values_list("name", flat=True)) == ["Marketer"]


def test_an_admin_cannot_change_their_own_role(admin_user):
    client = client_for(admin_user)
    response = client.post(
        reverse("users:role", args=[admin_user.pk]), {"role": "Marketer"}, follow=True
    )
    assert "You cannot change your own role." in response.content.decode()
    assert list(admin_user.groups.values_list("name", flat=True)) == ["Admin"]


def test_adding_a_user_with_mismatched_passwords_shows_the_error(admin_user, django_user_model):
    response = client_for(admin_user).post(
        reverse("users:list"),
        {
            "username": "frank",
            "password1": "a sturdy passphrase 42",
            "password2": "different 42",
            "role": "Marketer",
        },
    )
    assert response.status_code == 200
    assert "The two password fields didn’t match." in response.content.decode()
    assert not django_user_model.objects.filter(username="frank").exists()


def test_seed_demo_adds_a_finished_demo_campaign_with_results_once(db, django_user_model):
    from django.test import Client

    from campaigns.models import Campaign
    from sandbox.models import Faults

    run("seed_demo")
    run("seed_demo")
    campaign = Campaign.objects.get()
    assert campaign.status == "COMPLETED" and campaign.recipients.count() == 8
    assert campaign.recipients.filter(completed_at__isnull=False).count() == 1
    client = Client()
    client.force_login(django_user_model.objects.get(username="campaigns"))
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "<span>Completed</span><strong>1</strong>" in page
    # Sent through the sandbox, six messages went sent -> delivered -> read; one could not be
    # delivered and Meta held one back, so the results show both.
    assert "<span>Delivered</span><strong>6</strong>" in page
    statuses = dict(campaign.recipients.values_list("whatsapp_id", "status"))
    assert (statuses["15555550000"], statuses["15555550107"]) == ("failed", "suppressed")
    # The sandbox's fault knobs are back as they were: the demo's phone works normally.
    faults = Faults.current()
    assert (faults.error_code, faults.error_code_rate, faults.error_code_to) == (None, 0, "")
    listing = client.get("/campaigns/").content.decode()
    assert "Demo: how was your stay?" in listing


def test_seed_demo_sends_the_demo_campaign_through_the_sandbox_once(db, django_user_model):
    from campaigns.models import Campaign
    from sandbox.models import Message

    run("seed_demo")
    run("seed_demo")
    campaign = Campaign.objects.get()
    recipients = list(campaign.recipients.order_by("whatsapp_id"))
    messages = {m.wamid: m for m in Message.objects.all()}
    # One message per demo number, sent once, with the wamid and flow token the recipient holds;
    # none to the number Meta held back, and the undeliverable one failed.
    held_back = [r for r in recipients if r.status == "suppressed"]
    assert [r.whatsapp_id for r in held_back] == ["15555550107"] and not held_back[0].wamid
    failed = [r for r in recipients if r.status == "failed"]
    assert [messages[r.wamid].status for r in failed] == ["failed"]
    recipients = [r for r in recipients if r not in held_back + failed]
    assert len(messages) == len(recipients) + 1 == 7
    for recipient in recipients:
        message = messages[recipient.wamid]
        assert message.to == recipient.whatsapp_id and recipient.flow_token
        assert recipient.flow_token in json.dumps(message.payload)
        assert message.status == "read" and recipient.status == "read"
    assert campaign.status == "COMPLETED"
    assert [r.whatsapp_id for r in recipients if r.completed_at] == ["15555550101"]
    # The sandbox phone's inbox shows the message to the demo number.
    admin = client_for(django_user_model.objects.get(username="admin"))
    page = admin.get(reverse("sandbox:inbox", args=["15555550101"])).content.decode()
    assert "Hi Ana, thank you for staying at Demo Hotel." in page and "Rate your stay" in page
