"""Decisions over HTTP: declare decision points, choose a variant per request, take rewards.

Each workspace has its own decision engine. Its points are configuration kept as JSON in the
workspace's artefacts folder (``decision_points.json``), so they survive a restart and every
worker process sees a new declaration at its next request (a stat per request). Decisions and
rewards go to the workspace's store file (tables ``decisions`` and ``decision_rewards``); a
point's policy is warm-started from its rewarded decisions whenever it is (re)loaded, so what
was learned survives a restart too.
"""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Response, Security
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from omotenashi.api.deps import (
    AdminWorkspace,
    IngestWorkspace,
    ReadWorkspace,
    ServiceDep,
    _api_key,
    _bearer,
    scoped,
)
from omotenashi.api.workspaces import Workspace
from omotenashi.decisions import (
    DecisionEngine,
    DecisionLog,
    DecisionPoint,
    EligibilityRule,
    PolicySpec,
    RewardSpec,
    Variant,
    action_features,
    context_features,
    make_policy,
)
from omotenashi.errors import DataError, NotFound

router = APIRouter(prefix="/v1", tags=["decisions"])
POINTS_FILE = "decision_points.json"
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


class RewardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float = Field(allow_inf_nan=False, description="0 or 1 for a binary reward")


class RewardOut(BaseModel):
    decision_id: str
    point: str
    variant: str
    reward: float


# ------------------------------------------------------------------------- per-workspace state
class DecisionState:
    """A workspace's decision engine, kept in step with its points file.

    Parameters
    ----------
    ws : Workspace
        The workspace; its store file hosts the decision log, its artefacts folder the points.
    """

    def __init__(self, ws: Workspace) -> None:
        self.log: DecisionLog = ws.om.store.decisions  # closed with the store
        self.engine = DecisionEngine(self.log)
        self.artefacts = ws.om.store.artefacts
        self.path = self.artefacts.path(POINTS_FILE)
        self.lock = threading.Lock()
        self.stamp: tuple[int, int] | None = None
        self.sync()

    def close(self) -> None:
        self.log.flush()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _register(self, point: DecisionPoint) -> None:
        try:
            current = self.engine.point(point.name)
        except NotFound:
            current = None
        if current == point:
            return
        self.engine.register(point)
        self.engine.warm_start(point.name)

    def sync(self) -> None:
        """Load points declared (by this or another process) since the last look."""
        stamp = self._stamp()
        if stamp == self.stamp:
            return
        with self.lock:
            stamp = self._stamp()
            if stamp == self.stamp:
                return
            try:
                declared = self._read()
            except ValueError:  # being replaced by another process: look again next time
                return
            for data in declared.values():
                self._register(DecisionPoint.parse(data))
            self.stamp = stamp

    def declare(self, point: DecisionPoint) -> bool:
        """Save and register a point; True when it is new to the workspace."""
        _check_policy(point)
        with self.lock, self.artefacts.lock(POINTS_FILE):
            declared = self._read()
            created = point.name not in declared
            declared[point.name] = point.model_dump(mode="json")
            self.artefacts.atomic_write(
                POINTS_FILE, json.dumps(declared, indent=1, ensure_ascii=False)
            )
            self._register(point)
            self.stamp = self._stamp()
        return created


def _check_policy(point: DecisionPoint) -> None:
    """Build the point's policy and ask it once, so bad hyperparameters fail at declaration."""
    try:
        policy = make_policy(point.policy.kind, point.policy.params, random_state=0)
        acts = [action_features(v.id, v.features) for v in point.variants]
        policy.probabilities(context_features({}, {}), acts)
    except DataError:
        raise
    except Exception as exc:  # the policy's own checks: TypeError, ValueError, ...
        raise DataError(
            f"policy.params: {point.policy.kind!r} rejects {point.policy.params!r} ({exc})",
            field="policy.params",
        ) from None


def decision_state(ws: Workspace) -> DecisionState:
    """The workspace's decision state (created on first use, closed with the workspace)."""
    state = ws.state("decisions", lambda: DecisionState(ws))
    state.sync()
    return state


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


def _out(point: DecisionPoint) -> DecisionPointOut:
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
    if body.name is not None and body.name != point:
        raise DataError(f"name: {body.name!r} differs from the path's {point!r}", field="name")
    ids = {v.id for v in body.variants}
    for i, rule in enumerate(body.eligibility):
        if rule.variant not in ids:
            raise DataError(
                f"eligibility[{i}].variant: {rule.variant!r} is not a variant of {point!r}",
                field=f"eligibility[{i}].variant",
            )
    data = body.model_dump(exclude={"name"})
    spec = DecisionPoint.parse({**data, "name": point})
    if decision_state(ws).declare(spec):
        response.status_code = 201
    return _out(spec)


@router.get(
    "/decision-points", response_model=DecisionPointsOut, summary="The declared decision points"
)
def list_points(ws: ReadWorkspace) -> DecisionPointsOut:
    engine = decision_state(ws).engine
    return DecisionPointsOut(decision_points=[_out(engine.point(n)) for n in engine.points])


@router.get(
    "/decision-points/{point}", response_model=DecisionPointOut, summary="One decision point"
)
def get_point(ws: ReadWorkspace, point: PointName) -> DecisionPointOut:
    return _out(decision_state(ws).engine.point(point))


@router.post("/decisions/{point}", response_model=DecisionOut, summary="Choose a variant")
def decide(ws: DecideWorkspace, point: PointName, body: DecideIn) -> DecisionOut:
    """Choose a variant of ``point`` for a customer or an anonymous visitor.

    A known customer's profile features (recency, frequency, value, segment, top categories,
    attributes) join the request's ``context``; an unknown customer or an anonymous visitor is
    decided on the context alone. The answer carries the propensity (the probability the
    variant was chosen with, logged for off-policy evaluation) and the decision id to send
    back with the reward. Key scope ``read`` or ``ingest``; 404 for an undeclared point.
    """
    if body.customer_id is None and body.anonymous_id is None:
        raise DataError("customer_id: give customer_id or anonymous_id", field="customer_id")
    state = decision_state(ws)
    state.engine.point(point)  # NotFound before any store read
    profile: dict[str, Any] = {}
    known = False
    if body.customer_id is not None:
        try:
            profile = ws.om.profile(body.customer_id).features()
            known = True
        except NotFound:
            pass
    who = body.customer_id if body.customer_id is not None else body.anonymous_id
    assert who is not None
    made = state.engine.decide(point, who, profile, body.context)
    spec = state.engine.point(point)
    features = next((dict(v.features) for v in spec.variants if v.id == made.variant), {})
    return DecisionOut(
        decision_id=made.decision_id,
        point=point,
        variant=made.variant,
        variant_features=features,
        propensity=made.propensity,
        probabilities=made.probabilities,
        customer_id=body.customer_id,
        anonymous_id=body.anonymous_id,
        known_customer=known,
        created_at=made.created_at,
    )


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
    import time

    engine = decision_state(ws).engine
    record = engine.log.get(decision_id)  # NotFound: 404
    if record.reward is not None:
        raise HTTPException(409, f"decision {decision_id!r} already has a reward")
    spec = engine.point(record.point)
    age = time.time() - record.created_at
    if age > spec.reward.ttl_seconds:
        raise HTTPException(
            410,
            f"decision {decision_id!r} expired: the reward came {age:.0f}s after the decision, "
            f"the point {spec.name!r} accepts rewards for {spec.reward.ttl_seconds:.0f}s",
        )
    engine.reward(decision_id, body.value)
    return RewardOut(
        decision_id=decision_id, point=record.point, variant=record.variant, reward=body.value
    )
