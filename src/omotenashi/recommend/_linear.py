"""Item-to-item linear models: EASE (optionally with dropout: EDLAE) and item-kNN (cosine, BM25,
TF-IDF).

Both score a history ``x`` as ``x · B`` with an item × item matrix ``B``; this is what makes
their explanations exact: item ``i``'s score is the sum over history items ``j`` of
``x_j · B[j, i]``, so "because you watched X and Y" names the largest terms of that sum.

**Dropout (DLAE, EDLAE).** EASE's ridge penalty is the same λ for every item. Steck,
"Autoencoders that don't overfit towards the identity" (NeurIPS 2020), shows that training a
linear autoencoder on inputs with dropout rate ``p`` is, in expectation, a ridge penalty that grows
with each item's own Gram diagonal: ``Λ = λI + p/(1 − p) · diagMat(diag(XᵀX))``. Popular items
(large ``(XᵀX)_jj``) are penalised more, which counters the pull of ``B`` towards the identity
where the data are densest. With ``P = (XᵀX + Λ)⁻¹``:

* DLAE (denoising, no constraint): ``B = P · XᵀX = I − P · Λ``;
* EDLAE (the paper's "emphasised" denoising, full rank): EASE's closed form with that ``Λ``,
  ``B = I − P · diagMat(1/diag(P))``, zero diagonal.

Both are ``−P`` with its columns rescaled (by ``Λ_jj`` or by ``1/P_jj``) off the diagonal.
:class:`EASE` takes ``dropout`` (``p``; 0 and the zero-diagonal constraint are EASE exactly) and
``zero_diagonal`` (False: DLAE). DLAE's diagonal (an item's weight on itself) only scores items
already in a history, which recommendations leave out; it is dropped when the weights are stored,
so every model here keeps ``B`` with a zero diagonal and the reasons (the terms ``x_j · B[j, i]``)
still add up to the served score. Why these models: without a time signal ``train``'s two best
candidates (EASE and item-kNN) learn nearly the same item-item structure and their blend adds
little; DLAE/EDLAE is a different item-item solution at the same cost, with the same exact
explanations.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import lapack

from omotenashi.errors import DataError
from omotenashi.recommend._base import Recommender, csr_view, split_terms, split_terms_many


class _Terms(NamedTuple):
    """One history row's query: item positions and their weights."""

    indices: np.ndarray
    data: np.ndarray


class _ItemItemModel(Recommender):
    """Shared scoring of ``x · B`` with optional recency weighting and popularity damping.

    The query weight of a history item is ``w · (1 + recency_boost · exp(-(age - 1) /
    recency_scale))`` where ``age`` is 1 for the most recent item; scores above 0 are divided by
    ``(1 + popularity) ** popularity_exponent``.
    """

    #: Parameters that change scoring only (no refit needed when they change).
    scoring_params = ("recency_boost", "recency_scale", "popularity_exponent")
    #: A score is a sum of one term per history item (times the popularity damping).
    exact_reasons = True

    def _query(self, X: sp.csr_matrix, ages: sp.csr_matrix) -> sp.csr_matrix:
        if not self.recency_boost:
            return X
        # X's structure with the weighted values (built once: no copy of X to overwrite)
        return sp.csr_matrix((self._query_terms(X, ages).data, X.indices, X.indptr), shape=X.shape)

    def _query_terms(self, x: sp.csr_matrix, ages: sp.csr_matrix) -> _Terms:
        """``_query`` as the stored positions and weights of ``x`` (``ages`` alike), without
        building sparse matrices (one history row on the request path)."""
        q = x.data.astype(np.float32)
        if self.recency_boost:
            q = q * (
                1.0 + self.recency_boost * np.exp(-(ages.data - 1.0) / self.recency_scale)
            ).astype(np.float32)
        return _Terms(x.indices, q)

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._damp_key = None
        self._slot_cache = None
        self._learned_damp = None

    # Weights of only some items (EASE with ``min_support``): ``B_`` is then the block of the
    # learned items, ``learned_`` their positions (sorted); the other items score 0. Half the
    # items of ml-latest-small are seen by one customer only: the block holds a sixth of the
    # full matrix's entries, and scoring a request reads only its rows of learned items.
    learned_: np.ndarray | None = None

    def _slots(self) -> np.ndarray:
        """Position of every item in the learned block (-1: not learned)."""
        if getattr(self, "_slot_cache", None) is None:
            slots = np.full(len(self.item_ids_), -1, dtype=np.int64)
            slots[self.learned_] = np.arange(len(self.learned_))
            self._slot_cache = slots
        return self._slot_cache

    def _learned_columns(self, Q: sp.csr_matrix) -> sp.csr_matrix:
        """``Q`` restricted to the learned items' columns, in block positions."""
        Q = sp.csr_matrix(Q)
        slots = self._slots()[Q.indices]
        keep = slots >= 0
        rows = np.repeat(np.arange(Q.shape[0]), np.diff(Q.indptr))
        indptr = np.zeros(Q.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[keep], minlength=Q.shape[0]), out=indptr[1:])
        return sp.csr_matrix(
            (Q.data[keep], slots[keep], indptr), shape=(Q.shape[0], len(self.learned_))
        )

    def _damping(self) -> np.ndarray | None:
        """Each item's damping factor ``(1 + popularity) ** -popularity_exponent`` (cached);
        None without damping."""
        if not self.popularity_exponent:
            return None
        key = (self.popularity_exponent, len(self.item_popularity_))
        if getattr(self, "_damp_key", None) != key:
            self._damp_factor = (1.0 + self.item_popularity_) ** -self.popularity_exponent
            self._damp_key = key
        return self._damp_factor

    def _damp(self, S: np.ndarray) -> np.ndarray:
        damping = self._damping()
        return S if damping is None else np.where(S > 0, S * damping, S)

    #: Most history rows scored by gathering them from a dense ``B`` (one request); longer
    #: histories go through the sparse product, which reads the rows without copying them.
    _GATHER_ROWS = 64

    def _score(self, X: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        if X.shape[0] == 1 and not sp.issparse(self.B_):
            return self._score_one(X, ages)[None, :]
        Q = self._query(X, ages)
        if self.learned_ is None:
            S = Q @ self.B_
            S = S.toarray() if sp.issparse(S) else np.asarray(S)
        else:
            block = self._learned_columns(Q) @ self.B_
            block = block.toarray() if sp.issparse(block) else np.asarray(block)
            S = np.zeros((X.shape[0], len(self.item_ids_)), dtype=block.dtype)
            S[:, self.learned_] = block
        return self._damp(S)

    def _score_one(self, x: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        """``_score`` of one history with a dense ``B``, without building sparse matrices.

        A served request scores one history: the general path builds three sparse matrices
        and a full-width product for it, which costs more than the arithmetic (measured on
        ml-latest-small: 0.64 ms against 0.03 ms for a 10-item history). Same values as the
        general path (float32 sums of the same terms, possibly in another order).
        """
        rows, q = self._query_terms(x, ages)
        if self.learned_ is not None:
            rows = self._slots()[rows]
            kept = rows >= 0
            rows, q = rows[kept], q[kept]
        n_block = self.B_.shape[0]
        if rows.size <= self._GATHER_ROWS:
            block = q @ self.B_[rows] if rows.size else np.zeros(n_block, dtype=np.float32)
        else:
            indptr = np.array([0, rows.size], dtype=np.int64)
            block = np.asarray(csr_view(q, rows, indptr, (1, n_block)) @ self.B_).ravel()
        if self.learned_ is None:
            return self._damp(block[None, :])[0]
        # the items not learned score 0, which damping leaves as it is: damp the block only
        damping = self._damping()
        if damping is not None:
            block = self._damp_learned(block, damping)
        S = np.zeros(len(self.item_ids_), dtype=block.dtype)
        S[self.learned_] = block
        return S

    def _damp_learned(self, block: np.ndarray, damping: np.ndarray) -> np.ndarray:
        """:meth:`_damp` of the learned items' scores (``block``), with their damping factors
        (cached: a served answer must not gather them from the catalogue's each time)."""
        cache = getattr(self, "_learned_damp", None)
        if cache is None or cache[0] is not damping:
            cache = self._learned_damp = (damping, damping[self.learned_])
        return np.where(block > 0, block * cache[1], block)

    def _similar_scores(self, pos: int, x: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        if self.learned_ is not None:
            out = np.zeros(len(self.item_ids_))
            slot = self._slots()[pos]
            if slot >= 0:
                out[self.learned_] = self.B_[slot]
            return out
        row = self.B_[pos]
        row = row.toarray().ravel() if sp.issparse(row) else np.asarray(row).ravel()
        return row.astype(np.float64)

    def _contributions(self, x, ages, item):
        return self._contributions_many(x, ages, np.array([item]))[0]

    def _contributions_many(self, x, ages, items):
        # item i's score is sum_j q_j B[j, i] (times the damping when positive): the terms of
        # that sum are the reasons, negative ones included, so they add up to the score
        q = self._query_terms(x, ages)
        if self.learned_ is not None:
            slots = self._slots()
            rows, cols = slots[q.indices], slots[items]
            if rows.min(initial=0) >= 0 and cols.min(initial=0) >= 0:  # all learned (usual)
                block = self.B_[rows[:, None], cols]
            else:
                block = np.zeros((len(rows), len(cols)), dtype=self.B_.dtype)
                r, c = np.flatnonzero(rows >= 0), np.flatnonzero(cols >= 0)
                block[np.ix_(r, c)] = self.B_[np.ix_(rows[r], cols[c])]
        elif sp.issparse(self.B_):
            block = self.B_[q.indices][:, items].toarray()
        else:
            block = self.B_[np.ix_(q.indices, items)]
        values = q.data.astype(np.float64)[:, None] * block.astype(np.float64)
        damping = self._damping()
        if damping is not None:
            totals = values.sum(axis=0)
            values = values * np.where(totals > 0, damping[items], 1.0)[None, :]
        return split_terms_many("history", q.indices, values)

    def _similar_contributions_many(self, pos, x, ages, items, scores):
        # a similar-item score is one weight B[pos, i]: one part
        return [split_terms("history", np.array([pos]), scores[[i]]) for i in items]

    def _state(self):
        if self.learned_ is not None:
            return {"B": self.B_, "learned": self.learned_}
        return {"B": self.B_}

    def _load_state(self, state):
        self.B_ = state["B"]
        # artefacts saved before the learned block hold the full matrix (and no "learned")
        self.learned_ = state.get("learned")
        self._slot_cache = None


class EASE(_ItemItemModel):
    """Embarrassingly Shallow Autoencoder (Steck, WWW 2019), optionally with dropout (DLAE and
    EDLAE, Steck, NeurIPS 2020; see the module docs).

    Closed form: with ``Λ = λI + p/(1 − p) · diag(XᵀX)`` (``p = dropout``; ``Λ = λI`` for plain
    EASE) and ``P = (XᵀX + Λ)⁻¹``, ``B = I − P · diag(1/diag(P))`` with a zero diagonal (EASE,
    EDLAE), or without that constraint ``B = I − P · Λ`` (DLAE; its diagonal is then dropped).

    Parameters
    ----------
    l2 : float
        Ridge penalty λ (> 0). Larger for larger data; 100–1000 is the usual range.
    dropout : float
        Dropout rate ``p`` in [0, 1) whose expected penalty is added per item (0 = EASE).
    zero_diagonal : bool
        Fit under the zero-diagonal constraint (EASE, EDLAE); False fits without it (DLAE).
    recency_boost : float
        Extra weight of a customer's most recent items when scoring (0 = plain EASE).
    recency_scale : float
        How many of the latest items the boost reaches (e-folding in rank).
    popularity_exponent : float
        Damps popular items' scores by ``(1 + popularity) ** -popularity_exponent``.
    min_support : int
        Items with fewer interacting users get no weights (score 0); 1 keeps every item.
    """

    name = "ease"

    def __init__(
        self,
        l2: float = 200.0,
        recency_boost: float = 0.0,
        recency_scale: float = 10.0,
        popularity_exponent: float = 0.0,
        min_support: int = 1,
        dropout: float = 0.0,
        zero_diagonal: bool = True,
    ) -> None:
        self.l2 = l2
        self.dropout = dropout
        self.zero_diagonal = zero_diagonal
        self.recency_boost = recency_boost
        self.recency_scale = recency_scale
        self.popularity_exponent = popularity_exponent
        self.min_support = min_support

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        if not self.l2 > 0:
            raise DataError(f"l2 must be > 0, got {self.l2}", field="l2")
        if not 0 <= self.dropout < 1:
            raise DataError(f"dropout must be in [0, 1), got {self.dropout}", field="dropout")
        support = np.diff(sp.csc_matrix(self.user_items_).indptr)
        keep = np.flatnonzero(support >= self.min_support)
        n = len(self.item_ids_)
        self._slot_cache = None
        if keep.size == n:
            self.B_ = ease_weights(self.user_items_, self.l2, self.dropout, self.zero_diagonal)
            self.learned_ = None
            return
        # Items seen fewer than min_support times get no weights (they score 0): the cubic cost
        # of the inverse then grows with the items that can actually be learned, and only their
        # block is kept (``learned_``: their positions).
        self.learned_ = keep.astype(np.int64)
        if keep.size:
            self.B_ = ease_weights(
                self.user_items_[:, keep], self.l2, self.dropout, self.zero_diagonal
            )
        else:
            self.B_ = np.zeros((0, 0), dtype=np.float32)


def ease_weights(
    X: sp.csr_matrix, l2: float, dropout: float = 0.0, zero_diagonal: bool = True
) -> np.ndarray:
    """EASE item-item weights for the interaction matrix ``X`` (float32, zero diagonal).

    With ``dropout`` ``p > 0`` the penalty on item ``j`` is ``l2 + p/(1 − p) · (XᵀX)_jj``
    instead of ``l2`` (EDLAE); with ``zero_diagonal=False`` the weights are the unconstrained
    ``I − P · Λ`` with the diagonal dropped (DLAE; see the module docs).

    Uses a float32 Cholesky inverse (LAPACK ``potrf``/``potri``), falling back to float64 when
    float32 is not accurate enough to factorise.

    Parameters
    ----------
    X : scipy.sparse matrix, shape (n_users, n_items)
    l2 : float
        Ridge penalty added to the Gram matrix's diagonal.
    dropout : float
        Dropout rate in [0, 1); 0 gives EASE.
    zero_diagonal : bool
        The zero-diagonal constraint (EASE, EDLAE); False: DLAE.

    Returns
    -------
    numpy.ndarray of float32, shape (n_items, n_items)
    """
    G = (X.T @ X).toarray()
    # Λ's diagonal: l2, plus the expected penalty of dropout (p / (1 - p) times the item's
    # own Gram entry)
    penalty = np.full(G.shape[0], float(l2)) + (dropout / (1.0 - dropout)) * np.diag(G)
    for potrf, potri, dtype in (
        (lapack.spotrf, lapack.spotri, np.float32),
        (lapack.dpotrf, lapack.dpotri, np.float64),
    ):
        A = G.astype(dtype)
        A[np.diag_indices_from(A)] += penalty
        c, info = potrf(A, lower=False, overwrite_a=True)
        if info == 0:
            P, info = potri(c, lower=False, overwrite_c=True)
            if info == 0:
                break
    else:
        raise DataError("the Gram matrix could not be inverted; increase l2")
    lower = np.tril_indices(P.shape[0], -1)
    P[lower] = P.T[lower]
    # off the diagonal B = -P with column j scaled by 1/P_jj (zero-diagonal constraint) or by
    # Λ_jj (none: B = I - PΛ); the diagonal is 0 in both stored forms
    if zero_diagonal:
        P /= -np.diag(P)[None, :]
    else:
        P *= -penalty.astype(P.dtype)[None, :]
    np.fill_diagonal(P, 0.0)
    # LAPACK hands back Fortran order; scoring multiplies by rows, so store C order
    return np.ascontiguousarray(P, dtype=np.float32)


class RecentEASE(EASE):
    """EASE that weighs what a customer did lately more, and damps blockbusters a little.

    Same model as :class:`EASE`; only the scoring differs (and items seen once are not learned,
    which makes fitting several times faster at no measurable loss). Defaults were chosen on
    validation splits cut from the *training* part of MovieLens data and checked on other data (see
    ``docs/recommend.md``).
    """

    name = "recent_ease"

    def __init__(
        self,
        l2: float = 200.0,
        recency_boost: float = 3.0,
        recency_scale: float = 10.0,
        popularity_exponent: float = 0.1,
        min_support: int = 2,
        dropout: float = 0.0,
        zero_diagonal: bool = True,
    ) -> None:
        super().__init__(
            l2,
            recency_boost,
            recency_scale,
            popularity_exponent,
            min_support,
            dropout,
            zero_diagonal,
        )


class ItemKNN(_ItemItemModel):
    """Item-based k-nearest-neighbours with cosine, BM25 or TF-IDF weighting.

    The neighbour matrix comes from the ``implicit`` library (``CosineRecommender``,
    ``BM25Recommender``, ``TFIDFRecommender``): per item its ``k`` most similar items.

    Parameters
    ----------
    k : int
        Neighbours kept per item.
    weighting : {"cosine", "bm25", "tfidf"}
    bm25_k1, bm25_b : float
        BM25 parameters.
    recency_boost, recency_scale, popularity_exponent : float
        As in :class:`EASE`.
    """

    name = "itemknn"

    def __init__(
        self,
        k: int = 100,
        weighting: str = "cosine",
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        recency_boost: float = 0.0,
        recency_scale: float = 10.0,
        popularity_exponent: float = 0.0,
    ) -> None:
        self.k = k
        self.weighting = weighting
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.recency_boost = recency_boost
        self.recency_scale = recency_scale
        self.popularity_exponent = popularity_exponent

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        # implicit stores row i = neighbours of i; scoring sums rows of the history items
        self.B_ = item_neighbours(
            self.user_items_, self.k, self.weighting, self.bm25_k1, self.bm25_b
        )


class BM25ItemKNN(ItemKNN):
    """:class:`ItemKNN` with BM25 weighting (the ``implicit`` peer)."""

    name = "itemknn_bm25"

    def __init__(
        self,
        k: int = 100,
        weighting: str = "bm25",
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        recency_boost: float = 0.0,
        recency_scale: float = 10.0,
        popularity_exponent: float = 0.0,
    ) -> None:
        super().__init__(
            k, weighting, bm25_k1, bm25_b, recency_boost, recency_scale, popularity_exponent
        )


def item_neighbours(
    user_items: sp.csr_matrix,
    k: int,
    weighting: str = "cosine",
    bm25_k1: float = 1.2,
    bm25_b: float = 0.75,
) -> sp.csr_matrix:
    """Each item's ``k`` most similar items (row ``i``: the neighbours of ``i``, zero diagonal),
    from the ``implicit`` library's cosine, BM25 or TF-IDF item-kNN on ``user_items``."""
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender, TFIDFRecommender
    from implicit.utils import ParameterWarning

    if weighting == "cosine":
        model = CosineRecommender(K=k + 1, num_threads=1)
    elif weighting == "bm25":
        model = BM25Recommender(K=k + 1, K1=bm25_k1, B=bm25_b, num_threads=1)
    elif weighting == "tfidf":
        model = TFIDFRecommender(K=k + 1, num_threads=1)
    else:
        raise DataError(
            f"weighting must be 'cosine', 'bm25' or 'tfidf', got {weighting!r}",
            field="weighting",
        )
    with warnings.catch_warnings():
        # implicit converts its own COO intermediate and warns about it; nothing to act on
        warnings.simplefilter("ignore", category=ParameterWarning)
        model.fit(user_items.astype(np.float64), show_progress=False)
    S = sp.csr_matrix(model.similarity, dtype=np.float32)
    S.setdiag(0)
    S.eliminate_zeros()
    return S
