"""The permission matrix: every page, each role and an anonymous visitor."""

from __future__ import annotations

import pytest
from django.urls import reverse

from flowsadmin.models import Flow, FlowRevision
from wabas.models import KeyAccessLog, PhoneNumber, SelectedWaba, Waba

from .conftest import PASSWORD, client_for, make_waba

ALLOW, DENY, LOGIN = "allow", "deny", "login"

# (name, method, url, {role: expected}) — roles: admin, marketer, campaigns, norole, anonymous.
ADMIN_ONLY = {"admin": ALLOW, "marketer": DENY, "campaigns": DENY, "norole": DENY, "anon": LOGIN}
FLOW_EDITORS = {"admin": ALLOW, "marketer": ALLOW, "campaigns": DENY, "norole": DENY, "anon": LOGIN}
ANY_FLOW_ROLE = {
    "admin": ALLOW,
    "marketer": ALLOW,
    "campaigns": ALLOW,
    "norole": DENY,
    "anon": LOGIN,
}


def pages(waba: Waba) -> list[tuple[str, str, str, dict]]:
    phone = waba.phone_numbers.get()
    flow = Flow.objects.get_or_create(
        waba=waba, name="Hotel feedback", defaults={"flow_json": "{}"}
    )[0]
    FlowRevision.objects.get_or_create(flow=flow, number=1, defaults={"flow_json": "{}"})
    return [
        ("flows", "get", reverse("flows:list"), ANY_FLOW_ROLE),
        ("flow create", "get", reverse("flows:create"), FLOW_EDITORS),
        ("flow detail", "get", reverse("flows:detail", args=[flow.pk]), ANY_FLOW_ROLE),
        ("flow json", "get", reverse("flows:json", args=[flow.pk]), ANY_FLOW_ROLE),
        ("flow responses", "get", reverse("flows:responses", args=[flow.pk]), ANY_FLOW_ROLE),
        ("flow insights", "get", reverse("flows:insights", args=[flow.pk]), ANY_FLOW_ROLE),
        ("flow history", "get", reverse("flows:history", args=[flow.pk]), ANY_FLOW_ROLE),
        ("sandbox phone", "get", reverse("sandbox:phone", args=[flow.pk]), ANY_FLOW_ROLE),
        ("flow preview", "get", reverse("flows:preview", args=[flow.pk]), ANY_FLOW_ROLE),
        ("flow revision", "get", reverse("flows:revision", args=[flow.pk, 1]), ANY_FLOW_ROLE),
        ("sandbox", "get", reverse("sandbox:home"), ADMIN_ONLY),
        ("waba list", "get", reverse("wabas:list"), ADMIN_ONLY),
        ("waba add", "get", reverse("wabas:create"), ADMIN_ONLY),
        ("waba detail", "get", reverse("wabas:detail", args=[waba.pk]), ADMIN_ONLY),
        ("waba edit", "get", reverse("wabas:edit", args=[waba.pk]), ADMIN_ONLY),
        ("phone add", "get", reverse("wabas:phone_create", args=[waba.pk]), ADMIN_ONLY),
        ("phone edit", "get", reverse("wabas:phone_edit", args=[waba.pk, phone.pk]), ADMIN_ONLY),
        ("public key", "get", reverse("wabas:public_key", args=[waba.pk]), ADMIN_ONLY),
        ("key log", "get", reverse("wabas:key_access_log"), ADMIN_ONLY),
        ("users", "get", reverse("users:list"), ADMIN_ONLY),
        ("webhook deliveries", "get", reverse("wabas:webhook_list"), ADMIN_ONLY),
    ]


@pytest.fixture
def cast(admin_user, marketer, campaign_manager, no_role_user) -> dict:
    return {
        "admin": admin_user,
        "marketer": marketer,
        "campaigns": campaign_manager,
        "norole": no_role_user,
        "anon": None,
    }


@pytest.mark.parametrize("role", ["admin", "marketer", "campaigns", "norole", "anon"])
def test_every_page_answers_each_role_as_the_matrix_says(waba, cast, role):
    client = client_for(cast[role])
    for name, method, url, expected in pages(waba):
        response = getattr(client, method)(url)
        want = expected[role]
        if want == ALLOW:
            assert response.status_code == 200, (name, role, response.status_code)
        elif want == DENY:
            assert response.status_code == 403, (name, role, response.status_code)
            assert b"You can't open this page" in response.content
        else:
            assert response.status_code == 302, (name, role)
            assert response["Location"].startswith(reverse("login") + "?next="), name


def test_health_check_needs_no_login(client, db):
    assert client.get(reverse("healthz")).status_code == 200


def test_login_and_logout_pages_work(client, admin_user):
    page = client.get(reverse("login"))
    assert b'<label for="id_username">Username</label>' in page.content
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("flows:list")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("flows:list")).status_code == 302


def test_a_wrong_login_is_refused_with_a_message(client, admin_user):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_navigation_shows_only_what_the_role_may_use(waba, admin_user, marketer):
    admin_page = client_for(admin_user).get(reverse("flows:list")).content.decode()
    marketer_page = client_for(marketer).get(reverse("flows:list")).content.decode()
    assert f'href="{reverse("wabas:list")}"' in admin_page
    assert f'href="{reverse("wabas:list")}"' not in marketer_page
    assert f'href="{reverse("flows:list")}"' in marketer_page


def test_keys_panel_is_on_the_flows_listing_for_admins_only(
    waba, admin_user, marketer, campaign_manager
):
    fingerprint = waba.key_pair.fingerprint
    assert fingerprint in client_for(admin_user).get(reverse("flows:list")).content.decode()
    for user in (marketer, campaign_manager):
        page = client_for(user).get(reverse("flows:list")).content.decode()
        assert fingerprint not in page
        assert "BEGIN PUBLIC KEY" not in page


# --- POSTs sent directly by users without the role change nothing -------------------------------


@pytest.mark.parametrize("role", ["marketer", "campaigns", "norole"])
def test_a_waba_post_without_the_role_is_refused_and_changes_nothing(waba, cast, role):
    client = client_for(cast[role])
    form = {
        "name": "Hijacked",
        "meta_waba_id": "999999999",
        "graph_base_url": "https://evil.example",
        "graph_api_version": "v23.0",
        "access_token": "x" * 20,
        "app_secret": "y" * 20,
        "webhook_verify_token": "z" * 20,
    }
    assert client.post(reverse("wabas:create"), form).status_code == 403
    assert client.post(reverse("wabas:edit", args=[waba.pk]), form).status_code == 403
    phone_form = {"meta_phone_number_id": "123456789", "display_phone_number": "+1 555 0199"}
    assert client.post(reverse("wabas:phone_create", args=[waba.pk]), phone_form).status_code == 403
    assert client.post(reverse("wabas:connect", args=[waba.pk])).status_code == 403
    assert client.post(reverse("wabas:keys_register", args=[waba.pk])).status_code == 403
    response = client.post(
        reverse("wabas:private_key", args=[waba.pk]), {"password": PASSWORD, "action": "reveal"}
    )
    assert response.status_code == 403
    assert "PRIVATE KEY" not in response.content.decode()
    waba.refresh_from_db()
    assert waba.name == "Hotel Azul"
    assert Waba.objects.count() == 1
    assert PhoneNumber.objects.count() == 1
    assert KeyAccessLog.objects.count() == 0


@pytest.mark.parametrize("role", ["marketer", "campaigns", "norole"])
def test_user_management_posts_without_the_role_are_refused(
    cast, role, admin_user, django_user_model
):
    client = client_for(cast[role])
    form = {
        "username": "mallory",
        "password1": "a long pass 123!",
        "password2": "a long pass 123!",
        "role": "Admin",
    }
    assert client.post(reverse("users:list"), form).status_code == 403
    assert (
        client.post(reverse("users:role", args=[admin_user.pk]), {"role": "Marketer"}).status_code
        == 403
    )
    assert not django_user_model.objects.filter(username="mallory").exists()
    assert list(admin_user.groups.values_list("name", flat=True)) == ["Admin"]


def test_anonymous_posts_are_sent_to_login_and_change_nothing(waba, client):
    response = client.post(reverse("wabas:switch"), {"waba": waba.pk})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert SelectedWaba.objects.count() == 0


def test_users_without_a_role_cannot_switch_wabas(waba, no_role_user):
    other = make_waba(name="Other", meta_waba_id="55555555")
    response = client_for(no_role_user).post(reverse("wabas:switch"), {"waba": other.pk})
    assert response.status_code == 403
    assert SelectedWaba.objects.count() == 0


def test_csrf_is_enforced_on_posts(waba, admin_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(reverse("wabas:private_key", args=[waba.pk]), {"password": PASSWORD})
    assert response.status_code == 403
    assert KeyAccessLog.objects.count() == 0
