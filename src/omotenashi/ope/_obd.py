"""Reader for the Open Bandit Dataset layout (``{policy}/{campaign}/{campaign}.csv``).

OBD is the one public log with true propensities and an on-policy random log to check against,
so it is the reference test of every estimator here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from omotenashi.errors import DataError
from omotenashi.ope._data import BanditLog

_REQUIRED = ("item_id", "position", "click", "propensity_score")


@dataclass(frozen=True)
class OBDLog:
    """One OBD file, ready for off-policy evaluation.

    Attributes
    ----------
    log : BanditLog
        action = item index, reward = click, pscore = propensity of the item at that position;
        context = the four user features and the position (as text).
    action_features : numpy.ndarray of shape (n_items, n_item_features)
        Item features (numeric one kept, hashed categorical ones one-hot encoded).
    pair_features : numpy.ndarray of shape (n_rounds, n_items)
        User-item affinity of every round with every item.
    frame : pandas.DataFrame
        The raw file.
    """

    log: BanditLog
    action_features: np.ndarray
    pair_features: np.ndarray
    frame: pd.DataFrame


def load_obd(path: str | Path) -> OBDLog:
    """Read an OBD campaign file (and ``item_context.csv`` beside it when present).

    Parameters
    ----------
    path : str or Path
        The campaign CSV, e.g. ``.../obd/bts/men/men.csv``.

    Returns
    -------
    OBDLog

    Raises
    ------
    DataError
        When the file lacks an OBD column or cannot be read.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, index_col=0)
    except (OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{path.name}: cannot read OBD log ({exc})", field="logs") from None
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"{path.name}: missing OBD column {missing[0]!r}", field=missing[0])
    aff_cols = sorted(
        (c for c in frame.columns if c.startswith("user-item_affinity_")),
        key=lambda c: int(c.rsplit("_", 1)[1]),
    )
    items_file = path.parent / "item_context.csv"
    items = pd.read_csv(items_file, index_col=0) if items_file.exists() else None
    n_items = max(
        len(aff_cols),
        int(frame["item_id"].max()) + 1,
        len(items) if items is not None else 0,
    )
    if items is not None:
        items = items.set_index("item_id").reindex(range(n_items))
        num = items[["item_feature_0"]].fillna(0.0).to_numpy(dtype=np.float64)
        cats = pd.get_dummies(items.drop(columns=["item_feature_0"]).astype(str)).to_numpy(float)
        action_features = np.hstack([num, cats])
    else:
        action_features = np.zeros((n_items, 0))
    pair = (
        frame[aff_cols].to_numpy(dtype=np.float64)
        if len(aff_cols) == n_items
        else np.zeros((len(frame), n_items))
    )
    user_cols = [c for c in frame.columns if c.startswith("user_feature_")]
    context = frame[user_cols].astype(str).assign(position=frame["position"].astype(str))
    log = BanditLog(
        action=frame["item_id"].to_numpy(),
        reward=frame["click"].to_numpy(),
        pscore=frame["propensity_score"].to_numpy(),
        n_actions=n_items,
        context=context.reset_index(drop=True),
        action_names=tuple(str(i) for i in range(n_items)),
    )
    return OBDLog(log, action_features, pair, frame)
