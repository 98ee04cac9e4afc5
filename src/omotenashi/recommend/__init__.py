"""Recommendations: models behind one interface, business rules, explanations, artefacts.

Every model is fitted on an interaction table (``user_id``, ``item_id``, ``weight``,
``timestamp``) built from store events by :func:`interactions_from_events`, and answers
``recommend`` (known customer), ``recommend_session`` (anonymous visit), ``similar_items`` and
``explain``; results carry the reasons the model's own computation gives.
"""

from __future__ import annotations

from omotenashi.recommend._artefacts import (
    latest_version,
    list_versions,
    load_model,
    save_model,
    set_default,
)
from omotenashi.recommend._base import Reason, Recommendation, Recommender, shared_preparation
from omotenashi.recommend._catalog import ItemCatalog
from omotenashi.recommend._content import ContentBased, Hybrid
from omotenashi.recommend._data import (
    DEFAULT_EVENT_WEIGHTS,
    UNIT_TYPES,
    EventWeights,
    check_interactions,
    interactions_from_events,
    rating_range,
    repeats_factor,
    sessionize,
)
from omotenashi.recommend._graph import RP3beta, rp3beta_weights
from omotenashi.recommend._linear import EASE, BM25ItemKNN, ItemKNN, RecentEASE, ease_weights
from omotenashi.recommend._mf import BPR, IALS, ImplicitMF
from omotenashi.recommend._popularity import Popularity
from omotenashi.recommend._registry import MODELS, Trending, make_model
from omotenashi.recommend._rules import Rules, mmr_select
from omotenashi.recommend._session import (
    STAN,
    VSKNN,
    VSTAN,
    BoughtTogether,
    SequentialRules,
    SessionKNN,
    next_click_metrics,
)
from omotenashi.recommend._userknn import UserKNN
from omotenashi.recommend._why import plain_why

__all__ = [
    "set_default",
    "shared_preparation",
    "BM25ItemKNN",
    "BPR",
    "BoughtTogether",
    "ContentBased",
    "DEFAULT_EVENT_WEIGHTS",
    "EASE",
    "UNIT_TYPES",
    "EventWeights",
    "Hybrid",
    "IALS",
    "ImplicitMF",
    "ItemCatalog",
    "ItemKNN",
    "MODELS",
    "Popularity",
    "RP3beta",
    "Reason",
    "RecentEASE",
    "Recommendation",
    "Recommender",
    "Rules",
    "SequentialRules",
    "SessionKNN",
    "STAN",
    "Trending",
    "UserKNN",
    "VSKNN",
    "VSTAN",
    "check_interactions",
    "ease_weights",
    "interactions_from_events",
    "rating_range",
    "latest_version",
    "list_versions",
    "load_model",
    "make_model",
    "mmr_select",
    "next_click_metrics",
    "plain_why",
    "repeats_factor",
    "rp3beta_weights",
    "save_model",
    "sessionize",
]
