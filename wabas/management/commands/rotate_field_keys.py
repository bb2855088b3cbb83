from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from wabas.fields import EncryptedTextField, field_cipher
from wabas.models import KeyPair, Waba


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS. "
        "Run it after putting a new key first; then the old keys can be removed."
    )

    def handle(self, **options: object) -> None:
        cipher = field_cipher()
        total = 0
        with transaction.atomic():
            for model in (Waba, KeyPair):
                columns = [
                    f.column for f in model._meta.fields if isinstance(f, EncryptedTextField)
                ]
                table = connection.ops.quote_name(model._meta.db_table)
                with connection.cursor() as cursor:
                    # Raw SQL: the tokens are rotated as they are, without passing through the model
                    # (KeyPair refuses every save after creation, on purpose).
                    cursor.execute(f"SELECT id, {', '.join(columns)} FROM {table}")  # noqa: S608
                    rows = cursor.fetchall()
                    for pk, *tokens in rows:
                        rotated = [cipher.rotate(t) if t else t for t in tokens]
                        assignments = ", ".join(f"{c} = %s" for c in columns)
                        cursor.execute(
                            f"UPDATE {table} SET {assignments} WHERE id = %s",  # noqa: S608
                            [*rotated, pk],
                        )
                total += len(rows)
        self.stdout.write(f"Re-encrypted the secrets of {total} rows with the newest key.")
