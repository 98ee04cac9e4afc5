"""Audit of recommendations for bias and over-personalization: catalogue coverage, exposure
concentration (Gini), popularity bias, intra-list diversity and narrowing over each person's
timeline, overall and per customer group with the gaps between groups; limits a business sets,
and plots.

Pure computation on plain frames and arrays: the lists, histories, catalogue and attributes
come from the caller (``omotenashi.services.Audit`` reads them from a store and a model). Each
module's docstring says why its figures are defined the way they are.
"""

from __future__ import annotations

from omotenashi.audit._metrics import (
    CATEGORY_JACCARD,
    COOCCURRENCE_COSINE,
    ItemFeatures,
    coverage,
    exposure_counts,
    gini,
    intra_list_diversity,
    lorenz_curve,
    popularity_percentiles,
)
from omotenashi.audit._plots import GROUP_FIGURES, write_plots
from omotenashi.audit._report import (
    DEFAULT_BANDS,
    DISSIMILARITIES,
    GAP_METRICS,
    MISSING,
    AuditReport,
    attribute_groups,
    audit,
    band_label,
    choose_features,
    coverage_at_size,
    parse_bands,
)
from omotenashi.audit._thresholds import (
    LIMITS,
    Thresholds,
    check_thresholds,
    load_thresholds,
    parse_limits,
)

__all__ = [
    "CATEGORY_JACCARD",
    "COOCCURRENCE_COSINE",
    "DEFAULT_BANDS",
    "DISSIMILARITIES",
    "GAP_METRICS",
    "GROUP_FIGURES",
    "LIMITS",
    "MISSING",
    "AuditReport",
    "ItemFeatures",
    "Thresholds",
    "attribute_groups",
    "audit",
    "band_label",
    "check_thresholds",
    "choose_features",
    "coverage",
    "coverage_at_size",
    "exposure_counts",
    "gini",
    "intra_list_diversity",
    "load_thresholds",
    "lorenz_curve",
    "parse_bands",
    "parse_limits",
    "popularity_percentiles",
    "write_plots",
]
