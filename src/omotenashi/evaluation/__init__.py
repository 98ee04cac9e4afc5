"""Offline evaluation of recommenders: ranking metrics, protocols P1/S1 and a side-by-side runner.

The protocols are defined here once (see ``docs/recommend.md``) so that every figure — ours and
the peers' — comes from the same split and the same metric code.
"""

from __future__ import annotations

from omotenashi.evaluation._io import read_interactions, read_sessions
from omotenashi.evaluation._metrics import (
    catalogue_coverage,
    hit_matrix,
    hit_rate_at_k,
    intra_list_diversity,
    mean_popularity,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    recall_at_k,
)
from omotenashi.evaluation._protocols import (
    SessionSplit,
    TopNSplit,
    prepare_s1,
    split_p1,
    split_sessions_last,
)
from omotenashi.evaluation._runner import (
    evaluate_sessions,
    evaluate_topn,
    session_peers,
    topn_peers,
)
from omotenashi.evaluation._tuning import (
    SEARCH_SPACES,
    SearchSpace,
    Selection,
    gram_scale,
    paired_t,
    select_model,
    validation_split,
)
from omotenashi.importers.presets import load_diginetica

__all__ = [
    "SEARCH_SPACES",
    "SearchSpace",
    "Selection",
    "SessionSplit",
    "TopNSplit",
    "catalogue_coverage",
    "evaluate_sessions",
    "evaluate_topn",
    "gram_scale",
    "hit_matrix",
    "hit_rate_at_k",
    "intra_list_diversity",
    "load_diginetica",
    "mean_popularity",
    "mrr_at_k",
    "ndcg_at_k",
    "novelty",
    "paired_t",
    "prepare_s1",
    "read_interactions",
    "read_sessions",
    "recall_at_k",
    "select_model",
    "session_peers",
    "split_p1",
    "split_sessions_last",
    "topn_peers",
    "validation_split",
]
