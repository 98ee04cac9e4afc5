"""Customer value: RFM segments, lifetime value, lapse risk and segmentation.

Telling customers apart by what they are worth and where they stand in the relationship is the
first step of one-to-one marketing. This package works on plain pandas frames (transactions
built from store events or from any file) so that the store, the CLI and the HTTP API share it.

Stability: provisional (0.x); names in ``__all__`` are the public surface.
"""

from omotenashi.value._bgnbd import BGNBD, bgnbd_log_likelihood
from omotenashi.value._data import (
    VISIT_TYPES,
    CalibrationHoldout,
    calibration_holdout_split,
    parse_column_map,
    read_attributes,
    read_transactions,
    rfm_summary,
    transactions_from_events,
    transactions_from_frame,
)
from omotenashi.value._gamma_gamma import (
    GammaGamma,
    gamma_gamma_log_likelihood,
    spend_frequency_correlation,
)
from omotenashi.value._lapse import (
    LapseBacktest,
    LapseRisk,
    calibration_table,
    lapse_backtest,
    lapse_features,
    lapse_labels,
)
from omotenashi.value._pareto import ParetoNBD, pareto_nbd_log_likelihood
from omotenashi.value._plots import (
    plot_calibration_holdout,
    plot_expected_purchases_heatmap,
    plot_p_alive_heatmap,
    plot_segment_sizes,
)
from omotenashi.value._report import (
    FitOutcome,
    ValueReport,
    customer_lifetime_value,
    customer_value,
    fit_value_model,
    holdout_metrics,
    join_attributes,
    segment_frame,
    value_report,
)
from omotenashi.value._rfm import DEFAULT_RFM_SEGMENTS, RFMScorer, segment_summary
from omotenashi.value._rules import (
    Rule,
    assign_segments,
    parse_named_rule,
    parse_rule,
    rule_membership,
)
from omotenashi.value._segments import KMeansSegmenter
from omotenashi.value._simulate import simulate_bgnbd, simulate_pareto_nbd, simulate_spend

__all__ = [
    "BGNBD",
    "DEFAULT_RFM_SEGMENTS",
    "VISIT_TYPES",
    "CalibrationHoldout",
    "FitOutcome",
    "GammaGamma",
    "KMeansSegmenter",
    "LapseBacktest",
    "LapseRisk",
    "ParetoNBD",
    "RFMScorer",
    "Rule",
    "ValueReport",
    "assign_segments",
    "bgnbd_log_likelihood",
    "calibration_holdout_split",
    "calibration_table",
    "customer_lifetime_value",
    "customer_value",
    "fit_value_model",
    "gamma_gamma_log_likelihood",
    "holdout_metrics",
    "join_attributes",
    "lapse_backtest",
    "lapse_features",
    "lapse_labels",
    "pareto_nbd_log_likelihood",
    "parse_column_map",
    "parse_named_rule",
    "parse_rule",
    "plot_calibration_holdout",
    "plot_expected_purchases_heatmap",
    "plot_p_alive_heatmap",
    "plot_segment_sizes",
    "read_attributes",
    "read_transactions",
    "rfm_summary",
    "rule_membership",
    "segment_frame",
    "segment_summary",
    "simulate_bgnbd",
    "simulate_pareto_nbd",
    "simulate_spend",
    "spend_frequency_correlation",
    "transactions_from_events",
    "transactions_from_frame",
    "value_report",
]
