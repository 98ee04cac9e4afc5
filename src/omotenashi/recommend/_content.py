"""Content-based and hybrid recommenders: what an item *is*, for new items and new customers.

A new item has no interactions, so collaborative models cannot rank it; its title, description,
categories and tags can. The hybrid adds this signal to a collaborative model.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.errors import DataError
from omotenashi.recommend._base import Recommender

_TOKEN = re.compile(r"[a-z0-9][a-z0-9'-]+")


class ContentBased(Recommender):
    """TF-IDF item profiles from text, categories and tags; a customer is the sum of their items.

    ``score_i = f_i · Σ_j q_j f_j`` with L2-normalised item features ``f`` and recency-weighted
    history weights ``q``; the sum splits exactly into one term per feature the item shares with
    the history, which is the explanation (it names the largest terms and carries the score).

    Parameters
    ----------
    use_text : bool
        Use words of the title and description.
    category_weight, tag_weight : float
        Weight of category and tag features relative to words.
    min_df : int
        Words in fewer items are ignored.
    recency_boost, recency_scale : float
        As in :class:`EASE`.
    """

    name = "content"
    exact_reasons = True

    def __init__(
        self,
        use_text: bool = True,
        category_weight: float = 2.0,
        tag_weight: float = 1.0,
        min_df: int = 2,
        recency_boost: float = 1.0,
        recency_scale: float = 10.0,
    ) -> None:
        self.use_text = use_text
        self.category_weight = category_weight
        self.tag_weight = tag_weight
        self.min_df = min_df
        self.recency_boost = recency_boost
        self.recency_scale = recency_scale

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        cat = self.catalog_
        docs: list[list[str]] = []
        for i in range(len(cat)):
            tokens = [f"cat={c}" for c in cat.categories[i]]
            tokens += [f"tag={t.lower()}" for t in cat.tags[i]]
            if self.use_text:
                title = cat.title(i) if cat.title(i) != str(cat.item_ids[i]) else ""
                tokens += [
                    f"w={w}" for w in _TOKEN.findall(f"{title} {cat.descriptions[i]}".lower())
                ]
            docs.append(tokens)
        vocab: dict[str, int] = {}
        df_count: dict[str, int] = {}
        for doc in docs:
            for tok in set(doc):
                df_count[tok] = df_count.get(tok, 0) + 1
        for tok, c in df_count.items():
            if c >= self.min_df or not tok.startswith("w="):
                vocab.setdefault(tok, len(vocab))
        rows, cols, vals = [], [], []
        for i, doc in enumerate(docs):
            for tok in doc:
                j = vocab.get(tok)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
                    vals.append(1.0)
        names = np.array(sorted(vocab, key=vocab.get), dtype=object)
        F = sp.csr_matrix((vals, (rows, cols)), shape=(len(cat), len(vocab)), dtype=np.float64)
        F.sum_duplicates()
        n_docs = len(cat)
        dfv = np.bincount(F.indices, minlength=len(vocab))
        idf = np.log((1 + n_docs) / (1 + dfv)) + 1.0
        kind_w = np.array(
            [
                self.category_weight
                if t.startswith("cat=")
                else self.tag_weight
                if t.startswith("tag=")
                else 1.0
                for t in names
            ]
        )
        F = sp.csr_matrix(F.multiply(idf * kind_w))
        norms = np.sqrt(np.asarray(F.multiply(F).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        self.features_ = sp.csr_matrix(sp.diags(1.0 / norms) @ F, dtype=np.float32)
        self.feature_names_ = names.astype(str)
        if self.features_.nnz == 0:
            warnings.warn(
                "content model: items have no title, categories or tags; it will score 0",
                stacklevel=3,
            )

    def _query(self, X: sp.csr_matrix, ages: sp.csr_matrix) -> sp.csr_matrix:
        Q = X.copy().astype(np.float32)
        if self.recency_boost:
            Q.data = Q.data * (
                1.0 + self.recency_boost * np.exp(-(ages.data - 1.0) / self.recency_scale)
            )
        return Q

    def _score(self, X, ages):
        profile = self._query(X, ages) @ self.features_
        return np.asarray((profile @ self.features_.T).todense(), dtype=np.float64)

    def _item_vectors(self):
        return self.features_

    def _contributions(self, x, ages, item):
        # score_i = sum over features f of profile_f * f_if: one term per shared feature
        q = self._query(x, ages)
        f_i = self.features_[item]
        profile = np.asarray((q @ self.features_).todense(), dtype=np.float64).ravel()
        feat = profile[f_i.indices] * f_i.data.astype(np.float64)
        total = float(feat.sum())
        if total == 0:
            return []
        forder = np.argsort(-feat, kind="stable")
        feats = tuple(int(f_i.indices[j]) for j in forder[:3] if feat[j] > 0)
        kind = "new_in_category" if self.item_popularity_[item] == 0 else "feature"
        return [(kind, feats, total)]

    def _feature_names(self, idx):
        out = []
        for j in idx:
            name = self.feature_names_[j]
            kind, _, value = name.partition("=")
            out.append({"cat": f"{value} (category)", "tag": f"'{value}' (tag)"}.get(kind, value))
        return out

    def _state(self):
        return {"features": self.features_, "feature_names": self.feature_names_}

    def _load_state(self, state):
        self.features_ = state["features"]
        self.feature_names_ = state["feature_names"]


class Hybrid(Recommender):
    """Weighted sum of several models' scores, each scaled so a customer's best item scores 1.

    Parameters
    ----------
    components : tuple of str
        Registered model names (see :func:`make_model`).
    weights : tuple of float
        One weight per component. The default content weight (0.1) was the best of
        0, 0.02, 0.05, 0.1 on validation splits cut from the training part of ml-100k and
        ml-latest-small.
    """

    name = "hybrid"

    @property
    def exact_reasons(self) -> bool:  # type: ignore[override]
        """Exact when every component's reasons are (each adds its scaled score)."""
        from omotenashi.recommend._registry import make_model

        return all(make_model(name).exact_reasons for name in self.components)

    def __init__(
        self,
        components: tuple[str, ...] = ("recent_ease", "content"),
        weights: tuple[float, ...] = (1.0, 0.1),
    ) -> None:
        self.components = components
        self.weights = weights

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        from omotenashi.recommend._registry import make_model

        if len(self.components) != len(self.weights) or not self.components:
            raise DataError("hybrid needs one weight per component", field="weights")
        interactions = frame[["user_id", "item_id", "weight", "timestamp"]]
        self.models_ = [make_model(name).fit(interactions, items) for name in self.components]
        for m in self.models_:  # align every part on the hybrid's index
            if not np.array_equal(m.item_ids_, self.item_ids_):
                raise DataError("hybrid components disagree on the item index")

    @staticmethod
    def _scale(S: np.ndarray) -> np.ndarray:
        top = np.abs(S).max(axis=1, keepdims=True)
        top[top == 0] = 1.0
        return S / top

    def _score(self, X, ages):
        return sum(
            w * self._scale(m._score(X, ages))
            for m, w in zip(self.models_, self.weights, strict=True)
        )

    def _score_users(self, rows, X, ages):
        return sum(
            w * self._scale(m._score_users(rows, X, ages))
            for m, w in zip(self.models_, self.weights, strict=True)
        )

    def _contributions(self, x, ages, item):
        return self._contributions_many(x, ages, np.array([item]))[0]

    def _contributions_many(self, x, ages, items):
        return self._parts(None, x, ages, items)

    def _user_contributions_many(self, row, x, ages, items):
        return self._parts(row, x, ages, items)

    def _parts(self, row, x, ages, items):
        """Each component's parts scaled as its score is (``weight / max |score|``): they add
        up to the hybrid's score when the components' parts add up to theirs."""
        out: list[list] = [[] for _ in items]
        for m, w in zip(self.models_, self.weights, strict=True):
            if row is None:
                S = m._score(x, ages)[0]
                parts = m._contributions_many(x, ages, items)
            else:
                S = m._score_users(np.array([row]), x, ages)[0]
                parts = m._user_contributions_many(row, x, ages, items)
            scale = w / (np.abs(S).max() or 1.0)
            for col, item_parts in enumerate(parts):
                out[col] += [(k, idx, scale * a) for k, idx, a in item_parts]
        return out

    def _feature_names(self, idx):
        for m in self.models_:
            if isinstance(m, ContentBased):
                return m._feature_names(idx)
        return super()._feature_names(idx)

    def _state(self):
        state = {}
        for j, m in enumerate(self.models_):
            for key, value in m._state().items():
                state[f"part{j}.{key}"] = value
        return state

    def _load_state(self, state):
        from omotenashi.recommend._registry import make_model

        self.models_ = []
        for j, name in enumerate(self.components):
            m = make_model(name)
            prefix = f"part{j}."
            m._load_state({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
            self.models_.append(m)
