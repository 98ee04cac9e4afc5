"""Ranking metrics, written once and vectorised so every protocol and peer shares one definition.

Each metric takes a boolean *hit matrix* (one row per user or prediction, one column per rank
position, True where the item at that rank is relevant) plus the number of relevant items per row.
Working from hits keeps the metrics independent of how ids are encoded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from omotenashi.errors import DataError


def _check_hits(hits: np.ndarray, k: int) -> np.ndarray:
    hits = np.asarray(hits, dtype=bool)
    if hits.ndim != 2:
        raise DataError(f"hits must be a 2-D array (rows × ranks), got {hits.ndim} dimension(s)")
    if k < 1:
        raise DataError(f"k must be at least 1, got {k}")
    return hits[:, :k]


def hit_matrix(recommended: Sequence[Sequence[object]], relevant: Sequence[object]) -> np.ndarray:
    """Turn ranked lists and relevant sets into a boolean hit matrix.

    Parameters
    ----------
    recommended : sequence of sequences
        ``recommended[u]`` is the ranked list for row ``u``; shorter lists are padded with misses.
    relevant : sequence of collections
        ``relevant[u]`` holds the relevant ids of row ``u``.

    Returns
    -------
    numpy.ndarray of bool, shape (n_rows, max_list_length)
    """
    if len(recommended) != len(relevant):
        raise DataError(f"recommended has {len(recommended)} rows but relevant has {len(relevant)}")
    width = max((len(r) for r in recommended), default=0)
    hits = np.zeros((len(recommended), width), dtype=bool)
    for row, (ranked, rel) in enumerate(zip(recommended, relevant, strict=True)):
        rel_set = set(rel)
        for col, item in enumerate(ranked):
            hits[row, col] = item in rel_set
    return hits


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int = 10) -> np.ndarray:
    """Normalised discounted cumulative gain with binary gains, one value per row.

    .. math:: \\mathrm{NDCG@k} = \\frac{\\sum_{r=1}^{k} h_r / \\log_2(r+1)}
              {\\sum_{r=1}^{\\min(|T|, k)} 1 / \\log_2(r+1)}

    Parameters
    ----------
    hits : array-like of bool, shape (n_rows, >= k)
        ``hits[u, r]`` is True when the item at rank ``r + 1`` is relevant.
    n_relevant : array-like of int, shape (n_rows,)
        Number of relevant (test) items ``|T|`` of each row; rows with 0 get NDCG 0.
    k : int
        Cut-off.

    Returns
    -------
    numpy.ndarray of float, shape (n_rows,)
    """
    hits = _check_hits(hits, k)
    n_relevant = np.asarray(n_relevant, dtype=np.int64)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discounts[: hits.shape[1]]).sum(axis=1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cum[np.minimum(n_relevant, k)]
    out = np.zeros(len(dcg))
    np.divide(dcg, idcg, out=out, where=idcg > 0)
    return out


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int = 20) -> np.ndarray:
    """Hits in the top ``k`` divided by ``min(|T|, k)``, one value per row.

    Parameters
    ----------
    hits : array-like of bool, shape (n_rows, >= k)
    n_relevant : array-like of int, shape (n_rows,)
    k : int

    Returns
    -------
    numpy.ndarray of float, shape (n_rows,)
    """
    hits = _check_hits(hits, k)
    denom = np.minimum(np.asarray(n_relevant, dtype=np.int64), k).astype(float)
    out = np.zeros(hits.shape[0])
    np.divide(hits.sum(axis=1), denom, out=out, where=denom > 0)
    return out


def hit_rate_at_k(hits: np.ndarray, k: int = 20) -> np.ndarray:
    """1.0 where any of the top ``k`` is relevant, else 0.0 (one value per row)."""
    return _check_hits(hits, k).any(axis=1).astype(float)


def mrr_at_k(hits: np.ndarray, k: int = 20) -> np.ndarray:
    """Reciprocal rank of the first relevant item within the top ``k`` (0 when absent)."""
    hits = _check_hits(hits, k)
    first = np.argmax(hits, axis=1)
    found = hits.any(axis=1)
    return np.where(found, 1.0 / (first + 1.0), 0.0)


def catalogue_coverage(recommended: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list.

    Parameters
    ----------
    recommended : array-like of int, shape (n_rows, k)
        Item indices; negative values mean an empty slot.
    n_items : int
        Catalogue size.
    """
    if n_items <= 0:
        raise DataError(f"n_items must be positive, got {n_items}")
    rec = np.asarray(recommended).ravel()
    return float(np.unique(rec[rec >= 0]).size / n_items)


def novelty(recommended: np.ndarray, item_popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information ``-log2(p_i)`` of recommended items, ``p_i`` = share of users with i.

    Items never seen in training count with ``p = 1 / n_users`` (as novel as possible).
    """
    rec = np.asarray(recommended).ravel()
    rec = rec[rec >= 0]
    if rec.size == 0:
        return 0.0
    p = np.maximum(np.asarray(item_popularity, dtype=float)[rec], 1.0) / max(n_users, 1)
    return float(np.mean(-np.log2(p)))


def mean_popularity(recommended: np.ndarray, item_counts: np.ndarray) -> float:
    """Mean popularity of recommended items, normalised by the most popular item's count."""
    rec = np.asarray(recommended).ravel()
    rec = rec[rec >= 0]
    counts = np.asarray(item_counts, dtype=float)
    if rec.size == 0 or counts.max(initial=0) <= 0:
        return 0.0
    return float(np.mean(counts[rec] / counts.max()))


def intra_list_diversity(recommended: np.ndarray, item_vectors) -> float:
    """Mean pairwise cosine *distance* between items of the same list, averaged over lists.

    Parameters
    ----------
    recommended : array-like of int, shape (n_rows, k)
    item_vectors : scipy.sparse matrix or ndarray, shape (n_items, n_features)
        Item representation (e.g. the item columns of the interaction matrix, or genre flags).
    """
    import scipy.sparse as sp

    rec = np.asarray(recommended)
    vecs = sp.csr_matrix(item_vectors, dtype=np.float64)
    norms = np.sqrt(np.asarray(vecs.multiply(vecs).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    vecs = sp.diags(1.0 / norms) @ vecs
    values = []
    for row in rec:
        row = row[row >= 0]
        if row.size < 2:
            continue
        sub = vecs[row]
        sim = (sub @ sub.T).toarray()
        m = row.size
        values.append(1.0 - (sim.sum() - np.trace(sim)) / (m * (m - 1)))
    return float(np.mean(values)) if values else 0.0
