"""The single figures of an audit, on plain arrays: exposure Gini, coverage, popularity
percentiles, intra-list diversity.

Why each is defined the way it is:

* **Coverage** is the share of the *catalogue* (every item the store knows: its item table and
  any item seen in an event) that is recommended to at least one person. Dividing by the items
  that happen to have events would hide the long tail a recommender never shows.
* **Exposure Gini** is the Gini coefficient of how many times each catalogue item appears in
  the recommendation lists, *zeros included*. An item never shown is the most unequal exposure
  there is; leaving zeros out would make a recommender that shows only ten items look fair.
  With the counts sorted ascending, ``x_(1) <= ... <= x_(N)``::

      G = 2 * sum_i(i * x_(i)) / (N * sum_i x_(i)) - (N + 1) / N

  0 when every item is shown equally often, ``1 - 1/N`` when one item takes all exposure.
* **Popularity percentile** of an item is its mid-rank among the catalogue by popularity (how
  many distinct people interacted with it): ``(#items less popular + 0.5 * #items as popular)
  / N``. Mid-ranks treat ties symmetrically (all never-seen items share one percentile) and the
  figure does not depend on the size of the catalogue or the store, so recommendations and
  histories, stores and groups, are comparable.
* **Intra-list diversity** (ILD) of a list is the mean dissimilarity over its pairs of items
  (Ziegler et al. 2005, Smyth & McClave 2001). Two dissimilarities are offered:
  ``category-jaccard`` — ``1 - |C_a ∩ C_b| / |C_a ∪ C_b|`` over the items' category sets, which a
  person can read ("a comedy and a drama are different") — and, for catalogues without
  categories, ``cooccurrence-cosine`` — ``1 - cos(v_a, v_b)`` of the items' binary vectors of the
  people who interacted with them (items chosen by the same people are similar). A pair with an
  item that has no features (no category; no interaction) says nothing about diversity and is
  left out; a list with no such pair has no ILD (None).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse

CATEGORY_JACCARD = "category-jaccard"
COOCCURRENCE_COSINE = "cooccurrence-cosine"


def gini(counts: Sequence[float] | np.ndarray) -> float | None:
    """Gini coefficient of non-negative counts (zeros count); None when all are zero or empty."""
    x = np.sort(np.asarray(counts, dtype="float64"))
    if x.size == 0:
        return None
    if np.any(x < 0):
        raise ValueError("exposure counts must be non-negative")
    total = x.sum()
    if total <= 0:
        return None
    n = x.size
    ranks = np.arange(1, n + 1, dtype="float64")
    return float(2.0 * np.dot(ranks, x) / (n * total) - (n + 1.0) / n)


def lorenz_curve(counts: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Lorenz curve of exposure: share of items (ascending) against share of exposure."""
    x = np.sort(np.asarray(counts, dtype="float64"))
    total = x.sum()
    items = np.linspace(0.0, 1.0, x.size + 1)
    share = np.concatenate([[0.0], np.cumsum(x) / total]) if total > 0 else np.zeros_like(items)
    return items, share


def coverage(recommended: Sequence[str] | np.ndarray, catalogue_size: int) -> float | None:
    """Share of the catalogue recommended to anyone (distinct items / catalogue size)."""
    if catalogue_size <= 0:
        return None
    return len(set(np.asarray(recommended, dtype=object).tolist())) / catalogue_size


def exposure_counts(recommended: Sequence[str], catalogue: Sequence[str]) -> np.ndarray:
    """How many times each catalogue item (in catalogue order) appears in the lists."""
    index = {item: k for k, item in enumerate(catalogue)}
    counts = np.zeros(len(catalogue), dtype="int64")
    for item in recommended:
        counts[index[item]] += 1
    return counts


def popularity_percentiles(popularity: Sequence[float] | np.ndarray) -> np.ndarray:
    """Mid-rank percentile of each item's popularity among all of them (see module doc)."""
    p = np.asarray(popularity, dtype="float64")
    if p.size == 0:
        return p
    ordered = np.sort(p)
    less = np.searchsorted(ordered, p, side="left")
    not_more = np.searchsorted(ordered, p, side="right")
    return (less + 0.5 * (not_more - less)) / p.size


class ItemFeatures:
    """What the dissimilarity of two items is computed from, one row per catalogue item."""

    def __init__(self, kind: str, matrix: np.ndarray | sparse.csr_matrix) -> None:
        self.kind = kind
        self.matrix = matrix
        if kind == CATEGORY_JACCARD:
            self.sizes = np.asarray(matrix.sum(axis=1)).ravel().astype("float64")
        elif kind == COOCCURRENCE_COSINE:
            norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
            self.sizes = norms
            scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
            self.matrix = sparse.diags(scale) @ matrix
            self.matrix = sparse.csr_matrix(self.matrix)
        else:
            raise ValueError(f"unknown dissimilarity {kind!r}")

    @classmethod
    def from_categories(
        cls, catalogue: Sequence[str], categories: Mapping[str, Sequence[str]]
    ) -> ItemFeatures:
        names = sorted({c for item in catalogue for c in categories.get(item, ())})
        column = {c: k for k, c in enumerate(names)}
        matrix = np.zeros((len(catalogue), max(len(names), 1)), dtype="float64")
        for row, item in enumerate(catalogue):
            for c in categories.get(item, ()):
                matrix[row, column[c]] = 1.0
        return cls(CATEGORY_JACCARD, matrix)

    @classmethod
    def from_cooccurrence(
        cls, catalogue: Sequence[str], pairs: Sequence[tuple[str, str]]
    ) -> ItemFeatures:
        """``pairs``: (person, item) interactions; each item's vector marks its people."""
        index = {item: k for k, item in enumerate(catalogue)}
        people: dict[str, int] = {}
        rows, cols = [], []
        for person, item in dict.fromkeys(pairs):
            rows.append(index[item])
            cols.append(people.setdefault(person, len(people)))
        matrix = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(catalogue), max(len(people), 1))
        )
        return cls(COOCCURRENCE_COSINE, matrix)

    def dissimilarity(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The pairwise dissimilarity of the items (catalogue positions) and which pairs count."""
        rows = self.matrix[items]
        if sparse.issparse(rows):
            inner = np.asarray((rows @ rows.T).todense())
        else:
            inner = rows @ rows.T
        sizes = self.sizes[items]
        known = (sizes[:, None] > 0) & (sizes[None, :] > 0)
        if self.kind == CATEGORY_JACCARD:
            union = sizes[:, None] + sizes[None, :] - inner
            similar = np.divide(inner, union, out=np.zeros_like(inner), where=union > 0)
        else:
            similar = np.clip(inner, 0.0, 1.0)
        return 1.0 - similar, known


def intra_list_diversity(items: Sequence[int] | np.ndarray, features: ItemFeatures) -> float | None:
    """Mean dissimilarity over the pairs of a list (catalogue positions); None without a pair
    of items that both have features."""
    positions = np.asarray(items, dtype="int64")
    if positions.size < 2:
        return None
    distance, known = features.dissimilarity(positions)
    upper = np.triu(np.ones_like(known, dtype=bool), k=1) & known
    if not upper.any():
        return None
    return float(distance[upper].mean())


__all__ = [
    "CATEGORY_JACCARD",
    "COOCCURRENCE_COSINE",
    "ItemFeatures",
    "coverage",
    "exposure_counts",
    "gini",
    "intra_list_diversity",
    "lorenz_curve",
    "popularity_percentiles",
]
