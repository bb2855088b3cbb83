"""A text field whose value is encrypted at rest with FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.db import models

from .crypto import FieldCipher


@cache
def field_cipher() -> FieldCipher:
    return FieldCipher(settings.FIELD_ENCRYPTION_KEYS)


def forget_cipher(*, setting: str, **kwargs: object) -> None:
    """Tests that change FIELD_ENCRYPTION_KEYS get a cipher with the new keys (connected in apps.py)."""
    if setting == "FIELD_ENCRYPTION_KEYS":
        field_cipher.cache_clear()


class EncryptedTextField(models.TextField):
    """Holds a Fernet token in the database and the plain text in Python.

    Tokens are random, so the column can't be searched or made unique: look rows up by other fields.
    """

    def from_db_value(
        self, value: str | None, expression: object, connection: object
    ) -> str | None:
        if value is None or value == "":
            return value
        return field_cipher().decrypt(value)

    def get_prep_value(self, value: object) -> str | None:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return field_cipher().encrypt(value)
