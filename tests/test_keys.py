"""Encryption keys: made once per WABA, never changed, the private half revealed only with a password."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from wabas.crypto import DecryptionError, public_key_fingerprint
from wabas.models import KeyAccessLog, KeyPair, KeyPairImmutable, Waba

from .conftest import PASSWORD, client_for, make_waba


def reveal(client, waba, password, action="reveal", **extra):
    return client.post(
        reverse("wabas:private_key", args=[waba.pk]),
        {"password": password, "action": action},
        HTTP_USER_AGENT="pytest-browser/1.0",
        REMOTE_ADDR="203.0.113.7",
        **extra,
    )


def test_the_key_pair_is_rsa_2048_and_its_halves_match(waba):
    pair = waba.key_pair
    private = serialization.load_pem_private_key(pair.private_pem.encode(), password=None)
    assert private.key_size == 2048
    public_from_private = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_from_private.decode() == pair.public_pem
    assert pair.fingerprint == public_key_fingerprint(pair.public_pem)
    assert len(pair.fingerprint.split(":")) == 32


def test_each_waba_gets_its_own_key_pair(waba):
    other = make_waba(name="Other", meta_waba_id="55555555")
    assert other.key_pair.public_pem != waba.key_pair.public_pem


def test_a_key_pair_cannot_be_changed_through_the_model(waba):
    pair = KeyPair.objects.get(waba=waba)
    original = pair.public_pem
    pair.public_pem = "-----BEGIN PUBLIC KEY-----\nforged\n-----END PUBLIC KEY-----\n"
    with pytest.raises(KeyPairImmutable):
        pair.save()
    with pytest.raises(KeyPairImmutable):
        KeyPair.objects.filter(waba=waba).update(public_pem="forged")
    assert KeyPair.objects.get(waba=waba).public_pem == original


def test_a_second_key_pair_for_the_same_waba_is_refused(waba):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        KeyPair.generate_for(waba)
    assert KeyPair.objects.filter(waba=waba).count() == 1


def test_the_waba_form_ignores_key_fields(admin_user, waba):
    before = (waba.key_pair.public_pem, waba.key_pair.private_pem)
    response = client_for(admin_user).post(
        reverse("wabas:edit", args=[waba.pk]),
        {
            "name": "Hotel Azul",
            "meta_waba_id": waba.meta_waba_id,
            "graph_base_url": waba.graph_base_url,
            "graph_api_version": "v23.0",
            "public_pem": "forged",
            "private_pem": "forged",
            "key_pair": "forged",
        },
    )
    assert response.status_code == 302
    pair = KeyPair.objects.get(waba=waba)
    assert (pair.public_pem, pair.private_pem) == before


def test_the_public_key_downloads_as_pem(admin_user, waba):
    response = client_for(admin_user).get(reverse("wabas:public_key", args=[waba.pk]))
    assert response["Content-Type"] == "application/x-pem-file"
    assert 'filename="waba-102290129340398-public.pem"' in response["Content-Disposition"]
    assert response.content.decode() == waba.key_pair.public_pem


def test_the_private_key_is_masked_until_revealed(admin_user, waba):
    page = client_for(admin_user).get(reverse("wabas:detail", args=[waba.pk])).content.decode()
    assert waba.key_pair.public_pem.splitlines()[1] in page
    assert waba.key_pair.private_pem.splitlines()[1] not in page
    assert "Reveal private key" in page


def test_the_right_password_reveals_the_private_key_and_is_audited(admin_user, waba):
    response = reveal(client_for(admin_user), waba, PASSWORD, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert waba.key_pair.private_pem in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")
    entry = KeyAccessLog.objects.get()
    assert (entry.user, entry.username, entry.action, entry.succeeded) == (
        admin_user,
        "alice",
        "reveal",
        True,
    )
    assert entry.ip_address == "203.0.113.7"
    assert entry.user_agent == "pytest-browser/1.0"


def test_without_htmx_the_reveal_shows_the_whole_page(admin_user, waba):
    response = reveal(client_for(admin_user), waba, PASSWORD)
    page = response.content.decode()
    assert "<html" in page and waba.key_pair.private_pem in page


def test_the_private_key_downloads_with_the_password(admin_user, waba):
    response = reveal(client_for(admin_user), waba, PASSWORD, action="download")
    assert 'filename="waba-102290129340398-private.pem"' in response["Content-Disposition"]
    assert response.content.decode() == waba.key_pair.private_pem
    assert KeyAccessLog.objects.get().action == "download"


@pytest.mark.parametrize("password", ["wrong", "", PASSWORD.upper()])
def test_a_wrong_password_is_refused_logged_and_shows_no_key(admin_user, waba, password):
    response = reveal(client_for(admin_user), waba, password)
    page = response.content.decode()
    assert (
        "That is not your password. The key stays hidden." in page
        or "This field is required." in page
    )
    assert waba.key_pair.private_pem.splitlines()[1] not in page
    entry = KeyAccessLog.objects.get()
    assert entry.succeeded is False and entry.username == "alice"


def test_a_wrong_password_download_sends_no_file(admin_user, waba):
    response = reveal(client_for(admin_user), waba, "wrong", action="download")
    assert "Content-Disposition" not in response
    assert KeyAccessLog.objects.get().succeeded is False


def test_five_wrong_passwords_lock_reveals_even_with_the_right_one(admin_user, waba):
    client = client_for(admin_user)
    for _ in range(5):
        reveal(client, waba, "wrong")
    response = reveal(client, waba, PASSWORD)
    page = response.content.decode()
    assert "Too many wrong passwords. Try again in 15 minutes." in page
    assert waba.key_pair.private_pem.splitlines()[1] not in page
    assert KeyAccessLog.objects.filter(succeeded=True).count() == 0
    # The log says why: the last password was right, so "wrong password" would be untrue.
    log = client.get(reverse("wabas:key_access_log")).content.decode()
    assert log.count("Refused: wrong password") == 5
    assert log.count("Refused: too many wrong passwords") == 1
    assert "Revealed" not in log and log.count("Tried to reveal") == 6


def test_admins_read_the_key_access_log(admin_user, waba):
    client = client_for(admin_user)
    reveal(client, waba, "wrong")
    reveal(client, waba, PASSWORD)
    page = client.get(reverse("wabas:key_access_log")).content.decode()
    assert page.count("alice") >= 2
    assert "Refused: wrong password" in page and "Allowed" in page
    assert "203.0.113.7" in page


# --- FIELD_ENCRYPTION_KEYS rotation ------------------------------------------------------------


def test_rotating_keys_keeps_every_secret_readable(settings, waba):
    old_keys = settings.FIELD_ENCRYPTION_KEYS
    new_key = Fernet.generate_key()
    token, private_pem = waba.access_token, waba.key_pair.private_pem

    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, *old_keys]):
        fresh = Waba.objects.select_related("key_pair").get(pk=waba.pk)
        assert fresh.access_token == token
        assert fresh.key_pair.private_pem == private_pem
        # New writes use the new key, and old rows stay readable beside them.
        newer = make_waba(
            name="Newer", meta_waba_id="77777777", access_token="newer-token-value-1234"
        )
        call_command("rotate_field_keys", verbosity=0)

    # After the rotation the old key can go: everything opens with the new key alone.
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):
        assert Waba.objects.get(pk=waba.pk).access_token == token
        assert KeyPair.objects.get(waba=waba).private_pem == private_pem
        assert Waba.objects.get(pk=newer.pk).access_token == "newer-token-value-1234"


def test_a_key_that_did_not_encrypt_the_data_fails_with_a_clear_error(waba):
    with override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key()]):
        with pytest.raises(DecryptionError, match="FIELD_ENCRYPTION_KEYS"):
            Waba.objects.get(pk=waba.pk)
        from wabas.checks import check_field_encryption_keys

        errors = check_field_encryption_keys(databases=["default"])
        assert [e.id for e in errors] == ["wabas.E001"]
        assert "FIELD_ENCRYPTION_KEYS" in errors[0].msg
