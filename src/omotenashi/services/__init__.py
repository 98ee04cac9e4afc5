"""Services: every use case of omotenashi, in one layer that all faces call.

The CLI (``omotenashi.cli``), the HTTP API (``omotenashi.api``), the demo and notebooks reach
the capabilities (identity, profiles, importers, recommend, value, decisions, ope, evaluation)
and the store only through these objects. ``Omotenashi`` (``_engine.py``; also
``omotenashi.Omotenashi``) composes one of each over a store: ``om.ingest``,
``om.identities``, ``om.profiles``, ``om.recommendations``, ``om.training``, ``om.value``,
``om.decisions``, ``om.evaluation``, ``om.audit``. A server adds workspaces (one engine
each, with live state) and API keys. See docs/architecture.md for the map of use cases to
modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and readers; at run time names load on first use
    from omotenashi.services._audit import (
        Audit,
        AuditReport,
        Thresholds,
        audit_workspace,
        load_thresholds,
        parse_bands,
        parse_limits,
    )
    from omotenashi.services._decisions import (
        POINTS_FILE,
        DecisionPoint,
        Decisions,
        DecisionState,
        EligibilityRule,
        PolicySpec,
        RewardSpec,
        Variant,
        decide,
        decision_state,
        declare_point,
        point,
        points,
        reward,
    )
    from omotenashi.services._engine import Omotenashi, connect
    from omotenashi.services._evaluation import Evaluation
    from omotenashi.services._identity import Identities
    from omotenashi.services._ingest import (
        ImportReport,
        Ingest,
        PreparedEvents,
        TrackResult,
        remove_store,
        store_file,
    )
    from omotenashi.services._keys import (
        SCOPES,
        CreatedKey,
        KeyInfo,
        KeyStore,
        check_scopes,
        check_workspace,
        key_store,
    )
    from omotenashi.services._live import (
        WAL_SAFETY_PAGES,
        AnswerCache,
        Checkpointer,
        EventWriter,
        SessionTracker,
    )
    from omotenashi.services._presets import PRESETS
    from omotenashi.services._profiles import Profile, Profiles, TimelinePage
    from omotenashi.services._recommendations import (
        DEFAULT_N,
        Recommendations,
        RuleSpec,
        cached_customer,
        customer_recommendations,
        demo_recommendations,
        item_answer,
        make_rules,
        recommend_all_customers,
        recommend_for_customer,
        recommend_for_session,
        session_recommendations,
        similar_items,
        warm,
    )
    from omotenashi.services._scale import Scale
    from omotenashi.services._settings import SETTINGS_ENV, ServiceSettings
    from omotenashi.services._training import (
        AUTO_CANDIDATES,
        DEFAULT_BUDGET_S,
        SESSION_MODEL,
        TOGETHER_MODEL,
        ModelSet,
        Training,
        models_stamp,
        parse_weights,
        train,
        train_job,
    )
    from omotenashi.services._value import (
        REPORT_FILE,
        VALUE_SCORES,
        StoreData,
        Value,
        cached_report,
        compute_segments,
        from_store,
        refresh_report,
        report_payload,
    )
    from omotenashi.services._workspaces import (
        DEFAULT_WORKSPACE,
        FOLLOW_LIMIT,
        Workspace,
        Workspaces,
        freeze_long_lived,
    )

#: Where each public name lives. Loaded on first use (PEP 562) so that ``import omotenashi``
#: stays as fast as before: recommenders, value models and policies load when first needed.
_EXPORTS: dict[str, str] = {
    "Audit": "_audit",
    "AuditReport": "_audit",
    "Thresholds": "_audit",
    "audit_workspace": "_audit",
    "load_thresholds": "_audit",
    "parse_bands": "_audit",
    "parse_limits": "_audit",
    "DecisionPoint": "_decisions",
    "DecisionState": "_decisions",
    "Decisions": "_decisions",
    "EligibilityRule": "_decisions",
    "POINTS_FILE": "_decisions",
    "PolicySpec": "_decisions",
    "RewardSpec": "_decisions",
    "Variant": "_decisions",
    "decide": "_decisions",
    "decision_state": "_decisions",
    "declare_point": "_decisions",
    "point": "_decisions",
    "points": "_decisions",
    "reward": "_decisions",
    "Omotenashi": "_engine",
    "connect": "_engine",
    "Evaluation": "_evaluation",
    "Identities": "_identity",
    "ImportReport": "_ingest",
    "Ingest": "_ingest",
    "PRESETS": "_presets",
    "remove_store": "_ingest",
    "store_file": "_ingest",
    "PreparedEvents": "_ingest",
    "TrackResult": "_ingest",
    "CreatedKey": "_keys",
    "KeyInfo": "_keys",
    "KeyStore": "_keys",
    "SCOPES": "_keys",
    "check_scopes": "_keys",
    "check_workspace": "_keys",
    "key_store": "_keys",
    "AnswerCache": "_live",
    "Checkpointer": "_live",
    "EventWriter": "_live",
    "SessionTracker": "_live",
    "WAL_SAFETY_PAGES": "_live",
    "Profile": "_profiles",
    "Profiles": "_profiles",
    "TimelinePage": "_profiles",
    "DEFAULT_N": "_recommendations",
    "Recommendations": "_recommendations",
    "RuleSpec": "_recommendations",
    "cached_customer": "_recommendations",
    "customer_recommendations": "_recommendations",
    "demo_recommendations": "_recommendations",
    "item_answer": "_recommendations",
    "make_rules": "_recommendations",
    "recommend_all_customers": "_recommendations",
    "recommend_for_customer": "_recommendations",
    "recommend_for_session": "_recommendations",
    "session_recommendations": "_recommendations",
    "similar_items": "_recommendations",
    "warm": "_recommendations",
    "Scale": "_scale",
    "SETTINGS_ENV": "_settings",
    "ServiceSettings": "_settings",
    "AUTO_CANDIDATES": "_training",
    "DEFAULT_BUDGET_S": "_training",
    "ModelSet": "_training",
    "SESSION_MODEL": "_training",
    "TOGETHER_MODEL": "_training",
    "Training": "_training",
    "models_stamp": "_training",
    "parse_weights": "_training",
    "train": "_training",
    "train_job": "_training",
    "REPORT_FILE": "_value",
    "VALUE_SCORES": "_value",
    "StoreData": "_value",
    "from_store": "_value",
    "Value": "_value",
    "cached_report": "_value",
    "compute_segments": "_value",
    "refresh_report": "_value",
    "report_payload": "_value",
    "DEFAULT_WORKSPACE": "_workspaces",
    "FOLLOW_LIMIT": "_workspaces",
    "Workspace": "_workspaces",
    "Workspaces": "_workspaces",
    "freeze_long_lived": "_workspaces",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'omotenashi.services' has no attribute {name!r}")
    found = getattr(importlib.import_module(f"omotenashi.services.{module}"), name)
    globals()[name] = found
    return found


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AUTO_CANDIDATES",
    "DEFAULT_BUDGET_S",
    "DEFAULT_N",
    "DEFAULT_WORKSPACE",
    "FOLLOW_LIMIT",
    "POINTS_FILE",
    "PRESETS",
    "REPORT_FILE",
    "SCOPES",
    "SESSION_MODEL",
    "SETTINGS_ENV",
    "Scale",
    "TOGETHER_MODEL",
    "VALUE_SCORES",
    "WAL_SAFETY_PAGES",
    "AnswerCache",
    "Audit",
    "AuditReport",
    "Checkpointer",
    "CreatedKey",
    "DecisionPoint",
    "DecisionState",
    "EligibilityRule",
    "Decisions",
    "Evaluation",
    "EventWriter",
    "Identities",
    "Omotenashi",
    "ImportReport",
    "Ingest",
    "KeyInfo",
    "KeyStore",
    "ModelSet",
    "PreparedEvents",
    "PolicySpec",
    "Profile",
    "Profiles",
    "Recommendations",
    "RewardSpec",
    "RuleSpec",
    "ServiceSettings",
    "SessionTracker",
    "StoreData",
    "TrackResult",
    "Thresholds",
    "TimelinePage",
    "Training",
    "Value",
    "Variant",
    "Workspace",
    "Workspaces",
    "audit_workspace",
    "cached_customer",
    "cached_report",
    "check_scopes",
    "check_workspace",
    "compute_segments",
    "connect",
    "customer_recommendations",
    "decide",
    "decision_state",
    "declare_point",
    "demo_recommendations",
    "freeze_long_lived",
    "from_store",
    "item_answer",
    "key_store",
    "load_thresholds",
    "make_rules",
    "models_stamp",
    "parse_bands",
    "parse_limits",
    "parse_weights",
    "point",
    "points",
    "recommend_all_customers",
    "recommend_for_customer",
    "recommend_for_session",
    "refresh_report",
    "remove_store",
    "report_payload",
    "reward",
    "session_recommendations",
    "similar_items",
    "store_file",
    "train",
    "train_job",
    "warm",
]
