"""Encryption at rest of personal customer attributes (e-mail, phone, name, free text).

Why here: the store is where values rest, so every reader (profiles, exports, frames) gets
plain values and no face or service can forget to decrypt. Why ``cryptography``'s Fernet
(AES-128-CBC with HMAC-SHA256, a timestamped, authenticated token) and ``MultiFernet``: a
well-kept, audited construction with key rotation built in; nothing here is hand-rolled.

Keys come from the environment only (``OMOTENASHI_ENCRYPTION_KEYS``: Fernet keys separated by
commas, the first one encrypts, all of them decrypt). An encrypted value is stored as the string
``enc:v1:<token>`` in place of the value (its JSON text is what is encrypted, so a number comes
back a number); other attributes stay readable for segments and models.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from omotenashi.errors import StorageError

#: Environment variable with the Fernet keys, newest (the one that encrypts) first.
KEYS_ENV = "OMOTENASHI_ENCRYPTION_KEYS"

#: Attribute names treated as personal until a workspace sets its own list.
DEFAULT_PERSONAL_FIELDS: tuple[str, ...] = (
    "email",
    "phone",
    "name",
    "first_name",
    "last_name",
    "address",
    "notes",
)

#: Marks an encrypted value in a stored attribute.
SEALED = "enc:v1:"


def _keys_from_env() -> list[str]:
    text = os.environ.get(KEYS_ENV, "")
    return [part.strip() for part in text.split(",") if part.strip()]


class FieldCipher:
    """Seals the personal attributes of a customer record and opens sealed ones.

    ``keys`` None reads them from :data:`KEYS_ENV`; with no key at all, values are written as
    given and a sealed value cannot be read (a clear error says which variable to set).
    """

    def __init__(self, keys: Iterable[str] | None = None) -> None:
        self.keys = list(_keys_from_env() if keys is None else keys)
        self._fernet: Any = None
        if self.keys:
            from cryptography.fernet import Fernet, MultiFernet

            try:
                self._fernet = MultiFernet([Fernet(k.encode()) for k in self.keys])
            except ValueError as exc:
                raise StorageError(
                    f"{KEYS_ENV} holds a key that is not a Fernet key ({exc}); make one with "
                    "`omotenashi encryption new-key`"
                ) from None

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    def seal(self, attributes: dict[str, Any], personal: Iterable[str]) -> dict[str, Any]:
        """The record with each personal attribute encrypted (already sealed ones kept)."""
        if self._fernet is None:
            return attributes
        names = set(personal)
        out = dict(attributes)
        for name, value in attributes.items():
            if name in names and not is_sealed(value):
                text = json.dumps(value, default=str).encode()
                out[name] = SEALED + self._fernet.encrypt(text).decode()
        return out

    def open(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """The record with every sealed value decrypted."""
        if not any(is_sealed(v) for v in attributes.values()):
            return attributes
        if self._fernet is None:
            raise StorageError(
                f"this store holds encrypted personal attributes: set {KEYS_ENV} to the key "
                "they were written with"
            )
        from cryptography.fernet import InvalidToken

        out = dict(attributes)
        for name, value in attributes.items():
            if is_sealed(value):
                try:
                    out[name] = json.loads(self._fernet.decrypt(value[len(SEALED) :].encode()))
                except InvalidToken:
                    raise StorageError(
                        f"the attribute {name!r} was encrypted with a key that is not in {KEYS_ENV}"
                    ) from None
        return out

    def rotate(self, attributes: dict[str, Any], personal: Iterable[str]) -> dict[str, Any]:
        """The record re-encrypted with the first key (sealed values under an older key) and
        with personal values still in the clear sealed."""
        if self._fernet is None:
            raise StorageError(f"set {KEYS_ENV} (the new key first) to rotate")
        out = {}
        for name, value in attributes.items():
            if is_sealed(value):
                token = self._fernet.rotate(value[len(SEALED) :].encode())
                out[name] = SEALED + token.decode()
            else:
                out[name] = value
        return self.seal(out, personal)


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED)


def new_key() -> str:
    """A fresh Fernet key (32 random bytes, URL-safe base64)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


__all__ = ["DEFAULT_PERSONAL_FIELDS", "KEYS_ENV", "SEALED", "FieldCipher", "is_sealed", "new_key"]
