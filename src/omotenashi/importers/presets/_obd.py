"""Preset ``obd``: the Open Bandit Dataset (ZOZOTOWN), logged recommendations with propensities.

Why a preset: each line of a ``{policy}/{campaign}/{campaign}.csv`` file is an impression whose
click is a column, the user is only described by four hashed features, and the item index means
a different product in each campaign.

* every line is a ``view`` (the impression) on channel ``web``; a line with ``click`` = 1 adds a
  ``click`` event at the same time (so the import reads more rows than the file has lines);
* the anonymous id is ``obd-user-<12 hex>``, a hash of the four user features (users with the same
  features are one visitor: the data set has no user id);
* item ids are ``obd-<campaign>-<index>`` because index 3 of ``men`` is not index 3 of ``all``;
* context: ``position`` (slot 1-3), ``propensity`` (the behaviour policy's probability of this
  item in this slot), ``click`` (0/1), ``policy``, ``campaign``, ``row`` (the file's row index,
  to join back to the 80 affinity columns, which are not imported) and ``user_feature_0..3``;
* items from ``item_context.csv`` beside the file: the index and the four item features as
  attributes. The hashed categorical item features are labelled differently in the ``random``
  and ``bts`` files of a campaign (same partition, other labels); the last file imported wins.

Pass one campaign file, its folder, a policy folder or the ``obd`` folder (every campaign file
below it).

This module is the one home of the data set's layout: the import plan above and
:func:`load_obd`, the reader of one campaign file as logged bandit feedback for off-policy
evaluation (``evaluate ope --preset obd``), read with the same file reader.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omotenashi.errors import DataError
from omotenashi.files import CsvOptions, read_table
from omotenashi.importers._plan import EventSource, ImportPlan
from omotenashi.ingest import EventDefaults
from omotenashi.ope import BanditLog

LINE = "__line__"
USER_FEATURES = tuple(f"user_feature_{i}" for i in range(4))
ITEM_FEATURES = tuple(f"item_feature_{i}" for i in range(4))
REQUIRED = ("timestamp", "item_id", "position", "click", "propensity_score", *USER_FEATURES)
USER_PREFIX = "obd-user-"


def user_ids(features: pd.DataFrame) -> pd.Series:
    """Anonymous ids ``obd-user-<12 hex>`` from the four hashed user features.

    Parameters
    ----------
    features : DataFrame
        The columns ``user_feature_0`` .. ``user_feature_3`` as text.

    Returns
    -------
    Series of str
        One id per row; equal features give equal ids, in every file and every run.
    """
    joined = features[list(USER_FEATURES)].astype("object").fillna("").agg("|".join, axis=1)
    codes, uniques = pd.factorize(joined)
    table = np.array(
        [
            USER_PREFIX + hashlib.blake2b(u.encode("utf-8"), digest_size=6).hexdigest()
            for u in uniques
        ],
        dtype=object,
    )
    return pd.Series(table[codes] if len(uniques) else [], index=features.index, dtype=object)


def item_id(campaign: str, index: object) -> str:
    """The store's id of item ``index`` of ``campaign`` (``obd-men-3``)."""
    return f"obd-{campaign}-{str(index).strip()}"


def _numbers(frame: pd.DataFrame, column: str, label: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna()
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{label}, line {int(frame[LINE].iloc[position])}: {column} "
            f"{frame[column].iloc[position]!r} is not a number",
            field=column,
        )
    return values


def _transform(
    file: Path, policy: str | None, campaign: str
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            raise DataError(
                f"{file}: column(s) {', '.join(map(repr, missing))} missing; an Open Bandit "
                f"Dataset file has {', '.join(REQUIRED)}, ...",
                field="file",
            )
        clicks = _numbers(frame, "click", str(file))
        not_binary = ~clicks.isin([0, 1])
        if not_binary.any():
            position = int(np.flatnonzero(not_binary.to_numpy())[0])
            raise DataError(
                f"{file}, line {int(frame[LINE].iloc[position])}: click must be 0 or 1, got "
                f"{frame['click'].iloc[position]!r}",
                field="click",
            )
        out = pd.DataFrame(
            {
                "timestamp": frame["timestamp"],
                "__user__": user_ids(frame),
                "__item__": [item_id(campaign, i) for i in frame["item_id"]],
                "__type__": "view",
                "position": _numbers(frame, "position", str(file)).astype("int64"),
                "propensity": _numbers(frame, "propensity_score", str(file)).astype("float64"),
                "click": clicks.astype("int64"),
                "policy": policy,
                "campaign": campaign,
                "row": pd.to_numeric(frame[frame.columns[0]], errors="coerce").astype("Int64"),
                LINE: frame[LINE],
            }
        )
        for name in USER_FEATURES:
            out[name] = frame[name]
        clicked = out[out["click"] == 1].assign(__type__="click")
        both = pd.concat([out, clicked], ignore_index=True)
        return both.sort_values(LINE, kind="stable").reset_index(drop=True)

    return transform


def _campaign_files(path: Path) -> list[Path]:
    """The campaign files named by a file or folder (see the module docstring)."""
    if path.is_file():
        if path.name == "item_context.csv":
            path = path.parent
        else:
            return [path]
    own = path / f"{path.name}.csv"
    if own.exists():
        return [own]
    found = sorted(
        f for f in path.glob("**/*.csv") if f.stem == f.parent.name and f.name != "item_context.csv"
    )
    if not found:
        raise DataError(
            f"{path}: no Open Bandit Dataset file here (expected {{policy}}/{{campaign}}/"
            "{campaign}.csv, e.g. random/all/all.csv)",
            field="file",
        )
    return found


def _names(file: Path) -> tuple[str | None, str]:
    """(policy, campaign) from ``{policy}/{campaign}/{campaign}.csv``; policy None elsewhere."""
    campaign = file.stem
    policy = file.parent.parent.name if file.parent.name == campaign else None
    return policy or None, campaign


def item_context(file: Path, *, text: bool = True) -> pd.DataFrame | None:
    """The ``item_context.csv`` beside a campaign file (None when there is none).

    ``text=True`` reads every column as text (the import keeps the hashed labels as written);
    ``text=False`` lets numbers be numbers and uses the file's first column as the index.
    """
    context = file.parent / "item_context.csv"
    if not context.exists():
        return None
    options = CsvOptions(sep=",") if text else CsvOptions(sep=",", text=False, index_col=0)
    return read_table(context, options, field="item_context.csv")


def _items(files: list[Path]) -> Iterable[dict[str, Any]]:
    for file in files:
        _, campaign = _names(file)
        context = file.parent / "item_context.csv"
        frame = item_context(file)
        if frame is None:
            continue
        missing = [c for c in ("item_id", *ITEM_FEATURES) if c not in frame.columns]
        if missing:
            raise DataError(
                f"{context}: column(s) {', '.join(missing)} missing", field="item_context.csv"
            )
        numeric = pd.to_numeric(frame["item_feature_0"], errors="coerce")
        for position, index in enumerate(frame["item_id"]):
            attributes: dict[str, Any] = {"campaign": campaign, "index": int(index)}
            value = numeric.iloc[position]
            if pd.notna(value):
                attributes["item_feature_0"] = float(value)
            for name in ITEM_FEATURES[1:]:
                text = frame[name].iloc[position].strip()
                if text:
                    attributes[name] = text
            yield {"item_id": item_id(campaign, index), "attributes": attributes}


def plan(path: Path) -> ImportPlan:
    """The import plan of Open Bandit Dataset files.

    Parameters
    ----------
    path : Path
        A campaign file ``{policy}/{campaign}/{campaign}.csv``, its folder or ``item_context.csv``,
        a policy folder, or the data set's root folder.

    Returns
    -------
    ImportPlan
        View and click events of every campaign file and the items of their ``item_context.csv``.

    Raises
    ------
    DataError
        No campaign file found; while importing: a missing column or a bad number.
    """
    files = _campaign_files(path)
    sources = []
    for file in files:
        policy, campaign = _names(file)
        mapping = {
            "anonymous": "__user__",
            "item": "__item__",
            "time": "timestamp",
            "type": "__type__",
            "context.position": "position",
            "context.propensity": "propensity",
            "context.click": "click",
            "context.campaign": "campaign",
            "context.row": "row",
            **{f"context.{name}": name for name in USER_FEATURES},
        }
        if policy is not None:
            mapping["context.policy"] = "policy"
        sources.append(
            EventSource(
                path=file,
                mapping=mapping,
                defaults=EventDefaults(channel="web"),
                csv=CsvOptions(sep=","),
                transform=_transform(file, policy, campaign),
                label=str(file),
            )
        )
    label = files[0].name if len(files) == 1 else f"{len(files)} files"
    return ImportPlan(sources=sources, items=lambda: list(_items(files)), name=f"obd:{label}")


# -- the campaign file as logged bandit feedback (off-policy evaluation) -------------------------

_LOG_REQUIRED = ("item_id", "position", "click", "propensity_score")


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
    items : pandas.DataFrame, optional
        ``item_context.csv`` indexed by item index (None when the file is absent).
    """

    log: BanditLog
    action_features: np.ndarray
    pair_features: np.ndarray
    frame: pd.DataFrame
    items: pd.DataFrame | None = None


def load_obd(path: str | Path) -> OBDLog:
    """Read an OBD campaign file (and ``item_context.csv`` beside it when present).

    OBD is the one public log with true propensities and an on-policy random log to check
    against, so it is the reference test of every off-policy estimator.

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
    frame = read_table(path, CsvOptions(sep=",", text=False, index_col=0), field="logs")
    missing = [c for c in _LOG_REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"{path.name}: missing OBD column {missing[0]!r}", field=missing[0])
    aff_cols = sorted(
        (c for c in frame.columns if c.startswith("user-item_affinity_")),
        key=lambda c: int(c.rsplit("_", 1)[1]),
    )
    raw_items = item_context(path, text=False)
    n_items = max(
        len(aff_cols),
        int(frame["item_id"].max()) + 1,
        len(raw_items) if raw_items is not None else 0,
    )
    items = None
    if raw_items is not None:
        items = raw_items.set_index("item_id")
        table = raw_items.set_index("item_id").reindex(range(n_items))
        num = table[["item_feature_0"]].fillna(0.0).to_numpy(dtype=np.float64)
        cats = pd.get_dummies(table.drop(columns=["item_feature_0"]).astype(str)).to_numpy(float)
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
    return OBDLog(log, action_features, pair, frame, items)
