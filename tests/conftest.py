"""The fixed cast: one user per role, a WABA with its key pair and phone number, flows."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.roles import ADMIN, CAMPAIGN_MANAGER, MARKETER
from flowsadmin.models import Flow
from wabas.models import PhoneNumber, Waba
from wabas.services import create_waba

from .meta_client import MetaPhone

WEBHOOK_URL = "/meta/webhook/"


def post_webhook(client: Client, waba: Waba, body: bytes):
    """A webhook body posted as Meta posts it: JSON, signed with the WABA's app secret."""
    from wabas.crypto import hub_signature

    return client.post(
        WEBHOOK_URL,
        body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=hub_signature(body, waba.app_secret),
    )


PASSWORD = "correct horse battery staple"


def make_user(django_user_model: object, username: str, role: str | None) -> object:
    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin_user(django_user_model: object) -> object:
    return make_user(django_user_model, "alice", ADMIN)


@pytest.fixture
def marketer(django_user_model: object) -> object:
    return make_user(django_user_model, "bob", MARKETER)


@pytest.fixture
def campaign_manager(django_user_model: object) -> object:
    return make_user(django_user_model, "charlie", CAMPAIGN_MANAGER)


@pytest.fixture
def no_role_user(django_user_model: object) -> object:
    return make_user(django_user_model, "dave", None)


def make_waba(**overrides: object) -> Waba:
    fields = {
        "name": "Hotel Azul",
        "meta_waba_id": "102290129340398",
        "graph_base_url": "http://127.0.0.1:8000/sandbox/graph",
        "graph_api_version": "v23.0",
        "access_token": "EAAGm0PX4ZCpsBAKZAbCdEfGhIjKlMnOpQr",
        "app_secret": "b1946ac92492d2347c6235b4d2611184",
        "webhook_verify_token": "verify-me-please-123",
    } | overrides
    return create_waba(Waba(**fields))


@pytest.fixture
def waba(db: None) -> Waba:
    waba = make_waba()
    PhoneNumber.objects.create(
        waba=waba,
        meta_phone_number_id="106540352242922",
        display_phone_number="+1 555 0100",
        verified_name="Hotel Azul",
    )
    return waba


@pytest.fixture
def flow(waba: Waba, marketer: object) -> Flow:
    return Flow.objects.create(waba=waba, name="Hotel feedback", created_by=marketer)


def send_to_endpoint(
    phone: object, flow: Flow, request: dict, client: Client | None = None
) -> tuple[int, dict]:
    """Seal a request as Meta does (tests/meta_client.py), POST it to the flow's hosted endpoint and
    decrypt the answer; returns (HTTP status, decrypted answer)."""
    sealed = phone.seal(request)
    response = (client or Client()).post(
        f"/meta/flows/{flow.public_id}/",
        sealed.body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sealed.signature,
    )
    assert response["Content-Type"].startswith("text/plain")
    return response.status_code, sealed.open(response.content)


@pytest.fixture
def fresh_endpoint_caches() -> object:
    """The endpoint keeps flows, private keys and the problems it wrote lately per process: each test
    starts and ends without them."""
    from exchange import cache, handling

    cache.private_key.cache_clear()
    cache.forget_hosted_flows()
    handling.forget_recorded_problems()
    yield
    cache.private_key.cache_clear()
    cache.forget_hosted_flows()
    handling.forget_recorded_problems()


@pytest.fixture
def bus_flow(waba: Waba) -> Flow:
    """The bus booking example, published, on the hosted endpoint."""
    from .endpoint_support import BUS

    return Flow.objects.create(
        waba=waba, name="Bus booking", flow_json=BUS, status="PUBLISHED", meta_flow_id="5550001"
    )


@pytest.fixture
def phone(waba: Waba) -> MetaPhone:
    """Meta's side of the endpoint for the `waba` fixture: seals requests, opens answers."""

    return MetaPhone(waba.key_pair.public_pem, waba.app_secret)


def client_for(user: object | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture(scope="session", autouse=True)
def collected_static(django_db_blocker: object) -> None:
    """Tests run with production's static storage (hashed names, whitenoise), so collect first."""
    from django.core.management import call_command

    call_command("collectstatic", "--no-input", verbosity=0)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: object) -> None:
    # PBKDF2's deliberate slowness costs a quarter second per user; the tests are about roles.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


from .browser import browser, served_static  # noqa: E402, F401  (fixtures for browser tests)
from .fake_meta import fake_meta_server  # noqa: E402, F401  (the Graph client's stand-in Meta)
from .sandbox_support import graph, recorder  # noqa: E402, F401  (fixtures for sandbox Meta tests)


@pytest.fixture
def sandbox_waba(live_server: object, transactional_db: None) -> Waba:
    """A WABA whose Graph API is the sandbox on the live server, its key registered there."""
    from sandbox.services import ensure_account, set_faults

    waba = make_waba(graph_base_url=f"{live_server.url}/sandbox/graph")
    phone = PhoneNumber.objects.create(
        waba=waba, meta_phone_number_id="106540352242922", display_phone_number="+1 555 0100"
    )
    ensure_account(
        waba_id=waba.meta_waba_id,
        name=waba.name,
        access_token=waba.access_token,
        app_secret=waba.app_secret,
        webhook_url=f"{live_server.url}/meta/webhook/",
        phone_numbers=[(phone.meta_phone_number_id, phone.display_phone_number, "Hotel Azul")],
    )
    set_faults()
    from wabas.graph import GraphClient

    client = GraphClient.for_waba(waba)
    client.set_business_public_key(phone.meta_phone_number_id, waba.key_pair.public_pem)
    client.session.close()
    return waba


from .campaign_sending_support import campaign_template, fresh_limiter  # noqa: E402, F401  (fixtures)
from .campaign_support import hotel_flow, people, sendable  # noqa: E402, F401  (fixtures)
from .template_helpers import meta_flow, meta_waba, published_flow  # noqa: E402, F401
