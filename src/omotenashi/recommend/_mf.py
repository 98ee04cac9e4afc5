"""Matrix factorisation through the ``implicit`` library (ALS and BPR).

``implicit`` does the learning; this module adds id mapping, cold start, rules and exact ALS
explanations (Hu, Koren & Volinsky 2008: a user's ALS score splits into one term per history item).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.errors import DataError
from omotenashi.recommend._base import Recommender


class ImplicitMF(Recommender):
    """Latent-factor model: ALS (implicit feedback, confidence ``1 + alpha·w``) or BPR.

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
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _user_vectors(self, X: sp.csr_matrix) -> np.ndarray:
        Y = self.item_factors_.astype(np.float64)
        k = Y.shape[1]
        out = np.zeros((X.shape[0], k))
        if self.algorithm == "bpr":
            # BPR has no closed-form fold-in: use the mean of the history's item vectors
            for r in range(X.shape[0]):
                idx = X.indices[X.indptr[r] : X.indptr[r + 1]]
                if idx.size:
                    out[r] = Y[idx].mean(axis=0)
            return out
        YtY = Y.T @ Y + self.regularization * np.eye(k)
        for r in range(X.shape[0]):
            lo, hi = X.indptr[r], X.indptr[r + 1]
            idx, w = X.indices[lo:hi], X.data[lo:hi].astype(np.float64)
            if idx.size == 0:
                continue
            conf = self.alpha * w
            Yi = Y[idx]
            A = YtY + (Yi * conf[:, None]).T @ Yi
            out[r] = np.linalg.solve(A, Yi.T @ (1.0 + conf))
        return out

    def _score(self, X: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        return self._user_vectors(X) @ self.item_factors_.T.astype(np.float64)

    def _score_users(self, rows: np.ndarray, X: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        return self.user_factors_[rows].astype(np.float64) @ self.item_factors_.T

    def _similar_scores(self, pos, x, ages):
        Y = self.item_factors_.astype(np.float64)
        norms = np.linalg.norm(Y, axis=1)
        norms[norms == 0] = 1.0
        return (Y @ Y[pos]) / (norms * norms[pos])

    def _contributions(self, x, ages, item):
        Y = self.item_factors_.astype(np.float64)
        idx, w = x.indices, x.data.astype(np.float64)
        if self.algorithm == "als":
            k = Y.shape[1]
            conf = self.alpha * w
            A = Y.T @ Y + self.regularization * np.eye(k) + (Y[idx] * conf[:, None]).T @ Y[idx]
            # score_i = sum_j (y_i A^-1 y_j) (1 + conf_j): one exact term per history item
            values = (Y[idx] @ np.linalg.solve(A, Y[item])) * (1.0 + conf)
        else:
            values = Y[idx] @ Y[item] / len(idx)
        order = np.argsort(-values)
        top = [int(idx[j]) for j in order[:2] if values[j] > 0]
        positive = float(values[values > 0].sum())
        return [("latent", tuple(top), positive)] if top else []

    def _state(self):
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _load_state(self, state):
        self.user_factors_ = state["user_factors"]
        self.item_factors_ = state["item_factors"]


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
