"""Data-driven segments: k-means on standardised behaviour and attributes, described in words.

A cluster is only useful to a marketer when they can say what it is, so each centre is turned
into a short sentence ("high monetary (median 1,240), low recency_days (median 12); mostly
country=Japan (82%)") by comparing it with the whole base in standard-deviation units.
Skewed non-negative features (spend, counts) are log-transformed first so that a handful of
big spenders do not get a cluster each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from omotenashi.errors import DataError
from omotenashi.value._base import _Fitted

#: Behaviour columns used by default when present.
DEFAULT_FEATURES = ("recency_days", "n_purchases", "monetary", "mean_repeat_spend", "T")


class KMeansSegmenter(_Fitted):
    """k-means segmentation with a text description of each segment's centre.

    Parameters
    ----------
    n_clusters : int, default 4
        Number of segments.
    features : sequence of str, optional
        Columns to cluster on. Numeric columns are standardised; text/categorical columns are
        one-hot encoded (their ``max_categories`` most frequent values). Default: the columns
        of :data:`DEFAULT_FEATURES` present in the frame.
    log_transform : bool, default True
        Apply ``log1p`` to non-negative numeric columns whose skewness exceeds 1.
    max_categories : int, default 10
        Categories kept per categorical column (others are grouped).
    random_state : int or None, default 0
        Seed of k-means.

    Attributes
    ----------
    labels_ : pandas.Series
        Segment number of each row of the fitted frame (0 = largest segment).
    descriptions_ : list of str
        One sentence per segment.
    profile_ : pandas.DataFrame
        Per segment: size, share, description and the median of each numeric feature.
    """

    def __init__(
        self,
        n_clusters: int = 4,
        features: Sequence[str] | None = None,
        log_transform: bool = True,
        max_categories: int = 10,
        random_state: int | None = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.features = features
        self.log_transform = log_transform
        self.max_categories = max_categories
        self.random_state = random_state

    def _columns(self, frame: pd.DataFrame) -> list[str]:
        if self.features is not None:
            cols = list(self.features)
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise DataError(
                    f"features {missing} are not columns of the frame; it has "
                    f"{list(frame.columns)}",
                    field=missing[0],
                )
        else:
            cols = [c for c in DEFAULT_FEATURES if c in frame.columns]
        if not cols:
            raise DataError("no feature to cluster on; pass features=[...]", field="features")
        return cols

    def _design(self, frame: pd.DataFrame, fitting: bool) -> np.ndarray:
        parts = []
        for col in self.columns_:
            values = frame[col]
            if col in self.categories_:
                cats = self.categories_[col]
                text = values.astype(str)
                for cat in cats:
                    parts.append((text == cat).to_numpy(dtype=float))
                continue
            num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            if not np.isfinite(num).all():
                raise DataError(f"column {col!r}: missing or non-finite values", field=col)
            if col in self.logged_:
                num = np.log1p(np.maximum(num, 0.0))
            parts.append(num)
        design = np.column_stack(parts)
        if fitting:
            self.mean_ = design.mean(axis=0)
            std = design.std(axis=0)
            self.scale_ = np.where(std > 0, std, 1.0)
        return (design - self.mean_) / self.scale_

    def fit(self, frame: pd.DataFrame) -> KMeansSegmenter:
        """Cluster the rows of ``frame`` (one per customer).

        Raises
        ------
        DataError
            On missing columns, non-numeric values, or fewer rows than clusters.
        """
        from sklearn.cluster import KMeans

        if not isinstance(self.n_clusters, int | np.integer) or self.n_clusters < 1:
            raise DataError(
                f"n_clusters must be a positive integer, got {self.n_clusters!r}",
                field="n_clusters",
            )
        if len(frame) < self.n_clusters:
            raise DataError(
                f"{len(frame)} customer(s) cannot form {self.n_clusters} segments",
                field="n_clusters",
            )
        self.columns_ = self._columns(frame)
        self.categories_: dict[str, list[str]] = {}
        self.logged_: set[str] = set()
        for col in self.columns_:
            values = frame[col]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                num = values.astype(float)
                if self.log_transform and (num >= 0).all() and num.skew() > 1:
                    self.logged_.add(col)
            else:
                counts = values.astype(str).value_counts()
                self.categories_[col] = list(counts.index[: self.max_categories])
        design = self._design(frame, fitting=True)
        km = KMeans(n_clusters=int(self.n_clusters), n_init=10, random_state=self.random_state)
        raw = km.fit_predict(design)
        # Renumber by size so that segment 0 is the largest.
        order = np.argsort(-np.bincount(raw, minlength=self.n_clusters), kind="stable")
        remap = np.empty_like(order)
        remap[order] = np.arange(len(order))
        self._kmeans = km
        self._remap = remap
        self.labels_ = pd.Series(remap[raw], index=frame.index, name="cluster")
        self.centers_ = km.cluster_centers_[order]
        self.descriptions_ = [self._describe(frame, k) for k in range(self.n_clusters)]
        self.profile_ = self._profile(frame)
        self.params_ = {"n_clusters": float(self.n_clusters), "inertia": float(km.inertia_)}
        return self

    def predict(self, frame: pd.DataFrame) -> pd.Series:
        """Segment number of each row of ``frame``, with the fitted scaling and centres."""
        self._check_fitted()
        raw = self._kmeans.predict(self._design(frame, fitting=False))
        return pd.Series(self._remap[raw], index=frame.index, name="cluster")

    def _describe(self, frame: pd.DataFrame, k: int) -> str:
        members = frame[self.labels_.to_numpy() == k]
        notes: list[tuple[float, str]] = []
        j = 0
        for col in self.columns_:
            if col in self.categories_:
                overall = frame[col].astype(str).value_counts(normalize=True)
                inside = members[col].astype(str).value_counts(normalize=True)
                for cat in self.categories_[col]:
                    share = float(inside.get(cat, 0.0))
                    base = float(overall.get(cat, 0.0))
                    if share >= 0.6 and share >= 1.5 * base:
                        notes.append((3.0 * share, f"mostly {col}={cat} ({share:.0%})"))
                    j += 1
                continue
            z = float(self.centers_[k, j])
            j += 1
            if abs(z) < 0.5:
                continue
            level = (
                "very high" if z >= 1.5 else "high" if z > 0 else "very low" if z <= -1.5 else "low"
            )
            median = float(pd.to_numeric(members[col]).median())
            notes.append((abs(z), f"{level} {col} (median {median:,.4g})"))
        if not notes:
            return "close to the average customer"
        notes.sort(key=lambda item: -item[0])
        return "; ".join(text for _, text in notes[:4])

    def _profile(self, frame: pd.DataFrame) -> pd.DataFrame:
        sizes = np.bincount(self.labels_.to_numpy(), minlength=self.n_clusters)
        out = pd.DataFrame(
            {"size": sizes, "share": sizes / sizes.sum(), "description": self.descriptions_}
        )
        numeric = [c for c in self.columns_ if c not in self.categories_]
        if numeric:
            medians = frame[numeric].apply(pd.to_numeric).groupby(self.labels_.to_numpy()).median()
            out = out.join(medians.add_prefix("median_"))
        out.index.name = "cluster"
        return out


__all__ = ["DEFAULT_FEATURES", "KMeansSegmenter"]
