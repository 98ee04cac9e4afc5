"""What is known of one customer's taste, as plain data, and the utility of a part from it.

The same signals score bundle parts and travel items: what they bought (item -> times),
their category shares, their segment and the recommendation model's ranks. Each term that adds
to a part's utility also says why in words, so every chosen part carries its reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Weights of the terms of a part's utility (documented in docs/compose.md).
WEIGHTS = {"history": 1.0, "affinity": 1.0, "segment": 1.0, "model": 0.8}


@dataclass(frozen=True)
class Taste:
    """A customer's signals.

    Attributes
    ----------
    bought : dict of str to int
        Item id -> times bought.
    categories : dict of str to float
        Category -> share of the customer's events (0..1).
    segment : str or None
        Their value segment (``Champions``, ``At risk`` ...), when known.
    model_ranks : dict of str to int
        Item id -> rank (1 = first) in the recommendation model's list for them.
    model_size : int
        Length of that list (ranks are scaled by it).
    """

    bought: Mapping[str, int] = field(default_factory=dict)
    categories: Mapping[str, float] = field(default_factory=dict)
    segment: str | None = None
    model_ranks: Mapping[str, int] = field(default_factory=dict)
    model_size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "bought": dict(self.bought),
            "categories": dict(self.categories),
            "segment": self.segment,
            "model_ranks": dict(self.model_ranks),
        }


def part_utility(
    taste: Taste,
    *,
    item_id: str | None,
    category: str | None,
    base: float = 0.0,
    segment_boosts: Mapping[str, Mapping[str, float]] | None = None,
    part_id: str | None = None,
) -> tuple[float, list[str]]:
    """Utility of one part for this customer (rounded to 6 decimals) and the reasons behind it."""
    total = float(base)
    reasons: list[str] = []
    if base > 0:
        reasons.append(f"a house favourite (+{base:.2f})")
    times = taste.bought.get(item_id, 0) if item_id else 0
    if times:
        gain = WEIGHTS["history"] * min(0.5 + 0.1 * (times - 1), 1.0)
        total += gain
        reasons.append(
            f"you bought it {times} time{'s' if times != 1 else ''} before (+{gain:.2f})"
        )
    share = taste.categories.get(category, 0.0) if category else 0.0
    if share > 0:
        gain = WEIGHTS["affinity"] * share
        total += gain
        reasons.append(f"{share:.0%} of your activity is in {category} (+{gain:.2f})")
    if taste.segment and segment_boosts:
        boosts = segment_boosts.get(taste.segment, {})
        gain = boosts.get(part_id or "", 0.0) + (boosts.get(category, 0.0) if category else 0.0)
        if gain:
            total += WEIGHTS["segment"] * gain
            reasons.append(f"liked by '{taste.segment}' customers ({gain:+.2f})")
    rank = taste.model_ranks.get(item_id) if item_id else None
    if rank is not None and taste.model_size:
        gain = WEIGHTS["model"] * (1.0 - (rank - 1) / taste.model_size)
        total += gain
        reasons.append(f"recommended for you, rank {rank} of the model's list (+{gain:.2f})")
    if not reasons:
        reasons.append("no signal from your history; fills the set")
    return round(total, 6), reasons


__all__ = ["WEIGHTS", "Taste", "part_utility"]
