"""Adding and editing WABAs and phone numbers: what an admin sees, and what bad input does."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from wabas.models import KeyPair, PhoneNumber, SelectedWaba, Waba

from .conftest import client_for, make_waba

GOOD = {
    "name": "Casa Verde",
    "meta_waba_id": "104996122399160",
    "graph_base_url": "https://graph.facebook.com",
    "graph_api_version": "v23.0",
    "access_token": "EAAJb3ZCcZBZCsBAOtokenvalue9876",
    "app_secret": "0f3c2b1a9e8d7c6b5a4f3e2d1c0b9a88",
    "webhook_verify_token": "casa-verde-verify-2026",
}


def test_an_admin_adds_a_waba_and_gets_its_key_pair(admin_user):
    client = client_for(admin_user)
    response = client.post(reverse("wabas:create"), GOOD)
    waba = Waba.objects.get(meta_waba_id=GOOD["meta_waba_id"])
    assert response.status_code == 302
    assert response["Location"] == reverse("wabas:detail", args=[waba.pk])
    assert KeyPair.objects.filter(waba=waba).count() == 1
    assert waba.key_pair.public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    page = client.get(response["Location"]).content.decode()
    assert "added, with a new encryption key pair" in page
    assert waba.key_pair.fingerprint in page
    # The new WABA becomes the one the admin works in.
    assert SelectedWaba.objects.get(user=admin_user).waba == waba


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("meta_waba_id", "", "This field is required."),
        ("meta_waba_id", "12ab34", "Meta ids are numbers, 5 to 25 digits long."),
        ("meta_waba_id", "123", "Meta ids are numbers, 5 to 25 digits long."),
        ("access_token", "EAAJb3 ZCcZBZ CsBAO", "This has spaces or line breaks inside it"),
        ("access_token", "EAAJb3\nZCcZBZ", "This has spaces or line breaks inside it"),
        ("graph_base_url", "ftp://graph.facebook.com", "Enter a valid URL."),
        ("graph_base_url", "javascript:alert(1)", "Enter a valid URL."),
        ("graph_api_version", "23", "Write the Graph API version like v23.0."),
        ("app_secret", "", "This field is required."),
        ("time_zone", "Mars/Olympus", "Select a valid choice."),
    ],
)
def test_bad_waba_input_gets_a_field_error_and_saves_nothing(admin_user, field, value, message):
    response = client_for(admin_user).post(reverse("wabas:create"), GOOD | {field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Waba.objects.count() == 0
    assert KeyPair.objects.count() == 0


def test_the_accounts_time_zone_is_where_new_campaigns_are_scheduled(
    admin_user, campaign_manager, waba
):
    """Set on the account's edit page; a new campaign's schedule starts in it, and an account
    saved without one keeps its own (UTC for a new one)."""
    assert waba.time_zone == "UTC"
    edit = reverse("wabas:edit", args=[waba.pk])
    data = GOOD | {"meta_waba_id": waba.meta_waba_id, "time_zone": "Europe/Madrid"}
    assert client_for(admin_user).post(edit, data).status_code == 302
    waba.refresh_from_db()
    assert waba.time_zone == "Europe/Madrid"
    page = client_for(admin_user).get(reverse("wabas:detail", args=[waba.pk])).content.decode()
    assert "Europe/Madrid" in page

    form = client_for(campaign_manager).get(reverse("campaigns:create")).content.decode()
    assert '<option value="Europe/Madrid" selected>Europe/Madrid</option>' in form

    del data["time_zone"]
    client_for(admin_user).post(edit, data)
    waba.refresh_from_db()
    assert waba.time_zone == "Europe/Madrid"


def test_a_duplicate_meta_waba_id_is_refused(admin_user, waba):
    response = client_for(admin_user).post(
        reverse("wabas:create"), GOOD | {"meta_waba_id": waba.meta_waba_id}
    )
    assert "WABA with this Meta WABA id already exists." in response.content.decode()
    assert Waba.objects.count() == 1


def test_secrets_are_never_shown_back_in_full(admin_user, waba):
    client = client_for(admin_user)
    for url in (reverse("wabas:detail", args=[waba.pk]), reverse("wabas:edit", args=[waba.pk])):
        page = client.get(url).content.decode()
        for secret in (waba.access_token, waba.app_secret, waba.webhook_verify_token):
            assert secret not in page
            assert secret[:-4] not in page
        assert "••••" + waba.access_token[-4:] in page


def test_editing_with_blank_secrets_keeps_the_stored_ones(admin_user, waba):
    form = GOOD | {
        "meta_waba_id": waba.meta_waba_id,
        "access_token": "",
        "app_secret": "",
        "webhook_verify_token": "",
    }
    response = client_for(admin_user).post(reverse("wabas:edit", args=[waba.pk]), form)
    assert response.status_code == 302
    fresh = Waba.objects.get(pk=waba.pk)
    assert fresh.name == "Casa Verde"
    assert fresh.access_token == waba.access_token
    assert fresh.app_secret == waba.app_secret


def test_editing_a_secret_replaces_it(admin_user, waba):
    form = GOOD | {"meta_waba_id": waba.meta_waba_id, "app_secret": "", "webhook_verify_token": ""}
    client_for(admin_user).post(reverse("wabas:edit", args=[waba.pk]), form)
    assert Waba.objects.get(pk=waba.pk).access_token == GOOD["access_token"]


def test_the_base_url_loses_its_trailing_slash(admin_user):
    client_for(admin_user).post(
        reverse("wabas:create"), GOOD | {"graph_base_url": "http://127.0.0.1:8000/sandbox/graph/"}
    )
    assert Waba.objects.get().graph_base_url == "http://127.0.0.1:8000/sandbox/graph"


def test_raw_sql_finds_no_secret_or_private_key_in_plain_text(waba):
    secrets = [waba.access_token, waba.app_secret, waba.webhook_verify_token]
    private_body = waba.key_pair.private_pem.splitlines()[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, app_secret, webhook_verify_token FROM wabas_waba")
        stored_waba = " ".join(cursor.fetchone())
        cursor.execute("SELECT private_pem, public_pem FROM wabas_keypair")
        stored_private, stored_public = cursor.fetchone()
    for secret in secrets:
        assert secret not in stored_waba
    assert "PRIVATE KEY" not in stored_private
    assert private_body not in stored_private
    # The public key is public: it is stored as it is, so it can be shown without decryption.
    assert stored_public == waba.key_pair.public_pem


def test_an_admin_adds_and_edits_a_phone_number(admin_user, waba):
    client = client_for(admin_user)
    form = {
        "meta_phone_number_id": "113004235026470",
        "display_phone_number": "+44 20 7946 0958",
        "verified_name": "Hotel Azul London",
        "quality_rating": "YELLOW",
        "throughput_mps": "250",
    }
    assert client.post(reverse("wabas:phone_create", args=[waba.pk]), form).status_code == 302
    phone = PhoneNumber.objects.get(meta_phone_number_id="113004235026470")
    assert phone.waba == waba and phone.throughput_mps == 250
    assert phone.key_status == PhoneNumber.KeyStatus.PENDING
    client.post(
        reverse("wabas:phone_edit", args=[waba.pk, phone.pk]), form | {"quality_rating": "GREEN"}
    )
    phone.refresh_from_db()
    assert phone.quality_rating == "GREEN"
    page = client.get(reverse("wabas:detail", args=[waba.pk])).content.decode()
    assert "+44 20 7946 0958" in page and "250 msg/s" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("meta_phone_number_id", "", "This field is required."),
        ("meta_phone_number_id", "phone-1", "Meta ids are numbers"),
        ("display_phone_number", "call me", "Write the number like +1 555 0100."),
        ("throughput_mps", "-5", "Ensure this value is greater than or equal to 0."),
        ("quality_rating", "PURPLE", "Select a valid choice."),
    ],
)
def test_bad_phone_number_input_gets_a_field_error(admin_user, waba, field, value, message):
    form = {
        "meta_phone_number_id": "113004235026470",
        "display_phone_number": "+44 20 7946 0958",
        "quality_rating": "GREEN",
        "throughput_mps": "80",
    } | {field: value}
    response = client_for(admin_user).post(reverse("wabas:phone_create", args=[waba.pk]), form)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert PhoneNumber.objects.count() == 1


def test_a_phone_of_another_waba_is_not_found_through_this_one(admin_user, waba):
    other = make_waba(name="Other", meta_waba_id="55555555")
    phone = waba.phone_numbers.get()
    response = client_for(admin_user).get(reverse("wabas:phone_edit", args=[other.pk, phone.pk]))
    assert response.status_code == 404
    assert b"Nothing here" in response.content


def test_the_waba_switcher_remembers_the_choice_per_user(admin_user, marketer, waba):
    other = make_waba(name="Other Hotel", meta_waba_id="55555555")
    client = client_for(marketer)
    response = client.post(
        reverse("wabas:switch"), {"waba": other.pk, "next": reverse("flows:list")}
    )
    assert response["Location"] == reverse("flows:list")
    assert "Flows · Other Hotel" in client.get(reverse("flows:list")).content.decode()
    # Another user still sees the first WABA, and a new session of the same user remembers.
    assert (
        "Flows · Hotel Azul" in client_for(admin_user).get(reverse("flows:list")).content.decode()
    )
    assert "Flows · Other Hotel" in client_for(marketer).get(reverse("flows:list")).content.decode()


def test_the_switcher_never_redirects_off_site(marketer, waba):
    response = client_for(marketer).post(
        reverse("wabas:switch"), {"waba": waba.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("home")
