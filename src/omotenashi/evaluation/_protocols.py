"""Evaluation protocols P1 (per-user temporal top-N) and S1 (next-click in sessions).

The protocols are fixed in code so that every figure we publish — ours and the peers' — is produced
by the same split; see ``docs/recommend.md`` for the exact wording.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from omotenashi.errors import DataError


@dataclass(frozen=True)
class TopNSplit:
    """Result of protocol P1.

    Attributes
    ----------
    train : pandas.DataFrame
        Columns ``user_id``, ``item_id``, ``weight`` (1.0) and ``timestamp`` (may be NaT).
    test : pandas.DataFrame
        Columns ``user_id``, ``item_id``: the held-out positives.
    """

    train: pd.DataFrame
    test: pd.DataFrame


@dataclass(frozen=True)
class SessionSplit:
    """Result of protocol S1: click streams with columns ``session_id``, ``item_id``, ``timestamp``.

    Rows are sorted by session and time.
    """

    train: pd.DataFrame
    test: pd.DataFrame

    @property
    def n_predictions(self) -> int:
        """Number of next-click predictions S1 makes on ``test`` (session length − 1, summed)."""
        return int(len(self.test) - self.test["session_id"].nunique())


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{what} lacks column(s) {missing}; it has {list(frame.columns)}", field=missing[0]
        )


def split_p1(
    ratings: pd.DataFrame,
    *,
    min_rating: float | None = 4.0,
    min_positives: int = 5,
    test_fraction: float = 0.2,
    random_state: int | None = 0,
    ties: str = "hash",
) -> TopNSplit:
    """Protocol P1: implicit positives, per-user temporal 80/20 split.

    Positives are rows with ``rating >= min_rating`` (all rows when there is no ``rating`` column
    or ``min_rating`` is None); duplicate (user, item) pairs keep their first occurrence. Users with
    fewer than ``min_positives`` positives are dropped. Per user, the first
    ``floor((1 - test_fraction) * n)`` positives by time stay in train and the rest go to test; ties
    in time are broken by a seeded hash of the (user, item) pair (``ties="hash"``), or by item id
    (``ties="item_id"``: the rule before, kept to reproduce figures measured with it). Without a
    ``timestamp`` column the split is a seeded random one.

    Both tie rules are independent of the file's row order; only the hash is independent of how
    items are numbered. Where interactions of a user share one time (the lines of one invoice, a
    file with dates only), item ids choose which of them are held out: ids often follow the
    catalogue's history (MovieLens numbers films as they were added, a shop its newest products
    last), and a model choice on a validation split cut the same way learns to find them, which
    scores on a test split cut the same way too, for the wrong reason.

    Parameters
    ----------
    ratings : pandas.DataFrame
        Columns ``user_id``, ``item_id`` and optionally ``rating``, ``timestamp``.
    min_rating : float or None
        Threshold for a positive.
    min_positives : int
        Users with fewer positives are dropped.
    test_fraction : float
        Share of each user's positives held out, in (0, 1).
    random_state : int or None
        Seed of the random split (without time) and of the hash (``ties="hash"``).
    ties : str
        ``"item_id"`` or ``"hash"``: what orders interactions of one user at the same time.

    Returns
    -------
    TopNSplit

    Raises
    ------
    DataError
        Missing columns, an invalid fraction, or no user left.
    """
    _require(ratings, ("user_id", "item_id"), "ratings")
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction}")
    frame = ratings.reset_index(drop=True)
    if "rating" in frame.columns and min_rating is not None:
        rating = pd.to_numeric(frame["rating"], errors="coerce")
        frame = frame[rating >= min_rating]
    has_time = "timestamp" in frame.columns
    cols = ["user_id", "item_id"] + (["timestamp"] if has_time else [])
    frame = frame[cols].copy()
    if ties not in ("item_id", "hash"):
        raise DataError(f"ties must be 'item_id' or 'hash', got {ties!r}", field="ties")
    # Ties in time are broken by item id (numerically when ids are numbers) or by a hash of the
    # pair, so that the split does not depend on the file's row order.
    if ties == "item_id":
        frame["_order"] = _id_rank(frame["item_id"])
    frame["user_id"] = frame["user_id"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    if ties == "hash":
        frame["_order"] = _pair_hash(frame["user_id"], frame["item_id"], random_state or 0)
    if has_time:
        frame = frame.sort_values(["user_id", "timestamp", "_order"], kind="mergesort")
    else:
        rng = np.random.default_rng(random_state)
        frame["_rand"] = rng.random(len(frame))
        frame = frame.sort_values(["user_id", "_rand"], kind="mergesort")
    frame = frame.drop_duplicates(["user_id", "item_id"], keep="first")
    counts = frame.groupby("user_id", sort=False)["item_id"].transform("size")
    frame = frame[counts >= min_positives]
    if frame.empty:
        raise DataError(f"no user has {min_positives} or more positives (min_rating={min_rating})")
    position = frame.groupby("user_id", sort=False).cumcount().to_numpy()
    n = frame.groupby("user_id", sort=False)["item_id"].transform("size").to_numpy()
    n_train = np.floor((1.0 - test_fraction) * n + 1e-9).astype(np.int64)
    is_train = position < n_train
    train = frame[is_train].drop(columns=[c for c in ("_order", "_rand") if c in frame.columns])
    test = frame[~is_train][["user_id", "item_id"]]
    train = train.assign(weight=1.0)
    if not has_time:
        train = train.assign(timestamp=pd.NaT)
    return TopNSplit(
        train=train[["user_id", "item_id", "weight", "timestamp"]].reset_index(drop=True),
        test=test.reset_index(drop=True),
    )


def _pair_hash(users: pd.Series, items: pd.Series, seed: int) -> np.ndarray:
    """A seeded 64-bit hash of each (user, item) pair: an order of a user's items that neither
    the row order nor the item numbering decides."""
    key = f"{seed:x}\x1f"  # the seed changes the hash key, so the order
    pairs = users.to_numpy(dtype=object) + "\x1f" + items.to_numpy(dtype=object)
    return pd.util.hash_array(pairs, hash_key=(key * 16)[:16]).astype(np.uint64)


def _id_rank(ids: pd.Series) -> np.ndarray:
    numeric = pd.to_numeric(ids, errors="coerce")
    key = numeric if numeric.notna().all() else ids.astype(str)
    return key.rank(method="dense").to_numpy()


def _sessions_frame(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    _require(frame, ("session_id", "item_id", "timestamp"), what)
    out = frame.copy()
    out["item_id"] = out["item_id"].astype(str)
    out["_order"] = np.arange(len(out))
    out = out.sort_values(["session_id", "timestamp", "_order"], kind="mergesort")
    return out.drop(columns="_order").reset_index(drop=True)


def _drop_short(frame: pd.DataFrame, min_length: int = 2) -> pd.DataFrame:
    sizes = frame.groupby("session_id", sort=False)["item_id"].transform("size")
    return frame[sizes >= min_length].reset_index(drop=True)


def prepare_s1(train: pd.DataFrame, test: pd.DataFrame) -> SessionSplit:
    """Protocol S1 preparation of a given train/test pair of click streams.

    Test clicks on items never seen in train are dropped, then test sessions shorter than 2.

    Parameters
    ----------
    train, test : pandas.DataFrame
        Columns ``session_id``, ``item_id``, ``timestamp`` (any sortable type).

    Returns
    -------
    SessionSplit
    """
    train = _sessions_frame(train, "train")
    test = _sessions_frame(test, "test")
    known = set(train["item_id"].unique())
    test = _drop_short(test[test["item_id"].isin(known)])
    if test.empty:
        raise DataError("no test session of length 2 or more is left after dropping unseen items")
    return SessionSplit(train=train, test=test)


def split_sessions_last(
    sessions: pd.DataFrame, *, test_fraction: float = 0.2, order_by: str = "timestamp"
) -> SessionSplit:
    """Split click streams by time: the last ``round(test_fraction · n)`` sessions go to test.

    Sessions shorter than 2 are dropped first; sessions are ordered by (their last ``order_by``
    value, session id); then :func:`prepare_s1` is applied. With ``order_by="date"`` and the
    diginetica loader this is the split of the session-rec framework.
    """
    sessions = _drop_short(_sessions_frame(sessions, "sessions"))
    if order_by not in sessions.columns:
        raise DataError(f"sessions lack the column {order_by!r} to order by", field=order_by)
    last = sessions.groupby("session_id")[order_by].max().reset_index()
    last = last.sort_values([order_by, "session_id"], kind="mergesort")
    n_test = int(round(test_fraction * len(last)))
    if n_test < 1 or n_test >= len(last):
        raise DataError(f"{len(last)} sessions cannot be split with test_fraction={test_fraction}")
    test_ids = set(last["session_id"].iloc[len(last) - n_test :])
    in_test = sessions["session_id"].isin(test_ids)
    return prepare_s1(sessions[~in_test], sessions[in_test])
