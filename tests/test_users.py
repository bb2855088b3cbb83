"""Settings › Users: the new-user form's default role, deactivating a teammate, setting a new password."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from .browser import screenshot, sign_in, wait
from .conftest import PASSWORD, client_for

NEW_PASSWORD = "Harbour lights 2031!"


def signed_in(username: str, password: str = PASSWORD) -> Client:
    """A client that signed in through the login page, as a person does."""
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": password})
    assert response.status_code == 302, "the sign-in was refused"
    return client


def can_sign_in(username: str, password: str) -> bool:
    return (
        Client().post(reverse("login"), {"username": username, "password": password}).status_code
        == 302
    )


def test_the_new_user_form_starts_on_the_least_powerful_role(admin_user):
    page = client_for(admin_user).get(reverse("users:list"))
    form = page.context["form"]
    assert form["role"].value() == "Marketer"
    html = page.content.decode()
    select = html.split('name="role" id="id_role"')[1].split("</select>")[0]
    assert '<option value="Marketer" selected>' in select
    # Least powerful first, Admin last.
    assert select.index("Marketer") < select.index("Campaign manager") < select.index("Admin")


def test_an_admin_deactivates_a_teammate_who_is_signed_out_and_cannot_sign_in(admin_user, marketer):
    bobs_session = signed_in("bob")
    assert bobs_session.get(reverse("flows:list")).status_code == 200

    response = client_for(admin_user).post(
        reverse("users:active", args=[marketer.pk]), {"active": "false"}, follow=True
    )

    assert "bob is deactivated and can&#x27;t sign in." in response.content.decode()
    marketer.refresh_from_db()
    assert not marketer.is_active
    # The page bob had open now sends him to sign in, and signing in is refused.
    answer = bobs_session.get(reverse("flows:list"))
    assert answer.status_code == 302 and answer["Location"].startswith(reverse("login"))
    assert not can_sign_in("bob", PASSWORD)
    listing = client_for(admin_user).get(reverse("users:list")).content.decode()
    assert "Deactivated" in listing

    client_for(admin_user).post(reverse("users:active", args=[marketer.pk]), {"active": "true"})
    assert can_sign_in("bob", PASSWORD)


def test_an_admin_cannot_deactivate_themselves(admin_user):
    response = client_for(admin_user).post(
        reverse("users:active", args=[admin_user.pk]), {"active": "false"}, follow=True
    )
    assert "You cannot deactivate yourself." in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_an_admin_sets_a_new_password_and_the_old_one_and_its_sessions_stop_working(
    admin_user, marketer
):
    bobs_session = signed_in("bob")

    response = client_for(admin_user).post(
        reverse("users:detail", args=[marketer.pk]),
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    assert "bob has a new password; their sessions ended." in response.content.decode()
    assert can_sign_in("bob", NEW_PASSWORD) and not can_sign_in("bob", PASSWORD)
    assert bobs_session.get(reverse("flows:list")).status_code == 302
    # The admin who did it stays signed in.
    assert response.status_code == 200 and response.redirect_chain[-1][0].endswith(
        reverse("users:detail", args=[marketer.pk])
    )


@pytest.mark.parametrize(
    ("first", "second", "error"),
    [
        (NEW_PASSWORD, NEW_PASSWORD + "x", "The two password fields didn’t match."),
        ("short1", "short1", "This password is too short."),
        ("", "", "This field is required."),
    ],
)
def test_a_new_password_that_fails_the_rules_is_refused_and_nothing_changes(
    admin_user, marketer, first, second, error
):
    response = client_for(admin_user).post(
        reverse("users:detail", args=[marketer.pk]),
        {"new_password1": first, "new_password2": second},
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    assert can_sign_in("bob", PASSWORD)


@pytest.mark.parametrize("role", ["marketer", "campaign_manager", "no_role_user"])
def test_only_admins_manage_users(request, role, admin_user):
    client = client_for(request.getfixturevalue(role))
    assert client.get(reverse("users:detail", args=[admin_user.pk])).status_code == 403
    assert (
        client.post(reverse("users:active", args=[admin_user.pk]), {"active": "false"}).status_code
        == 403
    )
    assert (
        client.post(
            reverse("users:detail", args=[admin_user.pk]),
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        ).status_code
        == 403
    )
    admin_user.refresh_from_db()
    assert admin_user.is_active and can_sign_in("alice", PASSWORD)


def test_an_unknown_user_is_a_404(admin_user):
    client = client_for(admin_user)
    assert client.get(reverse("users:detail", args=[999999])).status_code == 404
    assert (
        client.post(reverse("users:active", args=[999999]), {"active": "false"}).status_code == 404
    )


def test_an_admin_manages_a_teammate_in_the_browser(live_server, browser, admin_user, marketer):
    base = live_server.url
    sign_in(browser, base, "alice")
    browser.get(base + reverse("users:list"))
    role = Select(browser.find_element(By.ID, "id_role"))
    assert role.first_selected_option.text == "Marketer"
    for width in (1280, 400):
        browser.set_window_size(width, 1400)
        screenshot(browser, f"users-list-{width}.png")

    browser.set_window_size(1280, 1000)
    browser.find_element(By.LINK_TEXT, "bob").click()
    browser.find_element(By.XPATH, "//button[normalize-space()='Deactivate bob']").click()
    wait(browser).until(
        EC.text_to_be_present_in_element((By.TAG_NAME, "main"), "bob is deactivated")
    )
    assert browser.find_element(By.CSS_SELECTOR, "h1 .badge").text == "Deactivated"
    # An empty new password is stopped by the browser (required fields), nothing is sent.
    browser.find_element(By.XPATH, "//button[normalize-space()='Set password']").click()
    field = browser.find_element(By.ID, "id_new_password1")
    assert field.get_property("validationMessage")
    for width in (1280, 400):
        browser.set_window_size(width, 1400)
        screenshot(browser, f"users-detail-{width}.png")
    marketer.refresh_from_db()
    assert not marketer.is_active and marketer.check_password(PASSWORD)
