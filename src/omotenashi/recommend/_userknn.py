"""User-based k-nearest-neighbours: items chosen by the customers whose histories are most like
this customer's.

Every other collaborative candidate of ``train`` but the factor models is item-item (EASE and
its dropout forms, item-kNN, RP3beta): a blend of them combines much the same structure. A user
neighbourhood reads the data the other way round, one customer's whole history against
another's, which is why it is a classic strong baseline that blends well with item-item models.

**Scores.** With ``x_u`` a customer's row of the interaction matrix (the interaction weights),
the shrunk cosine similarity of customers ``u`` and ``v`` is

    sim(u, v) = x_u · x_v / (‖x_u‖ ‖x_v‖ + shrink)

and ``N(u)`` are the ``k`` customers most similar to ``u`` (``u`` left out; only positive
similarities). Item ``i`` scores ``s(u, i) = Σ_{v ∈ N(u)} sim(u, v)^exponent · x_v[i]``.
Known customers' neighbour lists are computed at fit and kept (``k`` per customer, sparse:
memory grows with customers × ``k``, never customers²); a new customer, a customer with a live
visit or an anonymous visit is compared with every customer's history at request time (a sparse
product over the customers who share an item with the visit).

**Exact reasons.** The similarity is linear in the history: ``sim(u, v)^e = c_v · x_u · x_v``
with ``c_v = sim(u, v)^e / (x_u · x_v)``. So

    s(u, i) = Σ_j x_u[j] · Σ_{v ∈ N(u)} c_v · x_v[j] · x_v[i]

is a sum of one term per history item ``j``: the part of the score that came through the
neighbours' sharing ``j`` with the customer. Those terms are the reasons ("liked by customers
with tastes like yours (you liked X)"), and they add up to the served score (the neighbour set
is fixed by the request; the terms are never negative).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.errors import DataError
from omotenashi.recommend._base import Recommender, _row, split_terms_many

#: Dense similarity values held at once while neighbours are searched (rows × customers).
_BATCH_CELLS = 1 << 22


class UserKNN(Recommender):
    """User-based k-nearest-neighbours with shrunk cosine similarity (see the module docs).

    Parameters
    ----------
    k : int
        Neighbours kept per customer (≥ 1).
    shrink : float
        Added to the cosine's denominator (≥ 0): similarities resting on short histories count
        less.
    exponent : float
        Power of the similarities in the score (> 0): above 1 the closest neighbours weigh more.

    The defaults are the best of a grid on ml-100k's validation split (the tuning dataset;
    ``benchmarks/userknn_grid.py``).
    """

    name = "userknn"
    exact_reasons = True

    def __init__(self, k: int = 50, shrink: float = 30.0, exponent: float = 3.0) -> None:
        self.k = k
        self.shrink = shrink
        self.exponent = exponent

    # ----------------------------------------------------------------- fitting
    def _check(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int | np.integer) or self.k < 1:
            raise DataError(f"k must be an integer >= 1, got {self.k!r}", field="k")
        if not self.shrink >= 0:
            raise DataError(f"shrink must be >= 0, got {self.shrink!r}", field="shrink")
        if not self.exponent > 0:
            raise DataError(f"exponent must be > 0, got {self.exponent!r}", field="exponent")

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        self._check()
        self.neighbours_ = self._neighbours(
            self.user_items_, exclude=np.arange(self.user_items_.shape[0])
        )

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._columns_cache = None

    def _columns(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """The interaction matrix by item (items × customers, float64) and each customer's norm
        (cached: every request from a history that is not a known customer's reads them)."""
        cache = getattr(self, "_columns_cache", None)
        if cache is None or cache[0] is not self.user_items_:
            X = self.user_items_
            norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel())
            cache = (X, sp.csr_matrix(X.T, dtype=np.float64), norms)
            self._columns_cache = cache
        return cache[1], cache[2]

    def _neighbours(self, Q: sp.csr_matrix, exclude: np.ndarray | None = None) -> sp.csr_matrix:
        """Each row of ``Q``'s ``k`` nearest customers: a rows × customers matrix holding
        ``sim ** exponent`` (positive similarities only). ``exclude[r]``: a customer row ``r``
        may not have (itself, at fit)."""
        XT, norms = self._columns()
        n_users = XT.shape[1]
        Q = sp.csr_matrix(Q, dtype=np.float64)
        q_norms = np.sqrt(np.asarray(Q.multiply(Q).sum(axis=1)).ravel())
        k = min(int(self.k), n_users)
        step = max(1, _BATCH_CELLS // max(n_users, 1))
        empty = np.empty(0, dtype=np.int64)
        rows, cols, vals = [empty], [empty], [np.empty(0, dtype=np.float32)]
        for start in range(0, Q.shape[0], step):
            stop = min(start + step, Q.shape[0])
            dots = (Q[start:stop] @ XT).toarray()
            with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 (shrink 0): no overlap
                sims = dots / (q_norms[start:stop, None] * norms[None, :] + self.shrink)
            sims[dots <= 0] = 0.0
            if exclude is not None:
                sims[np.arange(stop - start), exclude[start:stop]] = 0.0
            if k < n_users:
                top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            else:
                top = np.broadcast_to(np.arange(n_users), (stop - start, n_users))
            top_sims = np.take_along_axis(sims, top, axis=1)
            weights = np.where(top_sims > 0, top_sims, 0.0) ** self.exponent
            r, c = np.nonzero(weights.astype(np.float32) > 0)
            rows.append(r + start)
            cols.append(top[r, c])
            vals.append(weights[r, c].astype(np.float32))
        N = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(Q.shape[0], n_users),
            dtype=np.float32,
        )
        N.sort_indices()
        return N

    # ----------------------------------------------------------------- scoring
    def _scores_from(self, N: sp.csr_matrix) -> np.ndarray:
        if N.shape[0] == 1:
            return self._scores_from_one(N.indices, N.data)[None, :]
        return np.asarray((N @ self.user_items_).toarray(), dtype=np.float64)

    def _scores_from_one(self, users: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``_scores_from`` of one row of neighbours (``users``, in order, and their float32
        ``weights``): the neighbours' rows added up where they lie, without a sparse product.

        A served answer scores one row; scipy's sparse product and ``toarray`` cost 100 us of
        set-up for a few thousand multiply-adds (ml-latest-small, k = 10: with the row taken by
        fancy indexing, 270 us an answer; with a view of it and this, 75 us). The same float32
        products added in the same order (neighbour by neighbour, as the sparse product adds
        them), so the same scores to the bit.
        """
        X = self.user_items_
        starts, ends = X.indptr[users], X.indptr[users + 1]
        lengths = ends - starts
        out = np.zeros(X.shape[1], dtype=np.float32)
        if lengths.sum():
            offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
            at = offsets + np.arange(int(lengths.sum()))  # the neighbours' entries, in order
            terms = np.repeat(weights.astype(np.float32), lengths) * X.data[at]
            np.add.at(out, X.indices[at], terms)
        return out.astype(np.float64)

    def _score(self, X: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        return self._scores_from(self._neighbours(X))

    def _score_users(self, rows: np.ndarray, X: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        if len(rows) == 1:  # a served answer: a view of the row, not scipy's fancy indexing
            return self._scores_from(_row(self.neighbours_, int(rows[0])))
        return self._scores_from(self.neighbours_[rows])

    def _parts(self, x: sp.csr_matrix, N: sp.csr_matrix, items: np.ndarray):
        """One term per history item of each of ``items``' scores (``N``: the history's one row
        of neighbours; see the module docs)."""
        hist, q = x.indices, x.data.astype(np.float64)
        users, weights = N.indices, N.data.astype(np.float64)
        if users.size == 0:
            return split_terms_many("latent", hist, np.zeros((hist.size, len(items))))
        XV = self.user_items_[users]
        on_history = XV[:, hist].toarray().astype(np.float64)  # neighbours × history items
        on_items = XV[:, items].toarray().astype(np.float64)  # neighbours × scored items
        dots = on_history @ q  # x_u · x_v, > 0 for every neighbour
        coef = weights / dots
        values = q[:, None] * (on_history.T @ (coef[:, None] * on_items))
        return split_terms_many("latent", hist, values)

    def _contributions(self, x, ages, item):
        return self._contributions_many(x, ages, np.array([item]))[0]

    def _contributions_many(self, x, ages, items):
        return self._parts(x, self._neighbours(x), np.asarray(items))

    def _user_contributions_many(self, row, x, ages, items):
        return self._parts(x, _row(self.neighbours_, row), np.asarray(items))

    # ----------------------------------------------------------------- artefacts
    def _state(self):
        return {"neighbours": self.neighbours_}

    def _load_state(self, state):
        self.neighbours_ = sp.csr_matrix(state["neighbours"])
        self._columns_cache = None


__all__ = ["UserKNN"]
