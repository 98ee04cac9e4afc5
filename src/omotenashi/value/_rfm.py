"""RFM scores and named segments: the marketer's first cut of a customer base.

Scores are quantiles of recency (days since the last purchase; recent is good), frequency
(number of purchase occasions) and monetary value (total spend). Ties get the same score: a
customer's score comes from the *mid-rank* of their value among the reference customers
(``ceil(bins * (below + equal / 2) / n)``), so two customers with the same history never land
in different bins, and new customers can be scored against the fitted reference. Named
segments are ordered rules over the scores, written in the rule language of ``_rules`` so that
marketers can replace them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from omotenashi.errors import DataError
from omotenashi.value._base import _Fitted
from omotenashi.value._rules import _as_pairs, assign_segments

#: Default named segments, tried in order (first match wins). ``r``, ``f``, ``m`` are the
#: 1..bins scores, ``fm`` is the rounded mean of ``f`` and ``m``; with 5 bins every customer
#: matches one of them.
DEFAULT_RFM_SEGMENTS: tuple[tuple[str, str], ...] = (
    ("champions", "r >= 4 and fm >= 4"),
    ("new", "r >= 4 and n_purchases == 1"),
    ("loyal", "r >= 3 and fm >= 3"),
    ("potential", "r >= 3"),
    ("can't lose", "r == 1 and fm >= 4"),
    ("at risk", "r <= 2 and fm >= 3"),
    ("hibernating", "r == 2"),
    ("lost", "r <= 1"),
)

#: Summary columns used for the three scores, and whether larger is better.
RFM_COLUMNS = {"r": ("recency_days", False), "f": ("n_purchases", True), "m": ("monetary", True)}


def _midrank_scores(reference: np.ndarray, values: np.ndarray, bins: int) -> np.ndarray:
    below = np.searchsorted(reference, values, side="left")
    equal = np.searchsorted(reference, values, side="right") - below
    pct = (below + equal / 2.0) / len(reference)
    return np.clip(np.ceil(pct * bins), 1, bins).astype(int)


class RFMScorer(_Fitted):
    """Quantile RFM scores and rule-based named segments.

    Parameters
    ----------
    bins : int, default 5
        Number of score levels (5 = quintiles).
    segments : mapping or sequence of (name, rule), optional
        Ordered segment rules over the columns ``r``, ``f``, ``m``, ``fm`` and any summary
        column; default :data:`DEFAULT_RFM_SEGMENTS` (written for 5 bins).
    default_segment : str, default "other"
        Segment of customers that match no rule.

    Attributes
    ----------
    reference_ : dict of str to numpy.ndarray
        Sorted reference values of each score (larger-is-better orientation).
    n_customers_ : int
    """

    def __init__(
        self,
        bins: int = 5,
        segments: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        default_segment: str = "other",
    ) -> None:
        self.bins = bins
        self.segments = segments
        self.default_segment = default_segment

    def fit(self, summary: pd.DataFrame) -> RFMScorer:
        """Learn the score quantiles from ``summary`` (output of :func:`rfm_summary`).

        Raises
        ------
        DataError
            On missing columns, an empty summary or ``bins`` below 2.
        """
        if not isinstance(self.bins, int | np.integer) or self.bins < 2:
            raise DataError(f"bins must be an integer >= 2, got {self.bins!r}", field="bins")
        _as_pairs(self.segments if self.segments is not None else DEFAULT_RFM_SEGMENTS)
        if not len(summary):
            raise DataError("summary is empty: nothing to score", field="summary")
        self.reference_ = {k: np.sort(self._oriented(summary, k)) for k in RFM_COLUMNS}
        self.n_customers_ = len(summary)
        self.params_ = {"bins": float(self.bins)}
        return self

    @staticmethod
    def _oriented(summary: pd.DataFrame, key: str) -> np.ndarray:
        column, larger_better = RFM_COLUMNS[key]
        if column not in summary.columns:
            raise DataError(
                f"summary lacks column {column!r}; build it with rfm_summary()", field=column
            )
        values = pd.to_numeric(summary[column], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise DataError(f"column {column!r}: missing or non-finite values", field=column)
        return values if larger_better else -values

    def transform(self, summary: pd.DataFrame) -> pd.DataFrame:
        """Scores and segment of each customer.

        Returns
        -------
        pandas.DataFrame
            Indexed like ``summary``: ``r``, ``f``, ``m``, ``fm`` (1..bins), ``rfm`` (e.g.
            ``"545"``) and ``segment``.
        """
        self._check_fitted()
        scores = pd.DataFrame(index=summary.index)
        for key in RFM_COLUMNS:
            scores[key] = _midrank_scores(
                self.reference_[key], self._oriented(summary, key), self.bins
            )
        scores["fm"] = np.floor((scores["f"] + scores["m"]) / 2 + 0.5).astype(int)
        scores["rfm"] = scores["r"].astype(str) + scores["f"].astype(str) + scores["m"].astype(str)
        context = pd.concat(
            [summary.drop(columns=list(scores.columns), errors="ignore"), scores], axis=1
        )
        rules = self.segments if self.segments is not None else DEFAULT_RFM_SEGMENTS
        scores["segment"] = assign_segments(context, rules, default=self.default_segment)
        return scores

    def fit_transform(self, summary: pd.DataFrame) -> pd.DataFrame:
        """Fit on ``summary`` and score it."""
        return self.fit(summary).transform(summary)


def segment_summary(
    frame: pd.DataFrame,
    segment: str = "segment",
    value: str = "monetary",
    clv: str | None = "clv",
) -> pd.DataFrame:
    """Size and value of each segment.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per customer with a segment column.
    segment : str
        Name of the segment column.
    value : str
        Column of historical value to sum and average.
    clv : str, optional
        Column of predicted lifetime value, summed when present.

    Returns
    -------
    pandas.DataFrame
        One row per segment, largest first: ``customers``, ``share``, ``value``,
        ``mean_value`` and, when available, ``clv`` and ``mean_clv``.
    """
    for col in (segment, value):
        if col not in frame.columns:
            raise DataError(f"column {col!r} is missing", field=col)
    g = frame.groupby(segment, sort=False)
    out = pd.DataFrame({"customers": g.size(), "value": g[value].sum()})
    out["share"] = out["customers"] / out["customers"].sum()
    out["mean_value"] = out["value"] / out["customers"]
    if clv is not None and clv in frame.columns:
        out["clv"] = g[clv].sum()
        out["mean_clv"] = out["clv"] / out["customers"]
    out.index.name = "segment"
    return out.sort_values("customers", ascending=False, kind="stable")


__all__ = ["DEFAULT_RFM_SEGMENTS", "RFMScorer", "segment_summary"]
