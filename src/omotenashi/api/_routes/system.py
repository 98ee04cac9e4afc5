"""Health, metrics and administration (retraining, model status, keys of one's workspace)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from omotenashi.api._deps import AdminWorkspace, ServiceDep
from omotenashi.api._paths import IdRoute
from omotenashi.api._schemas import Health, KeyIn, KeyOut, TrainingOut

router = APIRouter(prefix="/v1", tags=["system"], route_class=IdRoute)
_OK = Health(status="ok").model_dump_json().encode()  # serialised once


@router.get("/health", response_model=Health, summary="Liveness")
async def health() -> Response:
    """Answers as long as the process serves requests (no key needed)."""
    return Response(_OK, media_type="application/json")


@router.get(
    "/ready",
    summary="Readiness",
    responses={503: {"description": "Not ready: the store is unreachable or the server stops"}},
)
def ready(service: ServiceDep) -> Response:
    """200 when the default workspace's store answers and the server is not shutting down,
    else 503 (no key needed; for load balancers and orchestrators)."""
    state = service.workspaces.readiness()
    body = {"status": "ready" if state["ready"] else "not ready", **state}
    return JSONResponse(body, status_code=200 if state["ready"] else 503)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(service: ServiceDep) -> PlainTextResponse:
    """Request counts and latencies by route, events stored, cache and training figures."""
    text = service.metrics.render(service.gauges())
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@router.get("/admin/status", summary="Models and live state of the key's workspace")
async def status(ws: AdminWorkspace) -> dict:
    return ws.status()


@router.post("/admin/retrain", response_model=TrainingOut, summary="Retrain in the background")
async def retrain(ws: AdminWorkspace, service: ServiceDep) -> TrainingOut:
    """Start a training now (no-op while one is running); requests keep being served."""
    started = ws.start_training(service.workspaces.executor)
    return TrainingOut(started=started, status=ws.status())


@router.post("/admin/keys", response_model=KeyOut, status_code=201, summary="Create a key")
def create_key(ws: AdminWorkspace, service: ServiceDep, body: KeyIn) -> KeyOut:
    """A new key for the caller's own workspace; the token is shown only in this answer."""
    created = service.keys.create(ws.name, body.scopes, label=body.label)
    return KeyOut(**created.info.as_dict(), token=created.token)


@router.get("/admin/keys", response_model=list[KeyOut], summary="Keys of the workspace")
def list_keys(ws: AdminWorkspace, service: ServiceDep) -> list[KeyOut]:
    return [KeyOut(**k.as_dict()) for k in service.keys.list(ws.name)]


@router.delete("/admin/keys/{key_id}", response_model=KeyOut, summary="Revoke a key")
def revoke_key(ws: AdminWorkspace, service: ServiceDep, key_id: str) -> KeyOut:
    return KeyOut(**service.keys.revoke(key_id, workspace=ws.name).as_dict())
