"""Matrix factorisation through the ``implicit`` library (ALS and BPR).

``implicit`` does the learning; this module adds id mapping, cold start, rules and exact ALS
explanations (Hu, Koren & Volinsky 2008, section 5: a user's ALS score splits into one term per
history item).

ALS serves every customer from the closed-form user solve against the learned item factors ``Y``,
with ``implicit``'s own confidence ``c = alpha · w`` (preference 1 on history items, confidence 1
elsewhere): ``x_u = (YᵀC_uY + λI)⁻¹ YᵀC_u p(u)``. The score of item ``i`` is then exactly
``Σ_j c_uj · y_iᵀ (YᵀC_uY + λI)⁻¹ y_j`` over the history items ``j``, the terms of the reasons.
``implicit``'s own user factors are not used: they come from conjugate-gradient steps against the
item factors of the previous iteration, so no history-item terms add up to them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.errors import DataError
from omotenashi.recommend._base import Recommender, split_terms, split_terms_many
from omotenashi.recommend._mips import NormOrderedItems


class ImplicitMF(Recommender):
    """Latent-factor model: ALS (implicit feedback, confidence ``alpha·w`` as in ``implicit``) or
    BPR.

    ALS reasons are exact (they add up to the score). BPR's are not: a known customer's BPR
    vector is learned freely, and its reasons are its least-squares projection on the history
    items' vectors; ``Recommendation.explained`` reports the share of the score they cover.

    Parameters
    ----------
    algorithm : {"als", "bpr"}
    factors : int
    regularization : float
    alpha : float
        ALS confidence scaling.
    iterations : int
    learning_rate : float
        BPR step size.
    random_state : int or None
        Seed. With a seed, BPR trains on one thread so that two fits give the same model.
    """

    name = "als"

    @property
    def exact_reasons(self) -> bool:  # type: ignore[override]
        """ALS reasons add up to the score; BPR's cover a share of it (see the class notes)."""
        return self.algorithm == "als"

    def __init__(
        self,
        algorithm: str = "als",
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 2.0,
        iterations: int = 15,
        learning_rate: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.algorithm = algorithm
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        from threadpoolctl import threadpool_limits

        X = self.user_items_.astype(np.float32)
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.algorithm == "als":
                from implicit.cpu.als import AlternatingLeastSquares

                model = AlternatingLeastSquares(
                    factors=self.factors,
                    regularization=self.regularization,
                    alpha=self.alpha,
                    iterations=self.iterations,
                    random_state=self.random_state,
                )
            elif self.algorithm == "bpr":
                from implicit.cpu.bpr import BayesianPersonalizedRanking

                model = BayesianPersonalizedRanking(
                    factors=self.factors,
                    learning_rate=self.learning_rate,
                    regularization=self.regularization,
                    iterations=self.iterations,
                    random_state=self.random_state,
                    # implicit's parallel BPR updates race: with a seed, one thread keeps
                    # the seed's promise of the same model from the same data
                    num_threads=0 if self.random_state is None else 1,
                )
            else:
                raise DataError(
                    f"algorithm must be 'als' or 'bpr', got {self.algorithm!r}", field="algorithm"
                )
            model.fit(X, show_progress=False)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
        if self.algorithm == "als":
            # the closed-form solve against the final item factors: what is served, and what
            # the reasons decompose (float64, so the terms add up to the score to rounding)
            with threadpool_limits(1, "blas"):
                self.user_factors_ = self._user_vectors(self.user_items_)
        else:
            self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.bound_tails()

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._factor_cache = None
        self._norm_cache = None
        self._tails = None

    def _factors(self) -> tuple[np.ndarray, np.ndarray]:
        """The item factors in float64 and ``YᵀY + λI`` (cached: explaining a request must not
        recompute them)."""
        cache = getattr(self, "_factor_cache", None)
        if cache is None or cache[0] is not self.item_factors_:
            Y = self.item_factors_.astype(np.float64)
            gram = Y.T @ Y + self.regularization * np.eye(Y.shape[1])
            cache = self._factor_cache = (self.item_factors_, Y, gram)
        return cache[1], cache[2]

    def _user_vectors(self, X: sp.csr_matrix) -> np.ndarray:
        Y, YtY = self._factors()
        k = Y.shape[1]
        out = np.zeros((X.shape[0], k))
        if self.algorithm == "bpr":
            # BPR has no closed-form fold-in: use the mean of the history's item vectors
            for r in range(X.shape[0]):
                idx = X.indices[X.indptr[r] : X.indptr[r + 1]]
                if idx.size:
                    out[r] = Y[idx].mean(axis=0)
            return out
        for r in range(X.shape[0]):
            lo, hi = X.indptr[r], X.indptr[r + 1]
            idx, w = X.indices[lo:hi], X.data[lo:hi].astype(np.float64)
            if idx.size == 0:
                continue
            A, conf, Yi = self._normal_matrix(YtY, Y, idx, w)
            out[r] = np.linalg.solve(A, Yi.T @ conf)
        return out

    def _normal_matrix(self, YtY, Y, idx, w):
        """``YᵀC_uY + λI`` for the history ``idx`` with weights ``w`` (``implicit``'s rule:
        confidence ``alpha·w`` on history items, 1 elsewhere), the confidences and ``Y[idx]``."""
        conf = self.alpha * w
        Yi = Y[idx]
        return YtY + (Yi * (conf - 1.0)[:, None]).T @ Yi, conf, Yi

    def _score(self, X: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        return self._user_vectors(X) @ self._factors()[0].T

    def _score_users(self, rows: np.ndarray, X: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        return self.user_factors_[rows].astype(np.float64) @ self._factors()[0].T

    def _user_top(self, row, n, seen, rules):
        # exact answers that read the item vectors longest first and stop once no unread item
        # can enter the answer (NormOrderedItems): most answers read a small part of a large
        # catalogue instead of all of it
        u = np.asarray(self.user_factors_[row], dtype=np.float64)
        allowed = rules.allowed_mask(self.catalog_, self._item_index)
        bounds = self._tail_bounds()
        tail = None if bounds is None else float(bounds[row])
        return self._norm_index().scan(u, n, seen, allowed, tail=tail)[:2]

    def bound_tails(self) -> None:
        """Compute each known customer's tail bound (``NormOrderedItems.tail_bounds``: what lets
        a customer with little history stop reading after the first 9,216 items of a large
        catalogue). Called after fitting; a batch engine that sets the factors itself (Spark)
        calls it before saving."""
        bounds = self._norm_index().tail_bounds(self.user_factors_, seen=self.user_items_)
        self._tails = (self.user_factors_, self.item_factors_, bounds)

    def _tail_bounds(self) -> np.ndarray | None:
        """The tail bounds, when they were computed for the current user and item vectors
        (they hold for those, and only for those), else None."""
        tails = getattr(self, "_tails", None)
        if tails is None or tails[0] is not self.user_factors_:
            return None
        return tails[2] if tails[1] is self.item_factors_ else None

    def _norm_index(self) -> NormOrderedItems:
        """The item factors sorted by norm (cached; built by the first answer)."""
        cache = getattr(self, "_norm_cache", None)
        Y = self._factors()[0]
        if cache is None or cache.factors is not Y:
            cache = self._norm_cache = NormOrderedItems(Y)
        return cache

    def _similar_scores(self, pos, x, ages):
        Y = self._factors()[0]
        norms = np.linalg.norm(Y, axis=1)
        norms[norms == 0] = 1.0
        return (Y @ Y[pos]) / (norms * norms[pos])

    def _similar_contributions_many(self, pos, x, ages, items, scores):
        # a similar-item score is one cosine: one part
        return [split_terms("latent", np.array([pos]), scores[[i]]) for i in items]

    def _contributions(self, x, ages, item):
        return self._contributions_many(x, ages, np.array([item]))[0]

    def _contributions_many(self, x, ages, items):
        Y, YtY = self._factors()
        idx, w = x.indices, x.data.astype(np.float64)
        if self.algorithm == "als":
            A, conf, Yi = self._normal_matrix(YtY, Y, idx, w)
            # score_i = sum_j c_j y_i' A^-1 y_j: one exact term per history item
            values = (Yi @ np.linalg.solve(A, Y[items].T)) * conf[:, None]
        else:
            # BPR folds a history in as the mean of its item vectors: score = sum_j y_j.y_i / n
            values = Y[idx] @ Y[items].T / len(idx)
        return split_terms_many("latent", idx, values)

    def _user_contributions_many(self, row, x, ages, items):
        if self.algorithm == "als":  # the served user vector is the closed-form solve of x
            return self._contributions_many(x, ages, items)
        # BPR: the learned user vector's least-squares projection on the history's item vectors;
        # the rest of the score is not explained (Recommendation.explained says how much is)
        Y = self._factors()[0]
        idx = x.indices
        u = self.user_factors_[row].astype(np.float64)
        coef = np.linalg.lstsq(Y[idx].T, u, rcond=None)[0]
        values = (Y[idx] @ Y[items].T) * coef[:, None]
        return split_terms_many("latent", idx, values)

    def _state(self):
        state = {"user_factors": self.user_factors_, "item_factors": self.item_factors_}
        bounds = self._tail_bounds()
        if bounds is not None:
            state["tail_bounds"] = bounds
        return state

    def _load_state(self, state):
        self.user_factors_ = state["user_factors"]
        self.item_factors_ = state["item_factors"]
        self._tails = None
        if self.algorithm == "als" and self.user_factors_.dtype != np.float64:
            # saved before ALS served the closed-form solve: solve again so that the scores
            # and their reasons agree (the saved tail bounds were for the old vectors)
            if hasattr(self, "user_items_"):
                self.user_factors_ = self._user_vectors(self.user_items_)
            return
        bounds = state.get("tail_bounds")
        if bounds is not None and len(bounds) == len(self.user_factors_):
            self._tails = (self.user_factors_, self.item_factors_, bounds)


class BPR(ImplicitMF):
    """:class:`ImplicitMF` with the Bayesian Personalised Ranking loss."""

    name = "bpr"

    def __init__(
        self,
        algorithm: str = "bpr",
        factors: int = 64,
        regularization: float = 0.01,
        alpha: float = 1.0,
        iterations: int = 100,
        learning_rate: float = 0.05,
        random_state: int | None = 0,
    ) -> None:
        super().__init__(
            algorithm, factors, regularization, alpha, iterations, learning_rate, random_state
        )


class IALS(ImplicitMF):
    """iALS as tuned by Rendle et al. (2022, "Revisiting the performance of iALS on item
    recommendation benchmarks"): every history item has preference 1 and weight 1, every
    (customer, item) pair is pulled towards 0 with the small weight ``unobserved_weight`` (α₀),
    and the ridge of a vector grows with the interactions it is fitted on.

    The loss, over the customers' history items ``S``::

        Σ_(u,i)∈S (⟨w_u, h_i⟩ − 1)² + α₀ Σ_u Σ_i ⟨w_u, h_i⟩²
          + λ Σ_u (|S_u| + α₀ |I|) |w_u|² + λ Σ_i (|S_i| + α₀ |U|) |h_i|²

    minimised by exact alternating solves (no conjugate-gradient steps). Interaction weights are
    not used: a history item counts once, whatever its weight. A customer is served from the
    closed-form solve against the item factors ``H``: ``w_u = A_u⁻¹ H_Sᵀ 1`` with
    ``A_u = H_SᵀH_S + α₀ HᵀH + λ (|S_u| + α₀ |I|) I``, so item ``i``'s score is exactly
    ``Σ_j∈S h_iᵀ A_u⁻¹ h_j``, one term per history item (the reasons).

    Parameters
    ----------
    factors : int
    regularization : float
        λ, scaled per vector by the interactions it is fitted on (see above).
    unobserved_weight : float
        α₀, the weight of the pull towards 0 on every pair (> 0).
    iterations : int
        Alternating passes (customers, then items). The defaults (128 factors, 2 passes,
        λ 0.01, α₀ 0.3) were read off ml-100k's validation split alone
        (``benchmarks/ials_grid.py``): more passes did not score higher there.
    random_state : int or None
        Seed of the initial factors (normal, standard deviation ``0.1 / √factors``).
    """

    name = "ials"
    #: The reasons and the served vectors follow ImplicitMF's ALS rules (closed-form solve).
    algorithm = "als"

    def __init__(
        self,
        factors: int = 128,
        regularization: float = 0.01,
        unobserved_weight: float = 0.3,
        iterations: int = 2,
        random_state: int | None = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.unobserved_weight = unobserved_weight
        self.iterations = iterations
        self.random_state = random_state

    def _check(self) -> None:
        if not (isinstance(self.factors, int | np.integer) and self.factors > 0):
            raise DataError(
                f"factors must be a positive integer, got {self.factors!r}", field="factors"
            )
        for field in ("regularization", "unobserved_weight"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and value > 0):
                raise DataError(f"{field} must be > 0, got {value!r}", field=field)
        if not (isinstance(self.iterations, int | np.integer) and self.iterations > 0):
            raise DataError(
                f"iterations must be a positive integer, got {self.iterations!r}",
                field="iterations",
            )

    def _solve_side(self, M: sp.csr_matrix, F: np.ndarray, n_other: int) -> np.ndarray:
        """One half-step: every row of ``M`` solved against the other side's factors ``F``.

        Row ``r`` with history ``S`` solves ``(F_SᵀF_S + D_r) x = F_Sᵀ 1`` with
        ``D_r = α₀ FᵀF + ρ_r I``. ``D_r`` shares its eigenvectors ``Q`` with ``α₀ FᵀF`` (one
        decomposition per half-step), so a row with fewer interactions than factors (most items,
        many customers) is solved through the Woodbury identity, with an |S| x |S| system,
        instead of a factors x factors one; longer rows are solved directly.

        Rows are solved in stacks, not one at a time: rows of one length share a stacked
        Woodbury solve, and longer rows a stacked direct solve per bucket of lengths (rounded up
        to a multiple of the factors), padded with zero vectors: a zero row of ``F_S`` adds
        nothing to ``F_SᵀF_S`` nor to ``F_Sᵀ1``, so the padding changes no solution. The
        arithmetic is a solve per row's; it saves the per-row Python overhead.
        """
        a0, k = float(self.unobserved_weight), F.shape[1]
        gram = a0 * (F.T @ F)
        eig, Q = np.linalg.eigh(gram)
        FQ = F @ Q
        counts = np.diff(M.indptr)
        ridge = self.regularization * (counts + a0 * n_other)
        out = np.zeros((M.shape[0], k))
        rows = np.flatnonzero(counts)
        short = rows[counts[rows] < k]
        # Woodbury in the eigenbasis, U = F_S Q and d = 1 / (eigenvalues + ρ_r):
        # x̃ = d·b − d·Uᵀ (I + U diag(d) Uᵀ)⁻¹ U (d·b) with b = Uᵀ1, and x = Q x̃
        for s in np.unique(counts[short]):
            for chunk in _chunks(short[counts[short] == s], int(s) * k):
                U = FQ[M.indices[M.indptr[chunk][:, None] + np.arange(s)]]  # (rows, s, k)
                d = 1.0 / (eig[None, :] + ridge[chunk][:, None])
                db = d * U.sum(axis=1)
                inner = (U * d[:, None, :]) @ U.transpose(0, 2, 1)
                inner[:, np.arange(s), np.arange(s)] += 1.0
                solved = np.linalg.solve(inner, U @ db[:, :, None])
                out[chunk] = (db - d * (U.transpose(0, 2, 1) @ solved)[:, :, 0]) @ Q.T
        long = rows[counts[rows] >= k]
        if len(long):
            padded = np.vstack([F, np.zeros((1, k))])  # row len(F): the zero padding vector
            buckets = -(-counts[long] // k) * k
            for size in np.unique(buckets):
                for chunk in _chunks(long[buckets == size], int(size) * k):
                    pos = M.indptr[chunk][:, None] + np.arange(size)
                    inside = pos < M.indptr[chunk + 1][:, None]
                    idx = np.where(inside, M.indices[np.minimum(pos, len(M.indices) - 1)], len(F))
                    Fs = padded[idx]  # (rows, size, k)
                    A = Fs.transpose(0, 2, 1) @ Fs + gram
                    A[:, np.arange(k), np.arange(k)] += ridge[chunk][:, None]
                    out[chunk] = np.linalg.solve(A, Fs.sum(axis=1)[:, :, None])[:, :, 0]
        return out

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        from threadpoolctl import threadpool_limits

        self._check()
        with threadpool_limits(1, "blas"):
            last = None
            for H in self._passes():
                last = H
            self._serve(last)
        self.bound_tails()  # large matrix products: with every BLAS thread, as ALS does

    def _passes(self):
        """The alternating passes on the prepared histories (``user_items_``, every weight 1):
        yields the item factors after each of the ``iterations`` passes. ``_fit`` keeps the
        last; ``benchmarks/ials_grid.py`` scores several pass counts of one run."""
        X = self._binary()
        Xt = X.T.tocsr()
        n_users, n_items = X.shape
        rng = np.random.default_rng(self.random_state)
        scale = 0.1 / np.sqrt(self.factors)
        H = rng.normal(0.0, scale, (n_items, self.factors))
        for _ in range(self.iterations):
            W = self._solve_side(X, H, n_items)
            H = self._solve_side(Xt, W, n_users)
            yield H

    def _binary(self) -> sp.csr_matrix:
        X = self.user_items_.copy()
        X.data[:] = 1.0
        return X

    def _serve(self, H: np.ndarray) -> None:
        """Keep the item factors ``H`` and solve every known customer against them."""
        self.item_factors_ = H.astype(np.float32)
        self._factor_cache = None
        # served: the closed-form solve against the final item factors (what the reasons
        # decompose; the same solve as _user_vectors), float64 so that the terms add up to
        # the score to rounding
        self.user_factors_ = self._solve_side(self._binary(), self._factors()[0], len(H))

    def _factors(self) -> tuple[np.ndarray, np.ndarray]:
        """The item factors in float64 and ``α₀ HᵀH`` (cached)."""
        cache = getattr(self, "_factor_cache", None)
        if cache is None or cache[0] is not self.item_factors_:
            H = self.item_factors_.astype(np.float64)
            cache = self._factor_cache = (self.item_factors_, H, self.unobserved_weight * H.T @ H)
        return cache[1], cache[2]

    def _normal_matrix(self, gram, Y, idx, w):
        """``A_u`` of the history ``idx`` (weights ignored: preference and weight 1 each)."""
        Yi = Y[idx]
        ridge = self.regularization * (len(idx) + self.unobserved_weight * len(Y))
        A = gram + Yi.T @ Yi
        A[np.diag_indices_from(A)] += ridge
        return A, np.ones(len(idx)), Yi


#: Most floats one stacked block of ``IALS._solve_side`` holds (32 MB).
_BLOCK = 4_000_000


def _chunks(rows: np.ndarray, per_row: int):
    """``rows`` in slices whose stacked blocks hold at most :data:`_BLOCK` floats each."""
    step = max(1, _BLOCK // max(1, per_row))
    for i in range(0, len(rows), step):
        yield rows[i : i + step]
