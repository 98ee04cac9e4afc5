"""Customers: attributes, the unified profile, the timeline and recommendations; the data rights
(export everything held about a person, erase them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from omotenashi import services
from omotenashi.api._compute import compute
from omotenashi.api._deps import AdminWorkspace, IngestWorkspace, ReadWorkspace
from omotenashi.api._paths import CustomerId, IdRoute
from omotenashi.api._schemas import (
    RECOMMENDATION_PARAMETERS,
    Changed,
    CustomerIn,
    RecommendationsOut,
    recommendation_query,
)
from omotenashi.services import Profile, TimelinePage

router = APIRouter(prefix="/v1/customers", tags=["customers"], route_class=IdRoute)
_JSON = "application/json"


@router.put("/{customer_id}", response_model=Changed, summary="Set a customer's attributes")
def put_customer(ws: IngestWorkspace, customer_id: CustomerId, body: CustomerIn) -> Changed:
    """Merge attributes into the customer's record (created when new)."""
    return Changed(changed=ws.upsert_customer(customer_id, body.attributes))


@router.get("/{customer_id}", response_model=Profile, summary="The unified profile")
def get_profile(ws: ReadWorkspace, customer_id: CustomerId) -> Profile:
    """Everything known about the person: identities, attributes, counts, RFM, categories."""
    return ws.om.profile(customer_id)


@router.get("/{customer_id}/timeline", response_model=TimelinePage, summary="Events, newest first")
def get_timeline(
    ws: ReadWorkspace,
    customer_id: CustomerId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> TimelinePage:
    """A page of the customer's events; pass ``next_cursor`` as ``cursor`` for older ones."""
    return ws.om.timeline(customer_id, limit=limit, cursor=cursor)


@router.get(
    "/{customer_id}/recommendations",
    response_model=RecommendationsOut,
    summary="Recommendations for a customer",
    openapi_extra=RECOMMENDATION_PARAMETERS,
)
async def get_recommendations(
    ws: ReadWorkspace, customer_id: CustomerId, request: Request
) -> Response:
    """Top-``n`` items for the customer, from the current model plus their live visit.

    Events of this visit (``POST /v1/events``) count at once as the most recent history. A
    customer known to the store but new to the model gets popular items, or items from the
    live visit. Any id of the person answers (a customer id merged into another, an anonymous
    id linked to the customer): the person's recommendations. 404 for an unknown id.
    """
    q = recommendation_query(request.query_params)  # the query: see RecommendationQuery
    spec = services.RuleSpec(
        include_categories=tuple(q.category) if q.category else None,
        exclude_categories=tuple(q.exclude_category or ()),
        exclude_items=tuple(q.exclude or ()),
        diversity=q.diversity,
        exclude_seen=not q.include_seen,
    )
    body = services.cached_customer(ws, customer_id, q.n, spec, q.explain)
    if body is None:
        body = await compute(
            services.customer_recommendations, ws, customer_id, q.n, spec, explain=q.explain
        )
    return Response(body, media_type=_JSON)


@router.get("/{customer_id}/export", summary="Everything held about a person (admin)")
def get_export(ws: AdminWorkspace, customer_id: CustomerId) -> dict:
    """One JSON document with every row held about the person (events, identities,
    attributes, scores, decisions and rewards, and what other concerns keep) and their
    profile. Needs the admin scope. 404 when nothing is held about the id."""
    return ws.om.rights.export(customer_id)


@router.delete("/{customer_id}", summary="Erase a person (admin)")
def delete_customer(ws: AdminWorkspace, customer_id: CustomerId) -> dict:
    """Erase every row about the person (with every id linked to them), their cached answers
    and live visits in every worker, and their traces in the models (fitted again without
    them). Answers the receipt, which names the person only by a salted hash. Needs the admin
    scope. 404 when nothing is held about the id."""
    return services.erase_in_workspace(ws, customer_id)
