"""Start-up check: the configured FIELD_ENCRYPTION_KEYS can read the secrets already stored."""

from __future__ import annotations

from django.core.checks import Error, Tags, register
from django.db import DatabaseError, connection

from .crypto import DecryptionError
from .fields import field_cipher

# One stored token per encrypted table is enough: all of them were written with the same key list.
_SAMPLES = [
    ("wabas_waba", "access_token"),
    ("wabas_keypair", "private_pem"),
]


def unreadable_secret() -> str | None:
    """Name the first table whose stored secret the current keys cannot decrypt, if any."""
    for table, column in _SAMPLES:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {column} FROM {table} WHERE {column} <> '' LIMIT 1")  # noqa: S608
                row = cursor.fetchone()
        except DatabaseError:
            return None  # not migrated yet, or no database: nothing stored to read
        if row is None:
            continue
        try:
            field_cipher().decrypt(row[0])
        except DecryptionError:
            return table
    return None


# Tagged "database": it runs with `migrate` and `check --database default`, and at web server start
# (flowsadmin/wsgi.py), but not on every management command.
@register(Tags.database)
def check_field_encryption_keys(
    app_configs: object = None, databases: list[str] | None = None, **kwargs: object
) -> list[Error]:
    if not databases:
        return []
    table = unreadable_secret()
    if table is None:
        return []
    return [
        Error(
            f"FIELD_ENCRYPTION_KEYS cannot decrypt the secrets stored in {table}.",
            hint="The key that encrypted them is missing: list the new key first and the old one after it.",
            id="wabas.E001",
        )
    ]
