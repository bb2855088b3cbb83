"""Operator commands: seed_demo and create_user."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse

from flowsadmin.models import Flow
from flowsadmin.roles import ROLE_PERMISSIONS
from wabas.models import KeyPair, PhoneNumber, Waba

from .conftest import client_for


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
    assert set(Flow.objects.values_list("status", flat=True)) == {"DRAFT"}
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
