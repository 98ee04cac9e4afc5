"""The decision log's record and its in-memory home (the SQLite one is ``sqlite.decisions``).

Off-policy evaluation is only possible when each logged choice carries the probability with
which it was made, so the log is written on every decision, not sampled. Each row carries the
customer id so that a person's decisions can be found and erased. The record lives here, below
``decisions``, so that every backend can store it without importing a capability.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from omotenashi.errors import DataError, NotFound

if TYPE_CHECKING:  # pandas loads with the first frame built
    import pandas as pd

    from omotenashi.storage._base import PersonKeys

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
"""Columns of ``DecisionLogStore.to_frame``; ``probabilities``, ``profile`` and ``context`` are JSON
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


def frame_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

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
        return frame_of([r.row() for r in recs if point is None or r.point == point])

    def erase_customer(self, customer_id: str) -> int:
        """Delete a customer's decisions."""
        with self._lock:
            ids = [k for k, r in self._records.items() if r.customer_id == customer_id]
            for k in ids:
                del self._records[k]
        return len(ids)

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """The decisions about any id of the person, with their rewards."""
        ids = {*keys.customer_ids, *keys.anonymous_ids}
        recs = sorted(
            (r for r in self._records.values() if r.customer_id in ids),
            key=lambda r: r.created_at,
        )
        return {"decisions": [asdict(r) for r in recs]}

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete the decisions about any id of the person."""
        return sum(self.erase_customer(i) for i in (*keys.customer_ids, *keys.anonymous_ids))

    def flush(self) -> None:
        """Nothing is pending in memory (the same call as the batched SQLite log)."""

    def close(self) -> None:
        """Nothing to release."""


__all__ = ["COLUMNS", "DecisionRecord", "InMemoryDecisionLog", "frame_of"]
