"""The decision log: every decision with its propensity, and the rewards that arrive later.

Off-policy evaluation is only possible when each logged choice carries the probability with
which it was made, so the log is written on every decision, not sampled. Each row carries the
customer id so that a person's decisions can be found and erased.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from omotenashi.errors import DataError, NotFound, StorageError

COLUMNS = (
    "decision_id",
    "point",
    "customer_id",
    "created_at",
    "variant",
    "propensity",
    "probabilities",
    "profile",
    "context",
    "policy",
    "reward",
    "rewarded_at",
)
"""Columns of :meth:`DecisionLog.to_frame`; ``probabilities``, ``profile`` and ``context`` are JSON
text, ``reward`` and ``rewarded_at`` are NaN until a reward arrives."""


@dataclass(frozen=True)
class DecisionRecord:
    """One logged decision.

    Attributes
    ----------
    decision_id : str
        Unique id returned to the caller.
    point : str
        Decision point name.
    customer_id : str
        Customer or session id.
    created_at : float
        Unix seconds.
    variant : str
        Chosen variant id.
    propensity : float
        Probability of that choice, in (0, 1].
    probabilities : dict of str to float
        Full distribution over the eligible variants.
    profile, context : dict
        Inputs of the decision, as given.
    policy : str
        Policy kind that decided.
    reward, rewarded_at : float or None
        Set once the reward has arrived.
    """

    decision_id: str
    point: str
    customer_id: str
    created_at: float
    variant: str
    propensity: float
    probabilities: dict[str, float]
    profile: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    policy: str = ""
    reward: float | None = None
    rewarded_at: float | None = None

    def row(self) -> dict[str, Any]:
        """Flat row with JSON text for the nested fields (the :data:`COLUMNS` layout)."""
        return {
            "decision_id": self.decision_id,
            "point": self.point,
            "customer_id": self.customer_id,
            "created_at": self.created_at,
            "variant": self.variant,
            "propensity": self.propensity,
            "probabilities": json.dumps(self.probabilities),
            "profile": json.dumps(self.profile, default=str),
            "context": json.dumps(self.context, default=str),
            "policy": self.policy,
            "reward": math.nan if self.reward is None else self.reward,
            "rewarded_at": math.nan if self.rewarded_at is None else self.rewarded_at,
        }


@runtime_checkable
class DecisionLog(Protocol):
    """Where decisions and their rewards are kept (in memory, SQLite, later the main store)."""

    def append(self, record: DecisionRecord) -> None:
        """Store a new decision (its id must be new)."""

    def get(self, decision_id: str) -> DecisionRecord:
        """Return a decision with its reward if any; raise NotFound for an unknown id."""

    def add_reward(self, decision_id: str, value: float, at: float) -> None:
        """Attach the reward; NotFound for an unknown id, DataError if already rewarded."""

    def to_frame(self, point: str | None = None) -> pd.DataFrame:
        """All decisions (of one point) as a DataFrame with :data:`COLUMNS`, oldest first."""

    def erase_customer(self, customer_id: str) -> int:
        """Delete a customer's decisions and rewards; return how many decisions went."""


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype(
        {"created_at": float, "propensity": float, "reward": float, "rewarded_at": float}
    )


class InMemoryDecisionLog:
    """Decision log kept in a dict; first-class for tests, simulations and single processes."""

    def __init__(self) -> None:
        self._records: dict[str, DecisionRecord] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def append(self, record: DecisionRecord) -> None:
        """Store a new decision."""
        with self._lock:
            if record.decision_id in self._records:
                raise DataError(
                    f"decision_id: {record.decision_id!r} is already logged", field="decision_id"
                )
            self._records[record.decision_id] = record

    def get(self, decision_id: str) -> DecisionRecord:
        """Return a decision; NotFound for an unknown id."""
        try:
            return self._records[decision_id]
        except KeyError:
            raise NotFound(f"decision {decision_id!r} is unknown") from None

    def add_reward(self, decision_id: str, value: float, at: float) -> None:
        """Attach the reward of a decision."""
        with self._lock:
            rec = self.get(decision_id)
            if rec.reward is not None:
                raise DataError(
                    f"decision {decision_id!r} already has a reward", field="decision_id"
                )
            self._records[decision_id] = replace(rec, reward=float(value), rewarded_at=at)

    def to_frame(self, point: str | None = None) -> pd.DataFrame:
        """Decisions as a DataFrame (:data:`COLUMNS`)."""
        recs = sorted(self._records.values(), key=lambda r: r.created_at)
        return _frame([r.row() for r in recs if point is None or r.point == point])

    def erase_customer(self, customer_id: str) -> int:
        """Delete a customer's decisions."""
        with self._lock:
            ids = [k for k, r in self._records.items() if r.customer_id == customer_id]
            for k in ids:
                del self._records[k]
        return len(ids)


_DDL = (
    "CREATE TABLE IF NOT EXISTS decisions ("
    " decision_id TEXT PRIMARY KEY, point TEXT NOT NULL, customer_id TEXT NOT NULL,"
    " created_at REAL NOT NULL, variant TEXT NOT NULL, propensity REAL NOT NULL,"
    " probabilities TEXT NOT NULL, profile TEXT NOT NULL, context TEXT NOT NULL,"
    " policy TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS decision_rewards ("
    " decision_id TEXT PRIMARY KEY, value REAL NOT NULL, rewarded_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_decisions_customer ON decisions (customer_id)",
    "CREATE INDEX IF NOT EXISTS ix_decisions_point ON decisions (point, created_at)",
)

_SELECT = (
    "SELECT d.decision_id, d.point, d.customer_id, d.created_at, d.variant, d.propensity,"
    " d.probabilities, d.profile, d.context, d.policy, r.value, r.rewarded_at"
    " FROM decisions d LEFT JOIN decision_rewards r ON r.decision_id = d.decision_id"
)


class SQLiteDecisionLog:
    """Decision log in a SQLite file (tables ``decisions`` and ``decision_rewards``).

    The SQL is portable (TEXT/REAL columns, no SQLite-only syntax beyond the pragmas), so the
    main store can host the same tables. Safe to share between threads.

    Parameters
    ----------
    path : str or Path
        Database file; created with its tables when missing. ``":memory:"`` works too.
    batch_size : int
        Decisions are written in transactions of this many rows (1: every decision is
        committed before ``append`` returns). Pending rows are flushed before any read, reward,
        erasure or close; a crash loses at most ``batch_size - 1`` decisions, which leaves an
        off-policy evaluation unbiased (they are lost at random, not by outcome).
    """

    def __init__(self, path: str | Path, *, batch_size: int = 1) -> None:
        if batch_size < 1:
            raise DataError(f"batch_size: must be >= 1, got {batch_size}", field="batch_size")
        self.batch_size = batch_size
        self._pending: list[list[Any]] = []
        self.path = str(path)
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            with self._conn:
                for stmt in _DDL:
                    self._conn.execute(stmt)
        except sqlite3.Error as exc:
            raise StorageError(f"decision log {Path(self.path).name}: {exc}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Write pending decisions and close the connection."""
        with self._lock:
            self._flush()
        self._conn.close()

    def _flush(self) -> None:
        # caller holds the lock
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        try:
            with self._conn:
                self._conn.executemany(
                    "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
        except sqlite3.IntegrityError:
            dup = rows[0][0]
            with self._conn:  # find the duplicate, keep the others
                for row in rows:
                    try:
                        self._conn.execute(
                            "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row
                        )
                    except sqlite3.IntegrityError:
                        dup = row[0]
            raise DataError(
                f"decision_id: {dup!r} is already logged", field="decision_id"
            ) from None

    def flush(self) -> None:
        """Write pending decisions now."""
        with self._lock:
            self._flush()

    def append(self, record: DecisionRecord) -> None:
        """Store a new decision."""
        r = record.row()
        with self._lock:
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
        """Return a decision; NotFound for an unknown id."""
        with self._lock:
            self._flush()
            row = self._conn.execute(
                _SELECT + " WHERE d.decision_id = ?", (decision_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"decision {decision_id!r} is unknown")
        return self._record(row)

    def add_reward(self, decision_id: str, value: float, at: float) -> None:
        """Attach the reward of a decision."""
        with self._lock:
            self._flush()
            known = self._conn.execute(
                "SELECT COUNT(*) FROM decisions WHERE decision_id = ?", (decision_id,)
            ).fetchone()[0]
            if not known:
                raise NotFound(f"decision {decision_id!r} is unknown")
            try:
                with self._conn:
                    self._conn.execute(
                        "INSERT INTO decision_rewards VALUES (?, ?, ?)",
                        (decision_id, float(value), at),
                    )
            except sqlite3.IntegrityError:
                raise DataError(
                    f"decision {decision_id!r} already has a reward", field="decision_id"
                ) from None

    def to_frame(self, point: str | None = None) -> pd.DataFrame:
        """Decisions as a DataFrame (:data:`COLUMNS`)."""
        sql = _SELECT + (" WHERE d.point = ?" if point is not None else "")
        sql += " ORDER BY d.created_at"
        with self._lock:
            self._flush()
            rows = self._conn.execute(sql, (point,) if point is not None else ()).fetchall()
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        frame[["reward", "rewarded_at"]] = frame[["reward", "rewarded_at"]].astype(float)
        return _frame(frame.to_dict("records"))

    def erase_customer(self, customer_id: str) -> int:
        """Delete a customer's decisions and rewards."""
        with self._lock, self._conn:
            self._flush()
            self._conn.execute(
                "DELETE FROM decision_rewards WHERE decision_id IN"
                " (SELECT decision_id FROM decisions WHERE customer_id = ?)",
                (customer_id,),
            )
            cur = self._conn.execute("DELETE FROM decisions WHERE customer_id = ?", (customer_id,))
        return cur.rowcount
