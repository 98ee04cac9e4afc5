"""Decisions over HTTP: declare decision points, choose a variant per request, take rewards.

Each workspace has its own decision engine (``services._decisions``): points kept as JSON in
the workspace's artefacts folder, decisions and rewards in its store. Routes parse, call one
service function and return.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Response, Security
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from omotenashi import services
from omotenashi.api._deps import (
    AdminWorkspace,
    IngestWorkspace,
    ReadWorkspace,
    ServiceDep,
    _api_key,
    _bearer,
    scoped,
)
from omotenashi.api._paths import IdRoute
from omotenashi.services import EligibilityRule, PolicySpec, RewardSpec, Variant, Workspace

router = APIRouter(prefix="/v1", tags=["decisions"], route_class=IdRoute)
PointName = Annotated[
    str,
    PathParam(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="decision point name (letters, digits, _ . -)",
    ),
]
DecisionId = Annotated[str, PathParam(min_length=1, max_length=100, description="decision id")]


# ---------------------------------------------------------------------------------- schemas
class DecisionPointIn(BaseModel):
    """A decision point's declaration; its name comes from the path."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="optional; must equal the path's name")
    variants: list[Variant] = Field(min_length=1, max_length=100)
    reward: RewardSpec = Field(default_factory=RewardSpec)
    eligibility: list[EligibilityRule] = Field(default_factory=list, max_length=1000)
    policy: PolicySpec = Field(default_factory=PolicySpec)
    assignment: Literal["random", "hash"] = "random"


class DecisionPointOut(BaseModel):
    name: str
    variants: list[Variant]
    reward: RewardSpec
    eligibility: list[EligibilityRule]
    policy: PolicySpec
    assignment: Literal["random", "hash"]


class DecisionPointsOut(BaseModel):
    decision_points: list[DecisionPointOut]


class DecideIn(BaseModel):
    """Who the decision is for (a customer, or an anonymous visitor) and the request's context."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    customer_id: str | None = Field(default=None, min_length=1, max_length=200)
    anonymous_id: str | None = Field(default=None, min_length=1, max_length=200)
    context: dict[str, Any] = Field(
        default_factory=dict,
        max_length=200,
        description='e.g. {"device": "mobile", "page": "home"}; eligibility rules read it',
    )


class DecisionOut(BaseModel):
    decision_id: str = Field(description="send it back with the reward")
    point: str
    variant: str
    variant_features: dict[str, str | int | float | bool]
    propensity: float = Field(gt=0, le=1, description="probability the variant was chosen with")
    probabilities: dict[str, float] = Field(description="over the eligible variants")
    customer_id: str | None
    anonymous_id: str | None
    known_customer: bool = Field(description="the customer's profile features were used")
    created_at: float = Field(description="Unix seconds")
    why: str = Field(
        description="why this variant, in plain words: the policy and its chance for it, the "
        "other candidates, and the variants this request's rules left out"
    )
    personalized: bool = Field(
        default=True,
        description="false: the customer's profile was not used (no consent to "
        "personalization, or a preference level below full); see personalization.reason",
    )
    personalization: dict[str, str | None] = Field(
        default_factory=lambda: {"mode": "full", "reason": None},
        description="mode (full, light, off) and why it is not full",
    )


class RewardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float = Field(allow_inf_nan=False, description="0 or 1 for a binary reward")


class RewardOut(BaseModel):
    decision_id: str
    point: str
    variant: str
    reward: float


_read_scope = scoped("read")
_ingest_scope = scoped("ingest")


async def read_or_ingest(
    service: ServiceDep,
    api_key: Annotated[str | None, Security(_api_key)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Workspace:
    """The caller's workspace when their key has the ``read`` or the ``ingest`` scope."""
    try:
        return await _read_scope(service, api_key, bearer)
    except HTTPException as exc:
        if exc.status_code != 403:
            raise
    try:
        return await _ingest_scope(service, api_key, bearer)
    except HTTPException as exc:
        if exc.status_code != 403:
            raise
        raise HTTPException(403, "this API key lacks the scope 'read' or 'ingest'") from None


DecideWorkspace = Annotated[Workspace, Depends(read_or_ingest)]


def _out(point: Any) -> DecisionPointOut:
    return DecisionPointOut.model_validate(point.model_dump())


# -------------------------------------------------------------------------------------- routes
@router.put(
    "/decision-points/{point}",
    response_model=DecisionPointOut,
    summary="Declare a decision point",
    responses={201: {"model": DecisionPointOut, "description": "declared for the first time"}},
)
def put_point(
    ws: AdminWorkspace, point: PointName, body: DecisionPointIn, response: Response
) -> DecisionPointOut:
    """Declare (201) or redeclare (200) a point: variants with features, the reward (kind,
    range, time to live), eligibility rules and the policy. A changed declaration starts a new
    policy, taught at once from the point's rewarded decisions."""
    spec, created = services.declare_point(ws, point, body.model_dump())
    if created:
        response.status_code = 201
    return _out(spec)


@router.get(
    "/decision-points", response_model=DecisionPointsOut, summary="The declared decision points"
)
def list_points(ws: ReadWorkspace) -> DecisionPointsOut:
    return DecisionPointsOut(decision_points=[_out(p) for p in services.points(ws)])


@router.get(
    "/decision-points/{point}", response_model=DecisionPointOut, summary="One decision point"
)
def get_point(ws: ReadWorkspace, point: PointName) -> DecisionPointOut:
    return _out(services.point(ws, point))


@router.post("/decisions/{point}", response_model=DecisionOut, summary="Choose a variant")
def decide(ws: DecideWorkspace, point: PointName, body: DecideIn) -> DecisionOut:
    """Choose a variant of ``point`` for a customer or an anonymous visitor.

    A known customer's profile features (recency, frequency, value, segment, top categories,
    attributes) join the request's ``context``; an unknown customer or an anonymous visitor is
    decided on the context alone. The answer carries the propensity (the probability the
    variant was chosen with, logged for off-policy evaluation) and the decision id to send
    back with the reward. Key scope ``read`` or ``ingest``; 404 for an undeclared point.
    """
    made = services.decide(ws, point, body.customer_id, body.anonymous_id, body.context)
    return DecisionOut(**made)


@router.post(
    "/decisions/{decision_id}/reward",
    response_model=RewardOut,
    summary="Report the reward of a decision",
    responses={
        404: {"description": "unknown decision id"},
        409: {"description": "the decision already has a reward"},
        410: {"description": "the reward came after the point's ttl_seconds"},
    },
)
def reward(ws: IngestWorkspace, decision_id: DecisionId, body: RewardIn) -> RewardOut:
    """Attach the reward (``value``) of an earlier decision; the point's policy learns from it.

    404 for an unknown decision id, 409 when it already has a reward, 410 when the point's
    ``ttl_seconds`` have passed, 422 for a value outside the reward's kind and range.
    """
    return RewardOut(**services.reward(ws, decision_id, body.value))
