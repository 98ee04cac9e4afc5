"""Offline runner: fit each model on the same split, score it the same way, report one row each.

Peers and our models go through exactly the same code path, so a difference in a row is a
difference in the model, not in the evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.evaluation._metrics import (
    catalogue_coverage,
    hit_rate_at_k,
    intra_list_diversity,
    mean_popularity,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    recall_at_k,
)
from omotenashi.evaluation._protocols import SessionSplit, TopNSplit
from omotenashi.recommend import Recommender, make_model

Candidate = tuple[str, Recommender]


def topn_peers() -> list[Candidate]:
    """The peers every top-N evaluation runs: popularity, EASE (λ 100/300/1000), ``implicit`` ALS
    (factors 64/128 × regularisation 0.01/0.1) and ``implicit`` BM25 item-kNN."""
    peers: list[Candidate] = [("popularity", make_model("popularity"))]
    peers += [("ease", make_model("ease", l2=float(lam))) for lam in (100, 300, 1000)]
    peers += [
        ("als", make_model("als", factors=f, regularization=r, alpha=1.0, iterations=15))
        for f in (64, 128)
        for r in (0.01, 0.1)
    ]
    peers.append(("itemknn_bm25", make_model("itemknn_bm25", k=100)))
    return peers


def _params(model: Recommender) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.get_params().items()}


def _test_sets(split: TopNSplit) -> tuple[np.ndarray, list[set[str]]]:
    grouped = split.test.groupby("user_id", sort=True)["item_id"].agg(set)
    return grouped.index.to_numpy(dtype=str), list(grouped.to_numpy())


def evaluate_topn(
    split: TopNSplit,
    models: Iterable[Candidate],
    *,
    items: pd.DataFrame | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Protocol P1 scoring of several models on one split.

    Every model is fitted on ``split.train``; each test user gets a full ranking of the catalogue
    with their train items excluded; NDCG@10 and Recall@20 are averaged over test users.

    Parameters
    ----------
    split : TopNSplit
    models : iterable of (label, Recommender)
    items : pandas.DataFrame, optional
        Item metadata given to ``fit`` (content and hybrid models use it).
    on_result : callable, optional
        Called with each row as soon as it is ready (streaming output).

    Returns
    -------
    list of dict
        Keys ``model``, ``params``, ``ndcg@10``, ``recall@20``, ``coverage``, ``novelty``,
        ``diversity``, ``fit_s``, ``score_us_per_user``, ``n_users``.
    """
    users, relevant = _test_sets(split)
    rows = []
    for label, model in models:
        start = time.perf_counter()
        model.fit(split.train, items)
        row = _topn_row(label, model, users, relevant, time.perf_counter() - start)
        rows.append(row)
        if on_result is not None:
            on_result(row)
    return rows


def _topn_row(
    label: str, model: Recommender, users: np.ndarray, relevant: list[set[str]], fit_s: float
) -> dict[str, Any]:
    n_relevant = np.array([len(r) for r in relevant])
    start = time.perf_counter()
    _, rec_ids, _ = model.recommend_batch(users, n=20)
    score_s = time.perf_counter() - start
    hits = np.array([[i in rel for i in row] for row, rel in zip(rec_ids, relevant, strict=True)])
    rec_idx = model._item_index.get_indexer(rec_ids.ravel()).reshape(rec_ids.shape)
    vectors = sp.csr_matrix(model.user_items_.T)
    return {
        "model": label,
        "params": _params(model),
        "ndcg@10": float(ndcg_at_k(hits, n_relevant, 10).mean()),
        "recall@20": float(recall_at_k(hits, n_relevant, 20).mean()),
        "coverage": catalogue_coverage(rec_idx[:, :10], len(model.item_ids_)),
        "novelty": novelty(rec_idx[:, :10], model.item_popularity_, len(model.user_ids_)),
        "diversity": intra_list_diversity(rec_idx[:, :10], vectors),
        "fit_s": round(fit_s, 3),
        "score_us_per_user": round(1e6 * score_s / max(len(users), 1), 1),
        "n_users": int(len(users)),
    }


def evaluate_sessions(
    split: SessionSplit,
    models: Iterable[Candidate],
    *,
    k: int = 20,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    per_prediction: bool = False,
) -> list[dict[str, Any]]:
    """Protocol S1 scoring: next-click prediction at every position of every test session.

    Models are fitted on the training clicks with sessions as users. For position ``i`` the model
    sees the first ``i`` clicks (``recommend_session``, no filtering) and returns ``k`` items.

    Returns
    -------
    list of dict
        Keys ``model``, ``params``, ``hr@20``, ``mrr@20``, ``coverage``, ``popularity``,
        ``fit_s``, ``score_us_per_event``, ``n_predictions``. With ``per_prediction`` also
        ``per_prediction``: arrays over the predictions, in the same order for every model,
        ``session`` (the test session's position, 0-based, in the order of ``split.test``),
        ``hr@k`` and ``mrr@k`` (each prediction's hit and reciprocal rank), for paired
        comparisons and confidence intervals.
    """
    train = split.train.rename(columns={"session_id": "user_id"})[
        ["user_id", "item_id", "timestamp"]
    ]
    sessions = [list(g) for _, g in split.test.groupby("session_id", sort=False)["item_id"]]
    rows = []
    for label, model in models:
        start = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - start
        hits, recs = [], []
        start = time.perf_counter()
        for clicks in sessions:
            for i in range(1, len(clicks)):
                ranked = [r.item_id for r in model.recommend_session(clicks[:i], k, explain=False)]
                hits.append([item == clicks[i] for item in ranked] + [False] * (k - len(ranked)))
                recs.append(ranked + [""] * (k - len(ranked)))
        score_s = time.perf_counter() - start
        hits_arr = np.array(hits, dtype=bool).reshape(-1, k)
        rec_idx = model._item_index.get_indexer(np.array(recs).ravel()).reshape(-1, k)
        hr, rr = hit_rate_at_k(hits_arr, k), mrr_at_k(hits_arr, k)
        row = {
            "model": label,
            "params": _params(model),
            f"hr@{k}": float(hr.mean()),
            f"mrr@{k}": float(rr.mean()),
            "coverage": catalogue_coverage(rec_idx, len(model.item_ids_)),
            "popularity": mean_popularity(rec_idx, model.item_popularity_),
            "fit_s": round(fit_s, 3),
            "score_us_per_event": round(1e6 * score_s / max(len(hits), 1), 1),
            "n_predictions": int(len(hits)),
        }
        if per_prediction:  # one prediction per click after the first of each session
            session = np.repeat(np.arange(len(sessions)), [max(len(c) - 1, 0) for c in sessions])
            row["per_prediction"] = {"session": session, f"hr@{k}": hr, f"mrr@{k}": rr}
        rows.append(row)
        if on_result is not None:
            on_result(row)
    return rows


def session_peers() -> list[Candidate]:
    """Peers of the session protocol: popularity, EASE (λ 100/300/1000), ALS, BM25 item-kNN,
    and the session-kNN methods V-SKNN, STAN and VSTAN with their default settings
    (``benchmarks/sessions.py`` tunes them)."""
    return topn_peers()[:4] + [
        ("als", make_model("als", factors=64, regularization=0.01, alpha=1.0)),
        ("itemknn_bm25", make_model("itemknn_bm25", k=100)),
        ("vsknn", make_model("vsknn")),
        ("stan", make_model("stan")),
        ("vstan", make_model("vstan")),
    ]
