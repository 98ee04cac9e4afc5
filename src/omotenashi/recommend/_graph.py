"""Graph-based item-item model: RP3beta (random walks of length 3 with popularity penalisation).

Paudel, Christoffel, Newell & Bernstein, "Updatable, accurate, diverse, and scalable
recommendations for interactive applications" (ACM TiiS 2016), as evaluated by Dacrema, Cremonesi
& Jannach, "Are we really making much progress?" (RecSys 2019), where it is one of the strongest
simple baselines.

A random walk user → item → user → item on the bipartite interaction graph gives the transition
probability ``P3[j, i] = Σ_u P(u | j) · P(i | u)``; RP3beta raises every one-step transition
probability to the power ``alpha`` and divides the arrival probability by the popularity of the
arrival item raised to ``beta``:

    W[j, i] = Σ_u P(u | j)^alpha · P(i | u)^alpha / popularity(i)^beta

keeping per item ``j`` its ``k`` largest entries. A history ``x`` scores ``x · W``, like EASE and
item-kNN, so its explanations are exact (the score of ``i`` is the sum of ``x_j · W[j, i]``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.errors import DataError
from omotenashi.recommend._linear import _ItemItemModel


def _row_normalise(M: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(M.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ M)


def rp3beta_weights(
    X: sp.csr_matrix,
    alpha: float,
    beta: float,
    k: int,
    normalize: bool = True,
    block: int = 512,
) -> sp.csr_matrix:
    """RP3beta item-item weights for the interaction matrix ``X`` (users × items).

    Parameters
    ----------
    X : scipy.sparse matrix, shape (n_users, n_items)
        Non-negative interaction weights.
    alpha : float
        Exponent of the one-step transition probabilities (> 0).
    beta : float
        Popularity penalisation of the arrival item (>= 0; 0 is P3alpha).
    k : int
        Neighbours kept per item (>= 1).
    normalize : bool
        Scale each row to sum 1 after keeping the ``k`` largest (as in Dacrema et al.'s
        evaluation): every history item then hands out the same total weight.
    block : int
        Items computed per dense block (bounds memory to ``block × n_items``).

    Returns
    -------
    scipy.sparse.csr_matrix of float32, shape (n_items, n_items)
        Row ``j`` holds the weights from history item ``j`` to the items it leads to; zero
        diagonal.
    """
    X = sp.csr_matrix(X, dtype=np.float64)
    n_items = X.shape[1]
    P_ui = _row_normalise(X)  # P(i | u)
    P_iu = _row_normalise(sp.csr_matrix(X.T))  # P(u | i)
    if alpha != 1.0:
        P_ui.data **= alpha
        P_iu.data **= alpha
    popularity = np.diff(sp.csc_matrix(X).indptr).astype(np.float64)
    penalty = np.zeros(n_items)
    seen = popularity > 0
    penalty[seen] = popularity[seen] ** -beta
    keep = max(1, min(int(k), n_items - 1)) if n_items > 1 else 1
    rows, cols, vals = [], [], []
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        W = (P_iu[start:stop] @ P_ui).toarray()
        W *= penalty[None, :]
        W[np.arange(stop - start), np.arange(start, stop)] = 0.0
        if keep < n_items:
            top = np.argpartition(-W, keep - 1, axis=1)[:, :keep]
        else:
            top = np.broadcast_to(np.arange(n_items), W.shape)
        values = np.take_along_axis(W, top, axis=1)
        r = np.repeat(np.arange(start, stop), top.shape[1])
        nonzero = values.ravel() > 0
        rows.append(r[nonzero])
        cols.append(top.ravel()[nonzero])
        vals.append(values.ravel()[nonzero])
    B = sp.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
    )
    B.sort_indices()
    return _row_normalise(B).astype(np.float32) if normalize else B


class RP3beta(_ItemItemModel):
    """RP3beta graph model (Paudel et al. 2016): item-to-item random walks, popularity-penalised.

    Parameters
    ----------
    alpha : float
        Exponent of the transition probabilities (> 0); below 1 flattens them.
    beta : float
        Popularity penalisation (>= 0): an arrival item's weight is divided by its popularity
        to the power ``beta``. 0 gives P3alpha; around 0.5 is usual.
    k : int
        Neighbours kept per item.
    normalize : bool
        Rows of the item-item matrix sum to 1 (each history item hands out the same weight).
    recency_boost, recency_scale, popularity_exponent : float
        As in :class:`EASE` (scoring only).
    """

    name = "rp3beta"

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 0.5,
        k: int = 200,
        normalize: bool = True,
        recency_boost: float = 0.0,
        recency_scale: float = 10.0,
        popularity_exponent: float = 0.0,
    ) -> None:
        self.alpha = alpha
        self.beta = beta
        self.k = k
        self.normalize = normalize
        self.recency_boost = recency_boost
        self.recency_scale = recency_scale
        self.popularity_exponent = popularity_exponent

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        if not self.alpha > 0:
            raise DataError(f"alpha must be > 0, got {self.alpha}", field="alpha")
        if not self.beta >= 0:
            raise DataError(f"beta must be >= 0, got {self.beta}", field="beta")
        if not (isinstance(self.k, int | np.integer) and self.k >= 1):
            raise DataError(f"k must be a positive integer, got {self.k!r}", field="k")
        self.B_ = rp3beta_weights(
            self.user_items_, float(self.alpha), float(self.beta), self.k, bool(self.normalize)
        )
