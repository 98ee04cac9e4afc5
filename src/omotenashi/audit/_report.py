"""The audit of one set of recommendation lists: every figure overall and per customer group,
with the gaps between groups.

Inputs are plain frames (no store, no model): the lists (``customer_id, rank, item_id``), the
people's histories (``customer_id, item_id`` oldest first), the catalogue, item categories and
customer attributes. The figures (see ``_metrics`` for the single measures):

* **Popularity bias** is measured per person, then averaged over people, so that heavy users do
  not drown the rest: the mean popularity percentile of their recommended items against that of
  the items in their own history, and the *popularity lift* of Abdollahpouri et al. (2019, "The
  unfairness of popularity bias in recommendation"): with ``GAP(x)`` the mean over the group's
  people of the mean popularity (share of all people who interacted with the item) of the
  items in ``x``, ``lift = (GAP(recommended) - GAP(history)) / GAP(history)``. 0 means the
  lists are as mainstream as what the people chose; 1 means twice as mainstream.
* **Intra-list diversity** is the mean over people of the ILD of their list.
* **Narrowing over time.** A person's history (distinct items, in the order they first met
  them) is cut from the newest backwards into windows as long as their recommendation list; the
  list is the next window of their timeline. ``narrowing = ILD(newest window) - ILD(list)``:
  positive when the recommendations are narrower than what the person chose most recently,
  i.e. the recommender pushes them into a smaller corner than they were in. Equal window and
  list sizes matter: a mean pairwise dissimilarity over 10 items and one over 200 are not
  comparable in spread, and a whole history would always look broader. A person with fewer
  history items ``k`` (at least 2) than the list is compared on equal terms too: their ``k``
  items against the top ``k`` of the list. ``narrowed_share`` is the share of people with
  ``narrowing > 0``; ``trajectory`` is the mean ILD of the last ``windows`` full windows
  (oldest first) then of the list, over the people who have all of them, showing whether
  diversity was already falling before the recommender's step.
* **Groups.** Every figure is computed again on each group's people (a customer attribute, or a
  numeric attribute cut into bands: ``age_band`` is ``age`` cut at ``DEFAULT_BANDS``). Coverage
  and Gini of a group are over the whole catalogue, from that group's lists only, so a smaller
  group naturally covers less; ``coverage_at_equal_size`` removes that: the coverage the group's
  lists would have with as many people as the smallest group (``equal_size``), expected over
  random subsets of its people (rarefaction, exact), so the groups compare on equal terms. The
  gap of a figure is ``max - min`` over the groups, and ``ratio`` is ``max / min`` (None when
  the minimum is 0 or below). People without the attribute form the ``(missing)`` group, and
  groups of fewer than ``min_group_size`` people are ``small``: both are reported but left out
  of the gaps (a figure of three people is noise, and one such group would decide every gap).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln

from omotenashi.audit._metrics import (
    CATEGORY_JACCARD,
    COOCCURRENCE_COSINE,
    ItemFeatures,
    gini,
    intra_list_diversity,
    popularity_percentiles,
)
from omotenashi.errors import DataError

#: Band edges of ``NAME_band`` attributes (ages): <18, 18-24, 25-34, 35-44, 45-54, 55+.
DEFAULT_BANDS: tuple[float, ...] = (18, 25, 35, 45, 55)
#: The group of people without the attribute (reported, left out of the gaps).
MISSING = "(missing)"
#: The figures whose differences between groups are reported (and can be limited).
GAP_METRICS: tuple[str, ...] = (
    "coverage",
    "coverage_at_equal_size",
    "gini",
    "popularity_percentile_recommended",
    "popularity_lift",
    "ild",
    "narrowing",
    "narrowed_share",
)
DISSIMILARITIES = ("auto", "categories", "cooccurrence")


@dataclass
class AuditReport:
    """Figures overall and per group; ``exposure`` (per catalogue item) is kept for plots."""

    n: int
    catalogue_items: int
    dissimilarity: str
    windows: int
    overall: dict[str, Any]
    by: dict[str, dict[str, Any]] = field(default_factory=dict)
    exposure: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    min_group_size: int = 10
    model: str | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n": self.n,
            "catalogue_items": self.catalogue_items,
            "dissimilarity": self.dissimilarity,
            "windows": self.windows,
            "min_group_size": self.min_group_size,
            "overall": self.overall,
            "by": self.by,
            "thresholds": self.thresholds,
            "violations": self.violations,
            "passed": not self.violations,
        }


def parse_bands(text: str) -> list[float]:
    """Band edges from ``18,25,35,45,55`` (DataError naming ``bands`` otherwise)."""
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise DataError(
            f"bands {text!r}: expected numbers, e.g. 18,25,35,45,55", field="bands"
        ) from None


def band_label(edges: Sequence[float], index: int) -> str:
    """``<18``, ``18-24`` ... ``55+`` for integer edges; ``[a, b)`` otherwise."""
    whole = all(float(e).is_integer() for e in edges)

    def fmt(value: float) -> str:
        return str(int(value)) if whole else f"{value:g}"

    if index == 0:
        return f"<{fmt(edges[0])}"
    if index == len(edges):
        return f"{fmt(edges[-1])}+"
    low, high = edges[index - 1], edges[index]
    return f"{fmt(low)}-{fmt(high - 1)}" if whole else f"[{fmt(low)}, {fmt(high)})"


def attribute_groups(
    customers: pd.DataFrame, name: str, bands: Sequence[float] = DEFAULT_BANDS
) -> pd.Series:
    """The group of each customer (index ``customer_id``) by attribute ``name``.

    ``NAME_band`` cuts the numeric attribute ``NAME`` at ``bands`` unless the customers have an
    attribute called ``NAME_band`` themselves. Raises ``DataError`` naming the attribute when
    neither exists, or when a banded attribute holds something that is not a number.
    """
    ids = customers["customer_id"].astype(str) if "customer_id" in customers else pd.Series([])
    if name in customers.columns and name != "customer_id":
        values = customers[name]
        labels = [MISSING if _missing(v) else str(v) for v in values.tolist()]
        return pd.Series(labels, index=ids.tolist(), dtype=object)
    base = name[: -len("_band")] if name.endswith("_band") else None
    if base and base in customers.columns and base != "customer_id":
        edges = sorted(float(b) for b in bands)
        if not edges or not all(math.isfinite(e) for e in edges) or len(set(edges)) < len(edges):
            raise DataError(
                f"bands {list(bands)}: give distinct finite edges, e.g. 18,25,35,45,55",
                field="bands",
            )
        numbers = pd.to_numeric(customers[base], errors="coerce")
        bad = customers[base].notna() & numbers.isna()
        if bad.any():
            where = customers.loc[bad, "customer_id"].iloc[0]
            raise DataError(
                f"customer {where}: attribute {base!r} is {customers.loc[bad, base].iloc[0]!r}, "
                f"not a number, so it cannot be cut into bands for {name!r}",
                field=base,
            )
        positions = np.searchsorted(np.asarray(edges), numbers.to_numpy(), side="right")
        labels = [
            MISSING if math.isnan(v) else band_label(edges, int(p))
            for v, p in zip(numbers.tolist(), positions.tolist(), strict=True)
        ]
        groups = pd.Series(labels, index=ids.tolist(), dtype=object)
        groups.attrs["order"] = [band_label(edges, k) for k in range(len(edges) + 1)]
        return groups
    known = sorted(c for c in customers.columns if c != "customer_id")
    hint = f"; customers have {', '.join(known)}" if known else "; no customer has attributes"
    numeric = [c for c in known if pd.to_numeric(customers[c], errors="coerce").notna().any()]
    banded = [f"{c}_band" for c in numeric]
    hint += f" (and bands of {', '.join(banded)})" if banded else ""
    raise DataError(f"--by {name}: no customer attribute {name!r}{hint}", field="by")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def choose_features(
    how: str,
    catalogue: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    pairs: Sequence[tuple[str, str]],
) -> ItemFeatures:
    """``categories``, ``cooccurrence``, or ``auto``: categories when at least half of the
    catalogue has one (a few tagged items would leave most pairs out), co-occurrence otherwise."""
    if how not in DISSIMILARITIES:
        raise DataError(
            f"dissimilarity {how!r}: use one of {', '.join(DISSIMILARITIES)}", field="dissimilarity"
        )
    with_category = sum(1 for item in catalogue if categories.get(item))
    if how == "categories" or (how == "auto" and with_category * 2 >= max(len(catalogue), 1)):
        if how == "categories" and with_category == 0:
            raise DataError(
                "dissimilarity 'categories': no catalogue item has a category; use "
                "'cooccurrence' (or import the catalogue with categories)",
                field="dissimilarity",
            )
        return ItemFeatures.from_categories(catalogue, categories)
    return ItemFeatures.from_cooccurrence(catalogue, pairs)


def _mean(values: Sequence[float | None] | np.ndarray) -> float | None:
    kept = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return float(np.mean(kept)) if kept else None


def _figures(people: pd.DataFrame, lists: pd.DataFrame, catalogue_size: int, windows: int):
    """The figures of one set of people (``people``: one row per person; ``lists``: their
    recommendation rows with catalogue positions ``pos``)."""
    counts = np.bincount(lists["pos"].to_numpy(dtype="int64"), minlength=catalogue_size)
    distinct = int((counts > 0).sum())
    with_history = people[people["history_items"] > 0]
    gap_history = float(with_history["history_pop"].mean()) if len(with_history) else math.nan
    gap_recommended = float(with_history["rec_pop"].mean()) if len(with_history) else math.nan
    lift = (
        float((gap_recommended - gap_history) / gap_history)
        if len(with_history) and gap_history > 0
        else None
    )
    narrowing = people["narrowing"].dropna()
    complete = people.dropna(subset=[f"window_{k}" for k in range(windows, 0, -1)] + ["ild"])
    trajectory = (
        [float(complete[f"window_{k}"].mean()) for k in range(windows, 0, -1)]
        + [float(complete["ild"].mean())]
        if len(complete)
        else []
    )
    return {
        "customers": int(len(people)),
        "recommendations": int(len(lists)),
        "recommended_items": distinct,
        "coverage": distinct / catalogue_size if catalogue_size else None,
        "gini": gini(counts),
        "popularity_percentile_recommended": _mean(people["rec_pct"].to_numpy()),
        "popularity_percentile_history": _mean(with_history["history_pct"].to_numpy()),
        "popularity_share_recommended": None if math.isnan(gap_recommended) else gap_recommended,
        "popularity_share_history": None if math.isnan(gap_history) else gap_history,
        "popularity_lift": lift,
        "ild": _mean(people["ild"].to_numpy()),
        "narrowing": float(narrowing.mean()) if len(narrowing) else None,
        "narrowed_share": float((narrowing > 0).mean()) if len(narrowing) else None,
        "narrowing_customers": int(len(narrowing)),
        "trajectory": trajectory,
        "trajectory_customers": int(len(complete)),
    }, counts


def coverage_at_size(lists: pd.DataFrame, m: int, catalogue_size: int) -> float | None:
    """Expected coverage of the lists of ``m`` people drawn at random from these lists' people
    (rarefaction): ``sum_i (1 - C(N - c_i, m) / C(N, m)) / catalogue``, with ``N`` people and
    ``c_i`` of them shown item ``i``. Exact, no sampling; equals the coverage when ``m = N``."""
    people = lists["customer_id"].nunique()
    if m < 1 or people < m or catalogue_size <= 0:
        return None
    shown = lists.drop_duplicates(["customer_id", "item_id"])["item_id"].value_counts()
    c = shown.to_numpy(dtype="float64")
    n = float(people)
    # C(N - c, m) / C(N, m) in logs; 0 when fewer than m people lack the item
    rest = n - c
    log_ratio = (
        gammaln(rest + 1)
        - gammaln(np.maximum(rest - m, 0) + 1)
        - gammaln(n + 1)
        + gammaln(n - m + 1)
    )
    missed = np.where(rest >= m, np.exp(log_ratio), 0.0)
    return float((1.0 - missed).sum() / catalogue_size)


def _gaps(groups: Mapping[str, Mapping[str, Any]], left_out: set[str]) -> dict[str, Any]:
    gaps: dict[str, Any] = {}
    for metric in GAP_METRICS:
        values = {
            g: f[metric]
            for g, f in groups.items()
            if g not in left_out and f.get(metric) is not None
        }
        if len(values) < 2:
            gaps[metric] = None
            continue
        high = max(values, key=lambda g: values[g])
        low = min(values, key=lambda g: values[g])
        top, bottom = values[high], values[low]
        gaps[metric] = {
            "max": top,
            "max_group": high,
            "min": bottom,
            "min_group": low,
            "gap": top - bottom,
            "ratio": top / bottom if bottom > 0 else None,
        }
    return gaps


def audit(
    lists: pd.DataFrame,
    history: pd.DataFrame,
    catalogue: Sequence[str],
    *,
    categories: Mapping[str, Sequence[str]] | None = None,
    customers: pd.DataFrame | None = None,
    by: Sequence[str] = (),
    bands: Sequence[float] = DEFAULT_BANDS,
    dissimilarity: str = "auto",
    windows: int = 3,
    min_group_size: int = 10,
) -> AuditReport:
    """Audit recommendation lists against the people's histories.

    Parameters
    ----------
    lists : DataFrame
        ``customer_id, rank, item_id``: each person's recommendation list.
    history : DataFrame
        ``customer_id, item_id``, oldest first: what each person interacted with.
    catalogue : sequence of str
        Every item of the store (items in ``lists`` or ``history`` outside it are added).
    categories : mapping, optional
        Item id -> its categories.
    customers : DataFrame, optional
        ``customer_id`` plus attributes, for ``by``.
    by : sequence of str
        Attributes to break every figure down by (``NAME_band``: ``NAME`` cut at ``bands``).
    dissimilarity : str
        ``auto``, ``categories`` or ``cooccurrence`` (see ``_metrics``).
    windows : int
        History windows in the narrowing trajectory.
    min_group_size : int
        Groups with fewer people are reported (``small``) but left out of the gaps: a figure
        of three people says little about a group, and one such group would decide the gap.
    """
    if windows < 1:
        raise DataError(f"windows: {windows} must be at least 1", field="windows")
    if min_group_size < 1:
        raise DataError(
            f"min_group_size: {min_group_size} must be at least 1", field="min_group_size"
        )
    categories = categories or {}
    lists = lists[["customer_id", "rank", "item_id"]].astype({"customer_id": str, "item_id": str})
    lists = lists.sort_values(["customer_id", "rank"], kind="stable")
    history = history[["customer_id", "item_id"]].dropna().astype(str)
    history = history.drop_duplicates(keep="first")  # first meeting of each item, in order
    catalogue = list(
        dict.fromkeys(
            [
                *map(str, catalogue),
                *history["item_id"].tolist(),
                *lists["item_id"].tolist(),
            ]
        )
    )
    position = {item: k for k, item in enumerate(catalogue)}
    size = len(catalogue)
    features = choose_features(
        dissimilarity,
        catalogue,
        categories,
        list(zip(history["customer_id"], history["item_id"], strict=True)),
    )
    popularity = np.bincount(history["item_id"].map(position).to_numpy(), minlength=size)
    people_total = max(history["customer_id"].nunique(), 1)
    share = popularity / people_total
    percentile = popularity_percentiles(popularity)

    lists = lists.assign(pos=lists["item_id"].map(position).astype("int64"))
    history_pos = history.assign(pos=history["item_id"].map(position).astype("int64"))
    histories = {c: g["pos"].to_numpy() for c, g in history_pos.groupby("customer_id", sort=False)}
    rows = []
    for customer, group in lists.groupby("customer_id", sort=False):
        recommended = group["pos"].to_numpy()
        past = histories.get(customer, np.zeros(0, dtype="int64"))
        length = len(recommended)
        row: dict[str, Any] = {
            "customer_id": customer,
            "history_items": len(past),
            "rec_pct": float(percentile[recommended].mean()),
            "rec_pop": float(share[recommended].mean()),
            "history_pct": float(percentile[past].mean()) if len(past) else np.nan,
            "history_pop": float(share[past].mean()) if len(past) else np.nan,
            "ild": intra_list_diversity(recommended, features),
        }
        full = len(past) // length if length else 0
        for k in range(1, windows + 1):
            window = past[len(past) - k * length : len(past) - (k - 1) * length]
            row[f"window_{k}"] = intra_list_diversity(window, features) if k <= full else None
        # narrowing: the newest k history items against the top k of the list, k as long as
        # both allow (a history shorter than the list is compared with the list's head)
        k = min(length, len(past))
        newest = intra_list_diversity(past[len(past) - k :], features) if k >= 2 else None
        head = intra_list_diversity(recommended[:k], features) if k >= 2 else None
        row["narrowing"] = newest - head if newest is not None and head is not None else None
        rows.append(row)
    columns = ["customer_id", "history_items", "rec_pct", "rec_pop", "history_pct", "history_pop"]
    columns += ["ild", *[f"window_{k}" for k in range(1, windows + 1)], "narrowing"]
    people = pd.DataFrame(rows, columns=columns)
    for column in columns[1:]:
        people[column] = pd.to_numeric(people[column], errors="coerce").astype("float64")

    overall, exposure = _figures(people, lists, size, windows)
    report = AuditReport(
        n=int(lists.groupby("customer_id").size().max()) if len(lists) else 0,
        catalogue_items=size,
        dissimilarity=features.kind,
        windows=windows,
        overall=overall,
        exposure=exposure,
        min_group_size=min_group_size,
    )
    frame = customers if customers is not None else pd.DataFrame({"customer_id": []})
    for name in by:
        labels = attribute_groups(frame, name, bands)
        labels = labels[~labels.index.duplicated(keep="last")]
        group_of = people["customer_id"].map(labels).fillna(MISSING)
        list_group = lists["customer_id"].map(labels).fillna(MISSING)
        order = {g: k for k, g in enumerate(labels.attrs.get("order", ()))}
        groups: dict[str, Any] = {}
        present = group_of.unique().tolist()
        for label in sorted(present, key=lambda g: (g == MISSING, order.get(g, len(order)), g)):
            figures, _ = _figures(
                people[group_of == label], lists[list_group == label], size, windows
            )
            groups[label] = figures
        small = [g for g, f in groups.items() if g != MISSING and f["customers"] < min_group_size]
        left_out = {MISSING, *small}
        sizes = [f["customers"] for g, f in groups.items() if g not in left_out]
        smallest = min(sizes) if sizes else None
        for label, figures in groups.items():
            figures["coverage_at_equal_size"] = (
                coverage_at_size(lists[list_group == label], smallest, size)
                if label not in left_out and smallest is not None
                else None
            )
        report.by[name] = {
            "groups": groups,
            "equal_size": smallest,
            "missing": int((group_of == MISSING).sum()),
            "small": small,
            "gaps": _gaps(groups, left_out),
        }
    return report


__all__ = [
    "CATEGORY_JACCARD",
    "COOCCURRENCE_COSINE",
    "DEFAULT_BANDS",
    "DISSIMILARITIES",
    "GAP_METRICS",
    "MISSING",
    "AuditReport",
    "attribute_groups",
    "audit",
    "band_label",
    "choose_features",
    "coverage_at_size",
    "parse_bands",
]
