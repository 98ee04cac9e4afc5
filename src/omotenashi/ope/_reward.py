"""Reward regression for the direct method and the doubly robust family.

The model is fitted with cross-fitting (each round's prediction comes from a model that did not
see that round) because an over-fitted model that has memorised the logged rewards would cancel
the DR correction term and bring back the direct method's bias.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import OneHotEncoder

from omotenashi.errors import DataError
from omotenashi.ope._data import BanditLog


def encode_context(frame: pd.DataFrame) -> sp.csr_matrix:
    """One-hot encode text columns and standardise numeric ones.

    Parameters
    ----------
    frame : pandas.DataFrame
        Per-round context; columns of dtype object, string, category or bool are categorical.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_rounds, n_encoded)
    """
    blocks: list[sp.spmatrix] = []
    cat_cols = [
        c
        for c in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    ]
    num_cols = [c for c in frame.columns if c not in cat_cols]
    if cat_cols:
        enc = OneHotEncoder(handle_unknown="ignore")
        blocks.append(enc.fit_transform(frame[cat_cols].astype(str)))
    if num_cols:
        x = frame[num_cols].to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(x)):
            bad = [c for c in num_cols if not np.all(np.isfinite(frame[c].to_numpy(float)))]
            raise DataError(f"context: column {bad[0]!r} has NaN or infinite values", field=bad[0])
        sd = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        blocks.append(sp.csr_matrix(x))
    if not blocks:
        return sp.csr_matrix((len(frame), 0))
    return sp.hstack(blocks, format="csr")


class RewardModel:
    """Cross-fitted regression ``q(x, a)`` of the reward on context and action.

    The design row of a (round, action) pair is the context encoding, the action's one-hot, the
    action's features, pair features (e.g. a user-item affinity) and, when ``interactions`` is on,
    the context crossed with the action one-hot (a separate slope per action). Binary rewards use
    logistic regression, other rewards ridge regression.

    Parameters
    ----------
    C : float
        Inverse regularisation strength (ridge uses ``alpha = 1 / C``).
    interactions : bool or "auto"
        Cross context with action; ``"auto"`` does so when there are at most 10 actions.
    n_folds : int
        Cross-fitting folds (1 disables cross-fitting: fit and predict on all rounds).
    random_state : int, numpy.random.Generator or None
        Seed of the fold assignment.

    Stability: provisional.
    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        interactions: bool | str = "auto",
        n_folds: int = 3,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.C = C
        self.interactions = interactions
        self.n_folds = n_folds
        self.random_state = random_state

    def _design(
        self,
        xc: sp.csr_matrix,
        rows: np.ndarray,
        acts: np.ndarray,
        n_actions: int,
        action_features: np.ndarray | None,
        pair: np.ndarray | None,
        cross: bool,
    ) -> sp.csr_matrix:
        m = len(rows)
        sub = xc[rows]
        onehot = sp.csr_matrix((np.ones(m), (np.arange(m), acts)), shape=(m, n_actions))
        blocks: list[sp.spmatrix] = [sub, onehot]
        if action_features is not None:
            blocks.append(sp.csr_matrix(action_features[acts]))
        if pair is not None:
            blocks.append(sp.csr_matrix(pair[rows, acts].reshape(m, -1)))
        if cross and sub.shape[1] > 0:
            d = sub.shape[1]
            counts = np.diff(sub.indptr)
            shifted = sub.indices + np.repeat(acts * d, counts)
            blocks.append(sp.csr_matrix((sub.data, shifted, sub.indptr), shape=(m, d * n_actions)))
        return sp.hstack(blocks, format="csr")

    def fit_predict(
        self,
        log: BanditLog,
        *,
        context: pd.DataFrame | np.ndarray | sp.spmatrix | None = None,
        action_features: np.ndarray | None = None,
        pair_features: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fit on the logged (round, action, reward) triples and predict every action.

        Parameters
        ----------
        log : BanditLog
            Logged feedback; ``log.context`` is used when ``context`` is not given.
        context : DataFrame, array or sparse matrix of shape (n_rounds, n_features), optional
            Context of each round; a DataFrame is encoded with :func:`encode_context`.
        action_features : array of shape (n_actions, n_action_features), optional
            Features of each action.
        pair_features : array of shape (n_rounds, n_actions) or (n_rounds, n_actions, p), optional
            Features of each (round, action) pair.

        Returns
        -------
        numpy.ndarray of shape (n_rounds, n_actions)
            Cross-fitted predictions ``q(x_i, a)``.
        """
        n, k = log.n_rounds, log.n_actions
        if context is None:
            context = log.context
        if context is None:
            xc = sp.csr_matrix((n, 0))
        elif isinstance(context, pd.DataFrame):
            xc = encode_context(context)
        else:
            xc = sp.csr_matrix(context)
        if xc.shape[0] != n:
            raise DataError(f"context: {xc.shape[0]} rows for {n} rounds", field="context")
        if action_features is not None:
            action_features = np.asarray(action_features, dtype=np.float64).reshape(k, -1)
        if pair_features is not None:
            pair_features = np.asarray(pair_features, dtype=np.float64)
            if pair_features.shape[:2] != (n, k):
                raise DataError(
                    f"pair_features: expected leading shape {(n, k)}, got {pair_features.shape}",
                    field="pair_features",
                )
        cross = k <= 10 if self.interactions == "auto" else bool(self.interactions)
        binary = bool(np.all(np.isin(log.reward, (0.0, 1.0))))
        rng = np.random.default_rng(self.random_state)
        folds = rng.permutation(n) % max(1, self.n_folds)
        out = np.empty((n, k))
        for f in range(max(1, self.n_folds)):
            test = np.flatnonzero(folds == f)
            train = np.flatnonzero(folds != f) if self.n_folds > 1 else test
            y = log.reward[train]
            x_train = self._design(
                xc, train, log.action[train], k, action_features, pair_features, cross
            )
            if binary and np.unique(y).size < 2 or len(train) == 0:
                out[test] = float(np.mean(y)) if len(y) else 0.0
                continue
            model = (
                LogisticRegression(C=self.C, max_iter=2000) if binary else Ridge(alpha=1.0 / self.C)
            )
            model.fit(x_train, y)
            for a in range(k):
                x_test = self._design(
                    xc, test, np.full(len(test), a), k, action_features, pair_features, cross
                )
                out[test, a] = (
                    model.predict_proba(x_test)[:, 1] if binary else model.predict(x_test)
                )
        return out
