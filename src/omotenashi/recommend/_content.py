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
from omotenashi.recommend._base import Part, Recommender

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


def _one_part_per_kind(parts: list[Part]) -> list[Part]:
    """Parts of the same kind (two components' "customers with tastes like yours", their
    "against" parts) as one: the amounts added, so the reasons still add up to the score, and
    the items each part names in turn, the larger part's first. Without it a blend's answer
    gave the same sentence twice with other items and shares above 100 %."""
    kinds = [kind for kind, _, _ in parts]
    if len(set(kinds)) == len(kinds):
        return parts
    groups: dict[str, list[Part]] = {}
    for part in parts:
        groups.setdefault(part[0], []).append(part)
    out = []
    for kind, group in groups.items():
        group.sort(key=lambda p: -abs(p[2]))
        named = tuple(dict.fromkeys(i for _, idx, _ in group for i in idx))
        out.append((kind, named, float(sum(a for _, _, a in group))))
    return out


class Hybrid(Recommender):
    """Weighted sum of several models' scores, each scaled per customer.

    ``score_i = Σ_m w_m · s_m,i / scale_m`` for one customer (history), where ``s_m`` is model
    ``m``'s score of every catalogue item for that customer and ``scale_m`` is, with
    ``scaling="max"``, the largest ``|s_m|`` over the catalogue (the best item scores 1), with
    ``scaling="std"``, the standard deviation of ``s_m`` over the catalogue. The ``std`` scaling
    ranks every customer's items exactly as per-customer z-scores ``(s_m − mean) / std`` would:
    the z-score's offset ``Σ_m w_m · mean_m / std_m`` is one constant per customer, the same for
    every item, so it changes no ranking and is not served (a served score would otherwise carry
    a part that belongs to no item of the history, which no reason could name).

    Reasons: each component's parts scaled as its score is (``w_m / scale_m``); they add up to
    the served score when every component's parts add up to its own score.

    Parameters
    ----------
    components : tuple of str
        Registered model names (see :func:`make_model`).
    weights : tuple of float
        One weight per component. The default content weight (0.1) was the best of
        0, 0.02, 0.05, 0.1 on validation splits cut from the training part of ml-100k and
        ml-latest-small.
    params : tuple of dict
        Hyper-parameters of each component (empty: every component with its defaults).
    scaling : {"max", "std"}
        Per-customer scaling of each component's scores (see above).
    """

    name = "hybrid"

    @property
    def exact_reasons(self) -> bool:  # type: ignore[override]
        """Exact when every component's reasons are (each adds its scaled score)."""
        from omotenashi.recommend._registry import make_model

        return all(
            make_model(name, **p).exact_reasons
            for name, p in zip(self.components, self._part_params(), strict=True)
        )

    def __init__(
        self,
        components: tuple[str, ...] = ("recent_ease", "content"),
        weights: tuple[float, ...] = (1.0, 0.1),
        params: tuple[dict, ...] = (),
        scaling: str = "max",
    ) -> None:
        self.components = components
        self.weights = weights
        self.params = params
        self.scaling = scaling

    def _part_params(self) -> tuple[dict, ...]:
        if not self.params:
            return tuple({} for _ in self.components)
        if len(self.params) != len(self.components):
            raise DataError("hybrid needs one parameter set per component", field="params")
        return tuple(dict(p) for p in self.params)

    def _check(self) -> None:
        if len(self.components) != len(self.weights) or not self.components:
            raise DataError("hybrid needs one weight per component", field="weights")
        if self.scaling not in ("max", "std"):
            raise DataError(
                f"scaling must be 'max' or 'std', got {self.scaling!r}", field="scaling"
            )
        self._part_params()

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        from omotenashi.recommend._registry import make_model

        self._check()
        interactions = frame[["user_id", "item_id", "weight", "timestamp"]]
        self.models_ = [
            make_model(name, **p).fit(interactions, items)
            for name, p in zip(self.components, self._part_params(), strict=True)
        ]
        for m in self.models_:  # align every part on the hybrid's index
            if not np.array_equal(m.item_ids_, self.item_ids_):
                raise DataError("hybrid components disagree on the item index")

    @classmethod
    def of_fitted(
        cls, models: list[Recommender], weights: tuple[float, ...], scaling: str = "max"
    ) -> Hybrid:
        """The hybrid of models already fitted on the same interactions, without fitting again
        (model choice scores blend weights this way). Its ``params`` are the models' own, so
        ``make_model("hybrid", **hybrid.get_params()).fit(...)`` gives the same hybrid."""
        first = models[0]
        for m in models[1:]:
            if not np.array_equal(m.item_ids_, first.item_ids_) or not np.array_equal(
                m.user_ids_, first.user_ids_
            ):
                raise DataError("hybrid components disagree on the customer or item index")
        hybrid = cls(
            components=tuple(m.name for m in models),
            weights=tuple(float(w) for w in weights),
            params=tuple(m.get_params() for m in models),
            scaling=scaling,
        )
        hybrid._check()
        hybrid._clear_caches()
        for key in Recommender._PREPARED:  # the data the parts were fitted on
            setattr(hybrid, key, getattr(first, key))
        hybrid._set_index()
        hybrid.models_ = list(models)
        return hybrid

    def _scales(self, S: np.ndarray) -> np.ndarray:
        """Per-row divisor of a component's scores (1 where the row is constant)."""
        if self.scaling == "std":
            top = S.std(axis=1, keepdims=True)
        else:
            top = np.abs(S).max(axis=1, keepdims=True)
        top[~(top > 0)] = 1.0
        return top

    def _score(self, X, ages):
        return self._blend([m._score(X, ages) for m in self.models_])

    def _score_users(self, rows, X, ages):
        return self._blend([m._score_users(rows, X, ages) for m in self.models_])

    def _blend(self, scores: list[np.ndarray]) -> np.ndarray:
        """``Σ_m w_m · S_m / scale_m``, accumulated in place (a batch of scores is large)."""
        total: np.ndarray | None = None
        for S, w in zip(scores, self.weights, strict=True):
            part = np.array(S, dtype=np.float64)  # a copy: a model may return its own array
            part *= w / self._scales(part)
            if total is None:
                total = part
            else:
                total += part
        assert total is not None
        return total

    def _contributions(self, x, ages, item):
        return self._contributions_many(x, ages, np.array([item]))[0]

    def _contributions_many(self, x, ages, items):
        return self._parts(None, x, ages, items)

    def _user_contributions_many(self, row, x, ages, items):
        return self._parts(row, x, ages, items)

    def _parts(self, row, x, ages, items):
        """Each component's parts scaled as its score is (``weight / scale``): they add up to
        the hybrid's score when the components' parts add up to theirs. Parts of one kind from
        several components are one part (:func:`_one_part_per_kind`)."""
        out: list[list] = [[] for _ in items]
        for m, w in zip(self.models_, self.weights, strict=True):
            if row is None:
                S = m._score(x, ages)
                parts = m._contributions_many(x, ages, items)
            else:
                S = m._score_users(np.array([row]), x, ages)
                parts = m._user_contributions_many(row, x, ages, items)
            scale = w / float(self._scales(S)[0, 0])
            for col, item_parts in enumerate(parts):
                out[col] += [(k, idx, scale * a) for k, idx, a in item_parts]
        return [_one_part_per_kind(parts) for parts in out]

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
        for j, (name, p) in enumerate(zip(self.components, self._part_params(), strict=True)):
            m = make_model(name, **p)
            prefix = f"part{j}."
            m._load_state({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
            self.models_.append(m)
