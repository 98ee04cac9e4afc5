"""Popularity baselines: overall, trending (time-decayed) and within the customer's categories.

Popularity is the cold-start answer for a new customer and the floor every other model must beat.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.errors import DataError
from omotenashi.recommend._base import Recommender


class Popularity(Recommender):
    """Most popular items, optionally trending and per category of interest.

    Parameters
    ----------
    half_life_days : float or None
        When set, an interaction counts ``0.5 ** (age_days / half_life_days)``, age measured from
        the latest interaction in the data (trending). None counts every interaction once.
    by_category : bool
        When True and items have categories, an item's popularity is multiplied by
        ``1 + share of the customer's history in the item's categories`` (popular *in the
        categories you like*).
    """

    name = "popularity"
    #: The score is the popularity, times ``1 + share`` for the categories you like.
    exact_reasons = True

    def __init__(self, half_life_days: float | None = None, by_category: bool = False) -> None:
        self.half_life_days = half_life_days
        self.by_category = by_category

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        n = len(self.item_ids_)
        weight = np.ones(len(frame))
        if self.half_life_days is not None:
            if not self.half_life_days > 0:
                raise DataError(
                    f"half_life_days must be > 0, got {self.half_life_days}", field="half_life_days"
                )
            t = frame["t"].to_numpy()
            finite = np.isfinite(t)
            if finite.any():
                age = np.where(finite, (t[finite].max() - t) / 86400.0, np.inf)
                weight = 0.5 ** (age / self.half_life_days)
        self.popularity_ = np.bincount(frame["i"], weights=weight, minlength=n)

    def _popular_scores(self) -> np.ndarray:
        return self.popularity_.astype(np.float64)

    def _score(self, X: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        S = np.tile(self.popularity_, (X.shape[0], 1))
        C = self.catalog_.category_matrix
        if self.by_category and C.shape[1]:
            profile = (X > 0).astype(np.float64) @ C
            totals = np.asarray((X > 0).sum(axis=1)).ravel()
            totals[totals == 0] = 1
            share = np.asarray((profile @ C.T).todense()) / totals[:, None]
            S = S * (1.0 + share)
        return S

    def _contributions(self, x, ages, item):
        popular = float(self.popularity_[item])
        parts = [("popular", (), popular)]
        C = self.catalog_.category_matrix
        if self.by_category and C.shape[1] and C[item].nnz:
            liked = np.asarray(((x > 0).astype(np.float64) @ C).todense()).ravel()
            cats = [int(c) for c in C[item].indices if liked[c] > 0]
            if cats:
                # score = popularity * (1 + share): the share's part is popularity * share
                row = C[item]
                share = float((liked[row.indices] * row.data).sum() / max(int((x > 0).sum()), 1))
                parts.append(("category", tuple(cats), popular * share))
        return parts

    def _state(self):
        return {"popularity": self.popularity_}

    def _load_state(self, state):
        self.popularity_ = state["popularity"]
