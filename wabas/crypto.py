"""Key pairs and field encryption: framework-free helpers.

Secrets at rest (access tokens, app secrets, private keys) are Fernet tokens made with the first key of
FIELD_ENCRYPTION_KEYS; every listed key can still decrypt, so rotating means putting a new key first and
keeping the old one after it until `manage.py rotate_field_keys` has re-encrypted everything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class EncryptionKeyError(ValueError):
    """FIELD_ENCRYPTION_KEYS is missing or holds something that is not a Fernet key."""


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def parse_field_keys(raw: str | None) -> list[bytes]:
    """Split FIELD_ENCRYPTION_KEYS (newest first, separated by commas or spaces) and check each key."""
    names = [part for part in re.split(r"[\s,]+", raw or "") if part]
    if not names:
        raise EncryptionKeyError(
            "FIELD_ENCRYPTION_KEYS is not set. Generate a key with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
        )
    keys = []
    for position, name in enumerate(names, start=1):
        try:
            decoded = base64.urlsafe_b64decode(name.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            decoded = b""
        if len(decoded) != 32:
            # Never echo the value: it is (or was meant to be) a secret.
            raise EncryptionKeyError(
                f"FIELD_ENCRYPTION_KEYS: key #{position} is not a Fernet key "
                "(expected 32 bytes in url-safe base64, 44 characters)."
            )
        keys.append(name.encode("ascii"))
    return keys


class FieldCipher:
    """Encrypts with the newest key, decrypts with any of them."""

    def __init__(self, keys: list[bytes]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise DecryptionError(
                "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS: the key that "
                "encrypted it is not in the list. Put the old key after the new one."
            ) from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt a token with the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise DecryptionError(
                "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS."
            ) from exc


@dataclass(frozen=True)
class GeneratedKeyPair:
    private_pem: str
    public_pem: str


def generate_key_pair() -> GeneratedKeyPair:
    """A fresh RSA-2048 pair as Meta expects it: PKCS#8 private key, SubjectPublicKeyInfo public key."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),  # at rest it is Fernet-encrypted as a whole
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return GeneratedKeyPair(private_pem.decode("ascii"), public_pem.decode("ascii"))


def public_key_fingerprint(public_pem: str) -> str:
    """SHA-256 over the DER-encoded public key, as colon-separated hex pairs."""
    key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def hub_signature(body: bytes, app_secret: str) -> str:
    """X-Hub-Signature-256 as Meta sends it: sha256= and the HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def valid_hub_signature(body: bytes, app_secret: str, header: str | None) -> bool:
    """Whether the header is the body's signature with this app secret (compared in constant time)."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(hub_signature(body, app_secret), header)
