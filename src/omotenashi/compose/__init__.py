"""Compose for one person: messages from parts, bundles and trips solved exactly, with reasons.

Plain data in, plain data out: a customer's signals (``Taste``), a catalogue, constraints; the
optimum comes from HiGHS through ``scipy.optimize.milp``.

Stability: provisional.
"""

from omotenashi.compose._bundle import (
    Bundle,
    BundleCatalog,
    ChosenPart,
    Group,
    Part,
    best_bundles,
    bundle_programme,
    parse_bundle_catalog,
    read_bundle_catalog,
    score_parts,
)
from omotenashi.compose._messages import (
    CHANNELS,
    EMPHASES,
    TONES,
    VARIANTS,
    Message,
    MessagePart,
    MessageWorld,
    compose_text,
    rule_distribution,
    rule_style,
)
from omotenashi.compose._milp import Infeasible, Programme, Row, best, conflicting
from omotenashi.compose._plan import (
    DAYS,
    PACES,
    Plan,
    PlanItem,
    TravelCatalog,
    TravelItem,
    TravelTaste,
    item_utility,
    parse_travel_catalog,
    plan_trip,
    read_travel_catalog,
    travel_taste,
)
from omotenashi.compose._signals import WEIGHTS, Taste, part_utility

__all__ = [
    "CHANNELS",
    "DAYS",
    "EMPHASES",
    "PACES",
    "TONES",
    "VARIANTS",
    "WEIGHTS",
    "Bundle",
    "BundleCatalog",
    "ChosenPart",
    "Group",
    "Infeasible",
    "Message",
    "MessagePart",
    "MessageWorld",
    "Part",
    "Plan",
    "PlanItem",
    "Programme",
    "Row",
    "Taste",
    "TravelCatalog",
    "TravelItem",
    "TravelTaste",
    "best",
    "best_bundles",
    "bundle_programme",
    "compose_text",
    "conflicting",
    "item_utility",
    "parse_bundle_catalog",
    "parse_travel_catalog",
    "part_utility",
    "plan_trip",
    "read_bundle_catalog",
    "read_travel_catalog",
    "rule_distribution",
    "rule_style",
    "score_parts",
    "travel_taste",
]
