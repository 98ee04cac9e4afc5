"""Catalogue: item upserts, similar items and items bought together."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from omotenashi import services
from omotenashi.api._compute import compute
from omotenashi.api._deps import IngestWorkspace, ReadWorkspace
from omotenashi.api._paths import IdRoute, ItemId
from omotenashi.api._schemas import Changed, ItemBatch, ItemIn, RecommendationsOut
from omotenashi.errors import DataError

router = APIRouter(prefix="/v1/items", tags=["items"], route_class=IdRoute)
N = Annotated[int, Query(ge=1, le=100, description="number of items")]


@router.put("/{item_id}", response_model=Changed, summary="Create or update an item")
def put_item(ws: IngestWorkspace, item_id: ItemId, body: ItemIn) -> Changed:
    """Create or replace one catalogue item."""
    return Changed(changed=ws.upsert_items([{"item_id": item_id, **body.model_dump()}]))


@router.put("", response_model=Changed, summary="Create or update items in a batch")
def put_items(ws: IngestWorkspace, body: ItemBatch) -> Changed:
    """Create or replace several items (``{"items": [{"item_id": ...}, ...]}``)."""
    if len(body.items) > ws.settings.max_batch:
        raise DataError(f"items: at most {ws.settings.max_batch} per request", field="items")
    return Changed(changed=ws.upsert_items(body.items))


@router.get("/{item_id}/similar", response_model=RecommendationsOut, summary="Similar items")
async def similar(ws: ReadWorkspace, item_id: ItemId, n: N = 10) -> Response:
    """Items the current model finds closest to this one; 404 for an unknown item."""
    body = await compute(services.item_answer, ws, "similar", item_id, n)
    return Response(body, media_type="application/json")


@router.get(
    "/{item_id}/bought-together", response_model=RecommendationsOut, summary="Bought together"
)
async def bought_together(ws: ReadWorkspace, item_id: ItemId, n: N = 10) -> Response:
    """Items most often in the same orders as this one (needs purchases with an order id)."""
    body = await compute(services.item_answer, ws, "together", item_id, n)
    return Response(body, media_type="application/json")
