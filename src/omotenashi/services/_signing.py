"""Signed, expiring tokens (dashboard sessions, a customer's own link), with one secret per store.

The secret is 32 random bytes kept in the store's artefacts folder (``signing.key``, mode 0600),
created once under the artefacts lock, so every worker process of a server signs and verifies
alike and a restart keeps sessions and links valid. A token is ``payload.signature``: the
payload is URL-safe base64 of sorted JSON with an expiry (``exp``, Unix seconds), the signature
an HMAC-SHA256 of it. The standard library's ``hmac`` is all it takes; a JWT library would add
algorithms and headers nobody here needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from typing import Any

from omotenashi.storage import ArtefactStore

SECRET_FILE = "signing.key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and verifies expiring payloads with the secret of one store's artefacts."""

    def __init__(self, artefacts: ArtefactStore) -> None:
        self._secret = self._load(artefacts)

    @staticmethod
    def _load(artefacts: ArtefactStore) -> bytes:
        path = artefacts.path(SECRET_FILE)
        if not path.is_file():
            with artefacts.lock(SECRET_FILE):
                if not path.is_file():
                    written = artefacts.atomic_write(SECRET_FILE, secrets.token_hex(32))
                    os.chmod(written, 0o600)
        text = path.read_text(encoding="ascii").strip()
        return bytes.fromhex(text)

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest())

    def digest(self, text: str) -> str:
        """A keyed digest of ``text`` (e.g. a form token bound to a link)."""
        return self._mac(text)

    def sign(self, payload: dict[str, Any], ttl_s: float) -> str:
        """A token carrying ``payload`` for ``ttl_s`` seconds."""
        data = {**payload, "exp": int(time.time() + ttl_s)}
        body = _b64(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str | None) -> dict[str, Any] | None:
        """The payload of a genuine, unexpired token; None for anything else."""
        if not token or len(token) > 4096 or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("exp"), int):
            return None
        if data["exp"] < time.time():
            return None
        return data


__all__ = ["SECRET_FILE", "Signer"]
