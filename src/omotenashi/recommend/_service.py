"""Use cases over a store: train, recommend for a customer / a visit / everyone, similar items.

Every function takes ``om``: any object with ``events_frame()``, ``items_frame()`` and ``root``
(the :class:`omotenashi.Omotenashi` engine qualifies). Models are read from and written to
``om.root / "models"``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from omotenashi.errors import DataError, NotFound
from omotenashi.recommend._artefacts import load_model, save_model, set_default
from omotenashi.recommend._base import Recommendation, Recommender
from omotenashi.recommend._data import EventWeights, interactions_from_events, sessionize
from omotenashi.recommend._registry import make_model
from omotenashi.recommend._rules import Rules

#: Models compared on the customer's own data when ``train`` is given no model name.
AUTO_CANDIDATES: tuple[str, ...] = ("recent_ease", "itemknn", "als", "popularity")
#: Session model trained next to the default model for anonymous visits.
SESSION_MODEL = "sknn"


class StoreLike(Protocol):
    """What the recommendation use cases need from a store."""

    root: Any

    def events_frame(self) -> pd.DataFrame: ...

    def items_frame(self) -> pd.DataFrame: ...


def _items(om: StoreLike) -> pd.DataFrame | None:
    items = om.items_frame()
    return items if items is not None and len(items) else None


def _select(
    interactions: pd.DataFrame, items: pd.DataFrame | None, candidates: Sequence[str]
) -> tuple[str, list[dict[str, Any]]]:
    from omotenashi.evaluation import evaluate_topn, split_p1

    try:
        val = split_p1(interactions, min_rating=None, min_positives=5)
    except DataError:
        return candidates[-1], []
    rows = evaluate_topn(val, [(name, make_model(name)) for name in candidates], items=items)
    best = max(rows, key=lambda r: r["ndcg@10"])
    return best["model"], rows


def train(
    om: StoreLike,
    model: str | None = None,
    *,
    tune: bool = False,
    weights: EventWeights | None = None,
    candidates: Sequence[str] = AUTO_CANDIDATES,
    session_model: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train, version and save the default recommender (and the session model) of a store.

    Parameters
    ----------
    om : StoreLike
    model : str, optional
        Model name; None compares ``candidates`` on a validation split cut from the store's own
        data (last 20 % of each customer's interactions) and keeps the best by NDCG@10.
    tune : bool
        Grid-search the chosen model's hyper-parameters on that validation split first.
    weights : EventWeights, optional
        Event-type weights (default :data:`DEFAULT_EVENT_WEIGHTS`).
    candidates : sequence of str
        Models compared when ``model`` is None.
    session_model : bool
        Also train the session model used for anonymous visits.
    progress : callable, optional
        Receives a short message at each step.

    Returns
    -------
    dict
        Metadata of the saved model (``model``, ``version``, ``path``, ``params``,
        ``data_range``, ``metrics``, ``selection``, ``fit_s``).

    Raises
    ------
    DataError
        The store has no usable interactions (empty store).
    """
    from omotenashi.evaluation import TUNE_GRIDS
    from omotenashi.evaluation import tune as tune_grid

    say = progress or (lambda message: None)
    weights = weights or EventWeights()
    events = om.events_frame()
    items = _items(om)
    interactions = interactions_from_events(events, weights)
    if interactions.empty:
        raise DataError("the store has no events with items yet: nothing to train on")
    selection: list[dict[str, Any]] = []
    if model is None:
        say(f"comparing {', '.join(candidates)} on a validation split of your data")
        model, selection = _select(interactions, items, candidates)
    params: dict[str, Any] = {}
    tuning: list[dict[str, Any]] = []
    if tune and model in TUNE_GRIDS:
        say(f"tuning {model} on the validation split")
        try:
            params, tuning = tune_grid(model, interactions, TUNE_GRIDS[model], items=items)
        except DataError:
            params, tuning = {}, []
    say(f"fitting {model} on all {len(interactions):,} interactions")
    estimator = make_model(model, **params)
    start = time.perf_counter()
    estimator.fit(interactions, items)
    fit_s = time.perf_counter() - start
    chosen = next((r for r in selection if r["model"] == model), None)
    best_tuned = max(tuning, key=lambda r: r["ndcg@10"]) if tuning else None
    metrics = best_tuned or chosen
    meta = {
        "saved_at": datetime.now(UTC).isoformat(),
        "fit_s": round(fit_s, 3),
        "metrics": (
            {k: metrics[k] for k in ("ndcg@10", "recall@20", "coverage", "novelty")}
            if metrics
            else None
        ),
        "selection": [
            {"model": r["model"], "ndcg@10": r["ndcg@10"], "recall@20": r["recall@20"]}
            for r in selection
        ],
        "tuned": bool(tuning),
        "event_weights": dict(weights.weights),
    }
    path = save_model(estimator, om.root, metadata=meta)
    set_default(om.root, model)
    result = {"model": model, "version": int(path.name[1:]), "path": str(path), **meta}
    result["params"] = estimator.get_params()
    result["data_range"] = list(estimator.data_range_)
    if session_model:
        say("fitting the session model for anonymous visits")
        sessions = sessionize(events[events["item_id"].notna()])
        if len(sessions):
            frame = sessions.rename(columns={"session_id": "user_id"})[
                ["user_id", "item_id", "timestamp"]
            ]
            sknn = make_model(SESSION_MODEL).fit(frame, items)
            save_model(sknn, om.root, metadata={"saved_at": meta["saved_at"]})
            result["session_model"] = SESSION_MODEL
    return result


_CACHE: dict[tuple[str, str | None], tuple[float, Recommender, dict[str, Any]]] = {}


def _model(om: StoreLike, name: str | None = None) -> tuple[Recommender, dict[str, Any]]:
    """Load (and cache in-process) the default model or a named one."""
    from pathlib import Path

    root = Path(om.root)
    key = (str(root), name)
    marker = root / "models" / ("DEFAULT" if name is None else name)
    stamp = marker.stat().st_mtime if marker.exists() else -1.0
    if marker.is_dir():
        stamp = max((p.stat().st_mtime for p in marker.glob("v*")), default=stamp)
    cached = _CACHE.get(key)
    if cached and cached[0] == stamp:
        return cached[1], cached[2]
    model, meta = load_model(root, name)
    _CACHE[key] = (stamp, model, meta)
    return model, meta


def recommend_for_customer(
    om: StoreLike,
    customer_id: str,
    n: int = 10,
    *,
    rules: Rules | None = None,
    explain: bool = True,
    context: Sequence[str] | None = None,
    model: str | None = None,
) -> list[Recommendation]:
    """Recommendations for one customer from the trained default model.

    A customer the model has never seen gets recommendations from ``context`` when given, else
    the popular items (cold start). Raises ``NotFound`` when no model was trained.
    """
    estimator, _ = _model(om, model)
    return estimator.recommend(str(customer_id), n, context=context, rules=rules, explain=explain)


def recommend_for_session(
    om: StoreLike,
    items: Sequence[str],
    n: int = 10,
    *,
    rules: Rules | None = None,
    explain: bool = True,
) -> list[Recommendation]:
    """Recommendations for an anonymous visit from its clicks so far (oldest first).

    Uses the session model when one was trained, else the default model.
    """
    try:
        estimator, _ = _model(om, SESSION_MODEL)
    except NotFound:
        estimator, _ = _model(om)
    return estimator.recommend_session(list(items), n, rules=rules, explain=explain)


def similar_items(
    om: StoreLike,
    item_id: str,
    n: int = 10,
    *,
    rules: Rules | None = None,
    model: str | None = None,
) -> list[Recommendation]:
    """Items similar to ``item_id`` according to the default (or named) model."""
    estimator, _ = _model(om, model)
    return estimator.similar_items(item_id, n, rules=rules)


def recommend_all_customers(
    om: StoreLike,
    n: int = 20,
    *,
    rules: Rules | None = None,
    model: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Top-``n`` for every known customer, already-seen items excluded unless rules say otherwise.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id``, ``rank`` (1 = best), ``item_id``, ``score``; customers with fewer
        allowed items have fewer rows.
    """
    estimator, _ = _model(om, model)
    events = om.events_frame()
    customers = None
    if "customer_id" in events.columns:
        known = pd.unique(events["customer_id"].dropna().astype(str))
        in_model = set(estimator.user_ids_.tolist())
        customers = [c for c in known if c in in_model] or None
    users, ids, scores = estimator.recommend_batch(customers, n, rules=rules, progress=progress)
    width = ids.shape[1]
    frame = pd.DataFrame(
        {
            "customer_id": np.repeat(users, width),
            "rank": np.tile(np.arange(1, width + 1), len(users)),
            "item_id": ids.ravel(),
            "score": scores.ravel(),
        }
    )
    return frame[frame["item_id"] != ""].reset_index(drop=True)


def demo_recommendations(
    om: StoreLike, customer_id: str, n: int = 5, *, model: str | None = None
) -> dict[str, Any]:
    """What ``omotenashi demo`` shows: train on the store, then recommendations with reasons.

    ``model`` None lets :func:`train` choose on the store's data (slower: it compares models);
    a name trains that model directly.

    Returns a JSON-ready dict with the model trained, the customer's recommendations (with
    reasons and titles) and similar items for their first recommendation.
    """
    info = train(om, model)
    items = _items(om)
    titles = (
        dict(zip(items["item_id"].astype(str), items["title"], strict=False))
        if items is not None and "title" in items
        else {}
    )

    def rows(recs: list[Recommendation]) -> list[dict[str, Any]]:
        return [
            {
                "rank": r.rank,
                "item_id": r.item_id,
                "title": titles.get(r.item_id, r.item_id),
                "score": r.score,
                "reasons": [reason.text for reason in r.reasons],
            }
            for r in recs
        ]

    recs = recommend_for_customer(om, customer_id, n)
    similar = similar_items(om, recs[0].item_id, n) if recs else []
    return {
        "model": info["model"],
        "version": info["version"],
        "customer_id": customer_id,
        "recommendations": rows(recs),
        "similar_to_first": rows(similar),
    }
