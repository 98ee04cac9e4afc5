"""Real-time session recommenders and "bought together".

A visitor who is not logged in has only the clicks of the last minutes. These models answer from
those clicks alone, immediately: nothing is refitted when a click arrives.

* :class:`SessionKNN` — session-based kNN in the STAN/V-SKNN family (Ludewig & Jannach 2018;
  Garg et al., SIGIR 2019), plus a repeat-view term: visitors often go back to an item.
* :class:`SequentialRules` — "after A, visitors went to B" rules weighted by step distance.
* :class:`BoughtTogether` — co-occurrence in orders/baskets, shrunk confidence.

Fitted on interactions whose ``user_id`` is a *session* (or an order); see
:func:`omotenashi.recommend.sessionize`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.errors import DataError
from omotenashi.recommend._base import Recommender, split_terms


def _positions(model: Recommender) -> sp.csr_matrix:
    """Position (1 = first) of each item's last occurrence in its session, from recency ages."""
    A = model.user_ages_
    lengths = np.diff(A.indptr)
    P = A.copy()
    P.data = (np.repeat(lengths, lengths) - A.data + 1.0).astype(np.float32)
    return P


class SessionKNN(Recommender):
    """Session-kNN with position, neighbour-recency and item-distance weights and repeat views.

    For the current session ``s`` (most recent item has age 1):

    * item weight ``q_j = exp(-(age_j - 1) / position_decay)`` (times IDF when ``idf``);
    * similarity to a past session ``n``: ``Σ_{j ∈ s∩n} q_j / sqrt(|s|·|n|)``, times
      ``exp(-Δt / recency_days)`` for its age relative to the newest session;
    * the ``k`` most similar of the ``sample_size`` most recent sessions sharing an item vote
      for their items, each vote weighted by ``exp(-|pos_i - pos_l| / distance_decay)`` where
      ``l`` is the most recent current item found in that neighbour;
    * items of the current session get ``repeat · max(score) · exp(-(age - 1) / repeat_decay)``
      — when the training sessions show visitors going back to items (at least
      ``min_repeat_share`` of next clicks are repeats); otherwise the session's own items score 0,
      as in the data nobody clicks them again.

    Defaults were chosen on a validation split cut from the training part of the diginetica
    sample (not on its test part).
    """

    name = "sknn"
    session_model = True
    exact_reasons = True

    def __init__(
        self,
        k: int = 200,
        sample_size: int = 1000,
        position_decay: float = 4.0,
        recency_days: float = 1000.0,
        distance_decay: float = 4.0,
        repeat: float = 1.0,
        repeat_decay: float = 1.0,
        idf: bool = True,
        min_repeat_share: float = 0.02,
    ) -> None:
        self.k = k
        self.sample_size = sample_size
        self.position_decay = position_decay
        self.recency_days = recency_days
        self.distance_decay = distance_decay
        self.repeat = repeat
        self.repeat_decay = repeat_decay
        self.idf = idf
        self.min_repeat_share = min_repeat_share

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        for p in ("k", "sample_size"):
            if int(getattr(self, p)) < 1:
                raise DataError(f"{p} must be >= 1, got {getattr(self, p)}", field=p)
        self.positions_ = _positions(self)
        t = frame["t"].to_numpy()
        last = np.full(len(self.user_ids_), -np.inf)
        np.maximum.at(last, frame["u"].to_numpy(), t)
        finite = np.isfinite(last)
        newest = last[finite].max() if finite.any() else 0.0
        self.session_age_days_ = np.where(finite, (newest - last) / 86400.0, 0.0)
        # share of next clicks that go back to an item already seen in the session (repeated
        # clicks are summed into the weight of a (session, item) pair)
        X = self.user_items_
        clicks = float(X.sum())
        next_clicks = clicks - X.shape[0]
        share = (clicks - X.nnz) / next_clicks if next_clicks > 0 else 0.0
        self.repeat_share_ = float(share)
        self.repeats_ = bool(share >= self.min_repeat_share)
        self._prepare()

    def _prepare(self) -> None:
        P = self.positions_
        self._binary = P.copy()
        self._binary.data[:] = 1.0
        self._item_sessions = self._binary.T.tocsr()
        self._lengths = np.diff(P.indptr).astype(np.float64)
        n_sessions = max(P.shape[0], 1)
        df = np.diff(self._item_sessions.indptr)
        self._idf = np.log1p(n_sessions / np.maximum(df, 1)) if self.idf else np.ones(P.shape[1])
        self._recency = np.exp(-self.session_age_days_ / self.recency_days)

    def _neighbours(self, idx: np.ndarray, age: np.ndarray):
        q = np.exp(-(age - 1.0) / self.position_decay)
        cand = np.unique(np.concatenate([self._item_sessions[j].indices for j in idx]))
        if cand.size == 0:
            return cand, np.empty(0), q
        if cand.size > self.sample_size:
            cand = cand[np.argsort(self.session_age_days_[cand], kind="stable")[: self.sample_size]]
        w = np.zeros(self.positions_.shape[1])
        w[idx] = q * self._idf[idx]
        sim = (self._binary[cand] @ w) / np.sqrt(len(idx) * self._lengths[cand])
        sim = sim * self._recency[cand]
        if cand.size > self.k:
            keep = np.argpartition(-sim, self.k - 1)[: self.k]
            cand, sim = cand[keep], sim[keep]
        return cand, sim, q

    def _votes(self, idx: np.ndarray, age: np.ndarray):
        """Neighbour votes: (sparse neighbour × item weights, neighbour sims, matched item)."""
        cand, sim, q = self._neighbours(idx, age)
        if cand.size == 0:
            return None, sim, np.empty(0, dtype=np.int64)
        Pn = self.positions_[cand]
        by_recency = idx[np.argsort(age, kind="stable")]
        present = Pn[:, by_recency].toarray()
        first = np.argmax(present > 0, axis=1)
        matched = by_recency[first]
        anchor = present[np.arange(len(cand)), first]
        rows = np.repeat(np.arange(len(cand)), np.diff(Pn.indptr))
        W = Pn.copy().astype(np.float64)
        W.data = np.exp(-np.abs(Pn.data - anchor[rows]) / self.distance_decay)
        return W, sim, matched

    def _score_one(self, idx: np.ndarray, age: np.ndarray) -> np.ndarray:
        n = self.positions_.shape[1]
        W, sim, _ = self._votes(idx, age)
        scores = np.zeros(n) if W is None else np.asarray(W.T @ sim).ravel()
        if not self.repeats_:
            # in this data visitors never go back to an item: do not spend slots on them
            scores[idx] = 0.0
        elif self.repeat:
            top = scores.max() if scores.max() > 0 else 1.0
            scores[idx] += self.repeat * top * np.exp(-(age - 1.0) / self.repeat_decay)
        return scores

    def _score(self, X, ages):
        out = np.zeros((X.shape[0], X.shape[1]))
        for r in range(X.shape[0]):
            lo, hi = X.indptr[r], X.indptr[r + 1]
            if hi > lo:
                out[r] = self._score_one(X.indices[lo:hi], ages.data[lo:hi].astype(np.float64))
        return out

    def _contributions(self, x, ages, item):
        return self._contributions_many(x, ages, np.array([item]))[0]

    def _contributions_many(self, x, ages, items):
        # the score is the neighbours' votes (grouped by the click each neighbour matched)
        # plus the repeat term; both parts add up to it
        idx, age = x.indices, ages.data.astype(np.float64)
        seen = set(idx.tolist())
        W, sim, matched = self._votes(idx, age)
        scores = self._score_one(idx, age) if self.repeat and seen & set(items.tolist()) else None
        if W is not None:
            clicks, where = np.unique(matched, return_inverse=True)
            cols = W[:, items].toarray() * sim[:, None]
        out = []
        for k, item in enumerate(items.tolist()):
            if not self.repeats_ and item in seen:
                out.append([])  # the session's own items score 0 in such data
                continue
            parts = []
            votes = 0.0
            if W is not None:
                votes = float(cols[:, k].sum())
                parts += split_terms("session", clicks, np.bincount(where, weights=cols[:, k]))
            if scores is not None and item in seen:
                repeat_part = float(scores[item]) - votes
                if repeat_part:
                    parts.append(("repeat", (int(item),), repeat_part))
            out.append(parts)
        return out

    def _state(self):
        return {
            "positions": self.positions_,
            "session_age_days": self.session_age_days_,
            "repeat_share": np.array([self.repeat_share_]),
        }

    def _load_state(self, state):
        self.positions_ = state["positions"]
        self.session_age_days_ = state["session_age_days"]
        self.repeat_share_ = float(state["repeat_share"][0])
        self.repeats_ = bool(self.repeat_share_ >= self.min_repeat_share)
        self._prepare()


class SequentialRules(Recommender):
    """Sequential rules: item ``b`` clicked ``d`` steps after ``a`` adds ``1/d`` to rule a→b.

    Only pairs at most ``steps`` apart count. A session is scored from its last ``last_items``
    items, the most recent weighted most (``1 / age``).
    """

    name = "sr"
    session_model = True
    exact_reasons = True

    def __init__(self, steps: int = 10, last_items: int = 1) -> None:
        self.steps = steps
        self.last_items = last_items

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        P = _positions(self).tocoo()
        order = np.lexsort((P.data, P.row))
        sess, item, pos = P.row[order], P.col[order], P.data[order]
        rows, cols, vals = [], [], []
        for d in range(1, int(self.steps) + 1):
            same = sess[d:] == sess[:-d]
            a, b = item[:-d][same], item[d:][same]
            gap = (pos[d:] - pos[:-d])[same]
            rows.append(a)
            cols.append(b)
            vals.append(1.0 / gap)
        n = len(self.item_ids_)
        R = (
            sp.csr_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
            )
            if rows
            else sp.csr_matrix((n, n))
        )
        R.sum_duplicates()
        self.rules_ = R.astype(np.float32)

    def _query(self, X, ages):
        Q = X.copy().astype(np.float32)
        Q.data = np.where(ages.data <= self.last_items, 1.0 / ages.data, 0.0).astype(np.float32)
        Q.eliminate_zeros()
        return Q

    def _score(self, X, ages):
        return np.asarray((self._query(X, ages) @ self.rules_).todense(), dtype=np.float64)

    def _contributions(self, x, ages, item):
        q = self._query(x, ages)
        col = self.rules_[q.indices][:, [item]].toarray().ravel().astype(np.float64)
        return split_terms("session", q.indices, q.data.astype(np.float64) * col)

    def _state(self):
        return {"rules": self.rules_}

    def _load_state(self, state):
        self.rules_ = state["rules"]


class BoughtTogether(Recommender):
    """Items that appear in the same orders: shrunk confidence ``c(a,b) / (c(a) + shrink)``.

    Fit on interactions whose ``user_id`` is an order or basket id. ``lift`` divides by the
    partner's overall frequency to avoid recommending bestsellers with everything.
    """

    name = "together"
    exact_reasons = True

    def __init__(self, shrink: float = 5.0, lift: float = 0.0) -> None:
        self.shrink = shrink
        self.lift = lift

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        B = self.user_items_.copy()
        B.data[:] = 1.0
        C = sp.csr_matrix(B.T @ B, dtype=np.float64)
        C.setdiag(0)
        C.eliminate_zeros()
        count = np.asarray(B.sum(axis=0)).ravel()
        conf = sp.diags(1.0 / (count + self.shrink)) @ C
        if self.lift:
            conf = conf @ sp.diags((count + 1.0) ** -self.lift)
        self.together_ = sp.csr_matrix(conf, dtype=np.float32)

    def _score(self, X, ages):
        B = X.copy()
        B.data[:] = 1.0
        return np.asarray((B @ self.together_).todense(), dtype=np.float64)

    def _contributions(self, x, ages, item):
        col = self.together_[x.indices][:, [item]].toarray().ravel().astype(np.float64)
        return split_terms("together", x.indices, col)

    def bought_together(self, item_id: object, n: int = 10, **kwargs):
        """Items most often in the same order as ``item_id`` (alias of :meth:`similar_items`)."""
        return self.similar_items(item_id, n, **kwargs)

    def _state(self):
        return {"together": self.together_}

    def _load_state(self, state):
        self.together_ = state["together"]
