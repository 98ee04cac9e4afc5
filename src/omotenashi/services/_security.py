"""Security use cases: encryption at rest of personal attributes, and per-key rate limits.

Encryption itself lives in the store (``storage``: Fernet keys from ``OMOTENASHI_ENCRYPTION_KEYS``);
here are the use cases a face calls: which attributes are personal, a new key, the state of a
store, and rotation (re-encrypt everything with the newest key). The rate limiter is a token
bucket per API key, kept in the memory of each server process (no store round trip per request).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from typing import Any

from omotenashi.errors import DataError
from omotenashi.storage import Store

#: The environment variable holding the Fernet keys (the store reads it: ``storage``).
KEYS_ENV = "OMOTENASHI_ENCRYPTION_KEYS"


class Encryption:
    """``om.encryption``: personal attributes encrypted at rest, and key rotation."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def status(self) -> dict[str, Any]:
        """Personal attribute names, how many keys are set, records sealed and records that
        still hold a personal value in the clear."""
        return self.store.catalog.encryption_state()

    def set_personal_fields(self, names: Sequence[str]) -> tuple[str, ...]:
        """Replace the list of attribute names treated as personal in this store."""
        clean = [str(n).strip() for n in names if str(n).strip()]
        if not clean:
            raise DataError("give at least one attribute name", field="fields")
        self.store.catalog.set_personal_fields(clean)
        return self.store.catalog.personal_fields()

    def rotate(self) -> int:
        """Re-encrypt every customer record with the first key of ``OMOTENASHI_ENCRYPTION_KEYS``
        (older keys after it still decrypt); personal values still in the clear are encrypted
        too. Returns how many records changed; afterwards the older keys can be removed."""
        import os

        if not os.environ.get(KEYS_ENV, "").strip():
            raise DataError(
                f"set {KEYS_ENV} to the new key, then the old ones (comma-separated), to "
                "rotate; `omotenashi encryption new-key` makes a key",
                field=KEYS_ENV,
            )
        self.store.catalog.use_keys(None)  # the environment as it is now
        return self.store.catalog.reseal()

    @staticmethod
    def new_key() -> str:
        """A fresh random Fernet key for ``OMOTENASHI_ENCRYPTION_KEYS``."""
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second on average, bursts up to ``burst``.

    Why a token bucket: it lets a client send a short burst (a page that loads several
    widgets) while holding the long-run rate, and it answers in O(1) without a store.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key``: 0.0 when allowed, else the seconds until a token is
        back (for ``Retry-After``)."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > 100_000:  # forget idle keys (full buckets)
                    self._forget(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _forget(self, now: float) -> None:
        full = [
            k
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]


#: An API key token (``omk_<id>_<secret>``): the secret part is what must never be logged.
_TOKEN = re.compile(r"\b(omk_[0-9a-f]+_)[A-Za-z0-9_\-]{8,}")


class RedactSecrets(logging.Filter):
    """Replaces the secret of any API key token in a log record by ``<redacted>``.

    A safety net: omotenashi itself never logs a token, a request header or a body, but a
    library (a proxy, a debug handler) might put one in a message.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "omk_" in message:
            record.msg = _TOKEN.sub(r"\1<redacted>", message)
            record.args = None
        return True


def retry_after(seconds: float) -> str:
    """``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


__all__ = ["Encryption", "RateLimiter", "RedactSecrets", "retry_after"]
