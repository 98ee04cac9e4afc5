"""Declarations of decision points: variants, reward, eligibility and policy, as JSON-ready models.

A decision point is configuration, not code, so that the HTTP API and files can declare one;
pydantic models give validation by field name and a JSON round trip for free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from omotenashi.errors import DataError

FeatureValue = str | int | float | bool


class Variant(BaseModel):
    """One option of a decision point (an artwork, a message tone, an offer).

    Attributes
    ----------
    id : str
        Unique within the point.
    features : dict
        Descriptive features (``{"style": "romantic", "discount": 10}``); policies learn which
        features suit which people.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    features: dict[str, FeatureValue] = Field(default_factory=dict)


_Op = Literal["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "exists", "missing"]


class EligibilityRule(BaseModel):
    """A condition a request must meet for ``variant`` to be a candidate.

    ``field`` names a key of the request context or, with the prefix ``profile.``, of the
    customer's profile (``profile.segment``). A variant is eligible when all its rules hold.
    A missing field fails every operator except ``ne``, ``not_in`` and ``missing``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    variant: str
    field: str = Field(min_length=1)
    op: _Op = "eq"
    value: Any = None

    @model_validator(mode="after")
    def _check_value(self) -> EligibilityRule:
        if self.op in ("in", "not_in") and not isinstance(self.value, list | tuple):
            raise ValueError(f"op {self.op!r} needs a list value")
        if self.op in ("gt", "ge", "lt", "le") and not isinstance(self.value, int | float):
            raise ValueError(f"op {self.op!r} needs a numeric value")
        return self

    def allows(self, profile: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
        """Whether the request meets this rule."""
        if self.field.startswith("profile."):
            source, key = profile, self.field[len("profile.") :]
        else:
            source, key = context, self.field
        present = key in source and source[key] is not None
        if self.op == "missing":
            return not present
        if self.op == "exists":
            return present
        if not present:
            return self.op in ("ne", "not_in")
        v = source[key]
        try:
            match self.op:
                case "eq":
                    return bool(v == self.value)
                case "ne":
                    return bool(v != self.value)
                case "in":
                    return v in self.value
                case "not_in":
                    return v not in self.value
                case "gt":
                    return float(v) > self.value
                case "ge":
                    return float(v) >= self.value
                case "lt":
                    return float(v) < self.value
                case _:
                    return float(v) <= self.value
        except (TypeError, ValueError):
            raise DataError(
                f"{self.field}: value {v!r} cannot be compared with {self.op} {self.value!r}",
                field=self.field,
            ) from None


class RewardSpec(BaseModel):
    """What counts as success and how long it may arrive after the decision.

    Attributes
    ----------
    name : str
        Label (click, play, purchase_value, reply).
    kind : {"binary", "continuous"}
        Binary rewards must be 0 or 1; continuous ones lie in ``[min, max]``.
    min, max : float
        Range of continuous rewards.
    ttl_seconds : float
        A reward arriving later than this after its decision is refused (DataError).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "click"
    kind: Literal["binary", "continuous"] = "binary"
    min: float = 0.0
    max: float = 1.0
    ttl_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)

    @model_validator(mode="after")
    def _check_range(self) -> RewardSpec:
        if not (math.isfinite(self.min) and math.isfinite(self.max)) or self.min >= self.max:
            raise ValueError(f"need finite min < max, got {self.min} and {self.max}")
        return self

    def check(self, value: float) -> float:
        """Return ``value`` as float, or raise DataError if it is not a valid reward."""
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise DataError(f"reward: {value!r} is not a number", field="reward") from None
        if self.kind == "binary" and x not in (0.0, 1.0):
            raise DataError(f"reward: {self.name} is binary, got {value!r}", field="reward")
        if not (math.isfinite(x) and self.min <= x <= self.max):
            raise DataError(
                f"reward: {self.name} must lie in [{self.min}, {self.max}], got {value!r}",
                field="reward",
            )
        return x


class PolicySpec(BaseModel):
    """Which policy a point uses, with its hyperparameters (see :func:`make_policy`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["uniform", "epsilon-greedy", "linucb", "linear-ts", "logistic-ts", "vw"] = (
        "linear-ts"
    )
    params: dict[str, Any] = Field(default_factory=dict)


class DecisionPoint(BaseModel):
    """A place where one of a few variants is chosen per request.

    Attributes
    ----------
    name : str
        Unique name (``title_artwork``, ``reminder_message``).
    variants : tuple of Variant
        At least one, unique ids.
    reward : RewardSpec
        The reward's kind, range and time to live.
    eligibility : tuple of EligibilityRule
        Conditions per variant; variants without rules are always eligible.
    policy : PolicySpec
        The learning policy (``uniform`` for an A/B test).
    assignment : {"random", "hash"}
        ``random`` draws the variant from the policy's probabilities; ``hash`` uses a uniform
        number derived from the point name and the customer id, so the same customer keeps the
        same variant while the probabilities do not change (A/B tests).

    Examples
    --------
    >>> point = DecisionPoint(name="artwork", variants=[Variant(id="a"), Variant(id="b")])
    >>> point.variant_ids
    ('a', 'b')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    variants: tuple[Variant, ...] = Field(min_length=1)
    reward: RewardSpec = Field(default_factory=RewardSpec)
    eligibility: tuple[EligibilityRule, ...] = ()
    policy: PolicySpec = Field(default_factory=PolicySpec)
    assignment: Literal["random", "hash"] = "random"

    @field_validator("variants")
    @classmethod
    def _unique(cls, variants: tuple[Variant, ...]) -> tuple[Variant, ...]:
        ids = [v.id for v in variants]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate variant id {sorted(dup)[0]!r}")
        return variants

    @model_validator(mode="after")
    def _rules_known(self) -> DecisionPoint:
        ids = set(self.variant_ids)
        for rule in self.eligibility:
            if rule.variant not in ids:
                raise ValueError(f"eligibility rule names unknown variant {rule.variant!r}")
        if self.policy.kind == "logistic-ts" and (self.reward.min < 0 or self.reward.max > 1):
            raise ValueError("logistic-ts needs a reward range inside [0, 1]")
        return self

    @property
    def variant_ids(self) -> tuple[str, ...]:
        """Ids of the variants, in declaration order."""
        return tuple(v.id for v in self.variants)

    def eligible(self, profile: Mapping[str, Any], context: Mapping[str, Any]) -> list[int]:
        """Indices of the variants whose rules all hold for this request."""
        return [i for i, rule in enumerate(self.failing_rules(profile, context)) if rule is None]

    def failing_rules(
        self, profile: Mapping[str, Any], context: Mapping[str, Any]
    ) -> list[EligibilityRule | None]:
        """Per variant, the first of its rules this request fails (None: the variant is
        eligible) — what leaves a variant out, for the decision's reason."""
        out: list[EligibilityRule | None] = []
        for v in self.variants:
            failed = (r for r in self.eligibility if r.variant == v.id)
            out.append(next((r for r in failed if not r.allows(profile, context)), None))
        return out

    @classmethod
    def parse(cls, data: Mapping[str, Any] | str) -> DecisionPoint:
        """Build from a dict or a JSON string, turning validation errors into DataError.

        Raises
        ------
        DataError
            Naming the first offending field.
        """
        try:
            if isinstance(data, str):
                return cls.model_validate_json(data)
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "decision point"
            raise DataError(f"{where}: {err['msg']}", field=where) from None


def experiment(
    name: str,
    arms: list[str] | tuple[str, ...],
    *,
    reward: RewardSpec | None = None,
) -> DecisionPoint:
    """An A/B(/n) test: a decision point with a uniform policy and hashed assignment.

    Parameters
    ----------
    name : str
        Experiment name (also the hashing salt).
    arms : list of str
        Arm ids; the first is the control.
    reward : RewardSpec, optional
        The KPI; a binary click by default.

    Returns
    -------
    DecisionPoint
    """
    return DecisionPoint(
        name=name,
        variants=tuple(Variant(id=a) for a in arms),
        reward=reward or RewardSpec(),
        policy=PolicySpec(kind="uniform", params={"exploration_floor": 0.0}),
        assignment="hash",
    )
