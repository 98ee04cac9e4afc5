"""The access log over HTTP: who read or changed a person's data in the key's workspace.

``GET /v1/access-log`` (admin scope) answers the entries of ``omotenashi access-log --json``
(``om.access.entries``): the key, the time, the action and the id the caller named; never a
personal value.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from omotenashi.api._compute import compute
from omotenashi.api._deps import AdminWorkspace

router = APIRouter(prefix="/v1", tags=["access log"])


class AccessEntryOut(BaseModel):
    at: str = Field(description="when (ISO 8601, UTC)")
    key_id: str = Field(description="the API key id; cli / local for the command line / Python")
    action: str = Field(description="read.profile, change.identity, decide, erase ...")
    customer_id: str | None = Field(description="the id named; null for an anonymised entry")
    workspace: str


class AccessLogOut(BaseModel):
    entries: list[AccessEntryOut]


@router.get("/access-log", response_model=AccessLogOut, summary="Who read or changed whose data")
async def access_log(
    ws: AdminWorkspace,
    customer: Annotated[
        str | None, Query(max_length=512, description="only this person (any of their ids)")
    ] = None,
    since: Annotated[str | None, Query(max_length=64, description="ISO time, included")] = None,
    until: Annotated[str | None, Query(max_length=64, description="ISO time, excluded")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="the newest entries")] = 1000,
) -> AccessLogOut:
    """Entries of the workspace's access log, oldest first (the newest ``limit``)."""
    rows = await compute(ws.om.access.entries, customer, since=since, until=until, limit=limit)
    return AccessLogOut(entries=[AccessEntryOut(**row) for row in rows])
