"""The decision log and the API key table on PostgreSQL (tables of the store's own schema).

Same semantics as the SQLite decision log: decisions may be written in batches
(``batch_size``), pending rows are written before any read, a duplicate decision id is a
``DataError`` and the other rows of its batch are kept.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pandas as pd

from omotenashi.errors import DataError, NotFound
from omotenashi.storage._base import KeyRecord
from omotenashi.storage._decision_log import COLUMNS, DecisionRecord, frame_of
from omotenashi.storage.postgres._db import KEYS_DDL, Database, PostgresURL

_KEY_COLUMNS = "key_id, workspace, scopes, secret_sha256, label, created_at, revoked_at"
_INSERT = (
    f"INSERT INTO decisions ({', '.join(COLUMNS[:10])}) VALUES ({', '.join(['%s'] * 10)}) "
    "ON CONFLICT (decision_id) DO NOTHING"
)
_SELECT = (
    "SELECT d.decision_id, d.point, d.customer_id, d.created_at, d.variant, d.propensity,"
    " d.probabilities, d.profile, d.context, d.policy, r.value, r.rewarded_at"
    " FROM decisions d LEFT JOIN decision_rewards r ON r.decision_id = d.decision_id"
)


class PostgresDecisionLog:
    """Decisions and rewards in the store's ``decisions`` / ``decision_rewards`` tables."""

    def __init__(self, db: Database, *, batch_size: int = 1, owns_db: bool = False) -> None:
        if batch_size < 1:
            raise DataError(f"batch_size: must be >= 1, got {batch_size}", field="batch_size")
        self._db = db
        self._owns_db = owns_db  # opened for this log alone (``open_decision_log``): close it too
        self.batch_size = batch_size
        self._pending: list[list[Any]] = []
        self._lock = threading.Lock()

    def _flush(self) -> None:
        # caller holds the lock
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        ids = [r[0] for r in rows]
        with self._db.transaction():
            known = {
                r[0]
                for r in self._db.read(
                    "SELECT decision_id FROM decisions WHERE decision_id = ANY(%s::text[])",
                    (ids,),
                )
            }
            self._db.executemany(_INSERT, rows)  # a known id is skipped, the others kept
        seen: set[str] = set()
        for decision_id in ids:
            if decision_id in known or decision_id in seen:
                raise DataError(
                    f"decision_id: {decision_id!r} is already logged", field="decision_id"
                )
            seen.add(decision_id)

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def close(self) -> None:
        with self._lock:
            self._flush()
            if self._owns_db:
                self._db.close()

    def append(self, record: DecisionRecord) -> None:
        r = record.row()
        with self._lock:
            if self.batch_size == 1:
                with self._db.transaction():
                    added = self._db.execute(_INSERT, [r[c] for c in COLUMNS[:10]]).rowcount
                if not added:
                    raise DataError(
                        f"decision_id: {record.decision_id!r} is already logged",
                        field="decision_id",
                    )
                return
            self._pending.append([r[c] for c in COLUMNS[:10]])
            if len(self._pending) >= self.batch_size:
                self._flush()

    @staticmethod
    def _record(row: tuple[Any, ...]) -> DecisionRecord:
        return DecisionRecord(
            decision_id=row[0],
            point=row[1],
            customer_id=row[2],
            created_at=row[3],
            variant=row[4],
            propensity=row[5],
            probabilities=json.loads(row[6]),
            profile=json.loads(row[7]),
            context=json.loads(row[8]),
            policy=row[9],
            reward=row[10],
            rewarded_at=row[11],
        )

    def get(self, decision_id: str) -> DecisionRecord:
        with self._lock:
            self._flush()
            rows = self._db.read(_SELECT + " WHERE d.decision_id = %s", (decision_id,))
        if not rows:
            raise NotFound(f"decision {decision_id!r} is unknown")
        return self._record(rows[0])

    def add_reward(self, decision_id: str, value: float, at: float) -> None:
        with self._lock:
            self._flush()
            with self._db.transaction():
                known = self._db.read(
                    "SELECT 1 FROM decisions WHERE decision_id = %s", (decision_id,)
                )
                if not known:
                    raise NotFound(f"decision {decision_id!r} is unknown")
                added = self._db.execute(
                    "INSERT INTO decision_rewards (decision_id, value, rewarded_at) "
                    "VALUES (%s, %s, %s) ON CONFLICT (decision_id) DO NOTHING",
                    (decision_id, float(value), float(at)),
                ).rowcount
            if not added:
                raise DataError(
                    f"decision {decision_id!r} already has a reward", field="decision_id"
                )

    def to_frame(self, point: str | None = None) -> pd.DataFrame:
        sql = _SELECT + (" WHERE d.point = %s" if point is not None else "")
        sql += " ORDER BY d.created_at"
        with self._lock:
            self._flush()
            rows = self._db.read(sql, (point,) if point is not None else ())
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        frame[["reward", "rewarded_at"]] = frame[["reward", "rewarded_at"]].astype(float)
        return frame_of(frame.to_dict("records"))

    def erase_customer(self, customer_id: str) -> int:
        with self._lock:
            self._flush()
            with self._db.transaction():
                self._db.execute(
                    "DELETE FROM decision_rewards WHERE decision_id IN"
                    " (SELECT decision_id FROM decisions WHERE customer_id = %s)",
                    (customer_id,),
                )
                gone = self._db.execute(
                    "DELETE FROM decisions WHERE customer_id = %s", (customer_id,)
                ).rowcount
        return max(gone, 0)


class PostgresKeyStore:
    """``KeyStore`` in the ``api_keys`` table of a PostgreSQL schema (the service's default
    store's: keys are shared by every workspace), on a connection of its own."""

    def __init__(self, url: str) -> None:
        self._db = Database(PostgresURL.parse(url), create=True)
        self._db.execute(KEYS_DDL)

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def _record(row: tuple[Any, ...]) -> KeyRecord:
        return KeyRecord(row[0], row[1], tuple(row[2].split(",")), row[3], row[4], row[5], row[6])

    def add(self, record: KeyRecord) -> None:
        """Store a new key; DataError when its id is taken."""
        with self._db.transaction():
            added = self._db.execute(
                f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (key_id) DO NOTHING",
                (
                    record.key_id,
                    record.workspace,
                    ",".join(record.scopes),
                    record.secret_sha256,
                    record.label,
                    record.created_at,
                    record.revoked_at,
                ),
            ).rowcount
        if not added:
            raise DataError(f"key id {record.key_id!r} exists", field="key_id")

    def get(self, key_id: str) -> KeyRecord | None:
        rows = self._db.read(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_id = %s", (key_id,))
        return self._record(rows[0]) if rows else None

    def list(self, workspace: str | None = None) -> list[KeyRecord]:
        sql = f"SELECT {_KEY_COLUMNS} FROM api_keys"
        if workspace is not None:
            rows = self._db.read(sql + " WHERE workspace = %s ORDER BY created_at", (workspace,))
        else:
            rows = self._db.read(sql + " ORDER BY created_at")
        return [self._record(r) for r in rows]

    def revoke(self, key_id: str, at: float) -> None:
        with self._db.transaction():
            self._db.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL",
                (at, key_id),
            )


__all__ = ["PostgresDecisionLog", "PostgresKeyStore"]


def open_postgres_decision_log(url: str, *, batch_size: int = 1) -> PostgresDecisionLog:
    """The decision log of the store at ``url`` on a connection of its own (closed with it)."""
    return PostgresDecisionLog(
        Database(PostgresURL.parse(url), create=False), batch_size=batch_size, owns_db=True
    )
