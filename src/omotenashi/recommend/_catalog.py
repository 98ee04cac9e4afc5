"""Item metadata the recommenders need for filters, content features and readable reasons.

Built once at fit time from the store's items frame (``item_id``, ``title``, ``categories``,
``tags``, ``description``, ``attributes``, ``price``) and aligned with the model's item index.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.errors import DataError


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, float) and np.isnan(value):
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split("|") if v.strip()]
    if isinstance(value, Iterable):
        return [str(v) for v in value if v is not None and str(v) != ""]
    return [str(value)]


def _is_available(attributes: dict) -> bool:
    # ``recommendable: false`` marks items that are never offered (postage, fees, gift wrap)
    for key in ("recommendable", "available", "in_stock"):
        if key in attributes and not attributes[key]:
            return False
    if "stock" in attributes:
        try:
            return float(attributes["stock"]) > 0
        except (TypeError, ValueError):
            return True
    return True


class ItemCatalog:
    """Item metadata aligned with a model's item index.

    Parameters
    ----------
    item_ids : array-like of str, shape (n_items,)
        The model's item index.
    items : pandas.DataFrame or None
        The items frame; items absent from it get empty metadata.

    Attributes
    ----------
    titles : numpy.ndarray of str, shape (n_items,)
        Title, or the id when there is none.
    categories : list of list of str
    tags : list of list of str
    descriptions : list of str
    attributes : list of dict
    available : numpy.ndarray of bool, shape (n_items,)
        False where ``attributes`` says ``recommendable``/``available``/``in_stock`` false or
        ``stock`` <= 0.
    """

    def __init__(self, item_ids: np.ndarray, items: pd.DataFrame | None = None) -> None:
        ids = np.asarray(item_ids, dtype=object)
        n = len(ids)
        self.item_ids = ids
        self.titles = ids.astype(str).astype(object)
        self.categories: list[list[str]] = [[] for _ in range(n)]
        self.tags: list[list[str]] = [[] for _ in range(n)]
        self.descriptions: list[str] = [""] * n
        self.attributes: list[dict] = [{} for _ in range(n)]
        self.available = np.ones(n, dtype=bool)
        self.has_metadata = items is not None and len(items) > 0
        if items is not None and len(items):
            if "item_id" not in items.columns:
                raise DataError("items lack the column 'item_id'", field="item_id")
            index = pd.Index(ids.astype(str))
            pos = index.get_indexer(items["item_id"].astype(str))
            ok = pos >= 0
            rows = items[ok]
            pos = pos[ok]
            if "title" in rows.columns:
                titles = rows["title"].to_numpy()
                for p, t in zip(pos, titles, strict=True):
                    if isinstance(t, str) and t:
                        self.titles[p] = t
            for column, target in (("categories", self.categories), ("tags", self.tags)):
                if column in rows.columns:
                    for p, v in zip(pos, rows[column].to_numpy(), strict=True):
                        target[p] = _as_list(v)
            if "description" in rows.columns:
                for p, v in zip(pos, rows["description"].to_numpy(), strict=True):
                    self.descriptions[p] = v if isinstance(v, str) else ""
            if "attributes" in rows.columns:
                for p, v in zip(pos, rows["attributes"].to_numpy(), strict=True):
                    if isinstance(v, dict):
                        self.attributes[p] = v
                        self.available[p] = _is_available(v)
        names = sorted({c for cats in self.categories for c in cats})
        self.category_names = np.array(names, dtype=object)
        cat_index = {c: j for j, c in enumerate(names)}
        rows_idx = [i for i, cats in enumerate(self.categories) for _ in cats]
        cols_idx = [cat_index[c] for cats in self.categories for c in cats]
        self.category_matrix = sp.csr_matrix(
            (np.ones(len(rows_idx), dtype=np.float32), (rows_idx, cols_idx)), shape=(n, len(names))
        )

    def __len__(self) -> int:
        return len(self.item_ids)

    def in_categories(self, names: Iterable[str]) -> np.ndarray:
        """Boolean mask of items that have at least one of ``names`` as category."""
        wanted = set(names)
        cols = [j for j, c in enumerate(self.category_names) if c in wanted]
        if not cols:
            return np.zeros(len(self), dtype=bool)
        return np.asarray(self.category_matrix[:, cols].sum(axis=1)).ravel() > 0

    def with_attribute(self, key: str, value: object) -> np.ndarray:
        """Boolean mask of items whose attribute ``key`` equals ``value`` (or contains it)."""
        out = np.zeros(len(self), dtype=bool)
        for i, attrs in enumerate(self.attributes):
            v = attrs.get(key)
            out[i] = v == value or (isinstance(v, list | tuple | set) and value in v)
        return out

    def title(self, index: int) -> str:
        """Readable name of the item at ``index``."""
        return str(self.titles[index])
