"""Anonymous visits: recommendations from the items seen so far."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from omotenashi import services
from omotenashi.api._compute import compute
from omotenashi.api._deps import ReadWorkspace
from omotenashi.api._paths import IdRoute
from omotenashi.api._schemas import RecommendationsOut, SessionIn

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], route_class=IdRoute)


@router.post(
    "/recommendations", response_model=RecommendationsOut, summary="Recommendations for a visit"
)
async def session_recommendations(ws: ReadWorkspace, body: SessionIn) -> Response:
    """Recommendations for an anonymous visit (no retraining needed: every click counts).

    The visit is the items its events brought so far (by ``anonymous_id``) followed by
    ``items``; the session model scores it.
    """
    spec = services.RuleSpec(
        include_categories=tuple(body.include_categories) if body.include_categories else None,
        exclude_categories=tuple(body.exclude_categories),
        exclude_items=tuple(body.exclude_items),
        exclude_seen=body.exclude_seen,
    )
    answer = await compute(
        services.session_recommendations,
        ws,
        body.items,
        body.anonymous_id,
        body.n,
        spec,
        explain=body.explain,
    )
    return Response(answer, media_type="application/json")
