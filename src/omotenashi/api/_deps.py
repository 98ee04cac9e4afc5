"""Request dependencies: the service, and the workspace an API key grants with a scope.

A key is read from ``X-API-Key`` or ``Authorization: Bearer``; a missing or unknown key is 401,
a key without the scope is 403, a key over its rate limit is 429 (with ``Retry-After``). The
workspace comes only from the key, never from the request, so a key of one workspace cannot
name another. The key's id becomes the request's caller in the access log (``act_as``; with
authentication off: ``no-auth``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from omotenashi.api._service import Service
from omotenashi.services import DEFAULT_WORKSPACE, Workspace, act_as, retry_after

#: The caller recorded in the access log when the service runs without API keys.
NO_AUTH_KEY = "no-auth"

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an omotenashi API key")
_bearer = HTTPBearer(auto_error=False, description="an omotenashi API key as a bearer token")


async def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


def scoped(scope: str) -> Callable[..., Awaitable[Workspace]]:
    """A dependency giving the caller's workspace when their key has ``scope``."""

    async def workspace(
        service: ServiceDep,
        api_key: Annotated[str | None, Security(_api_key)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    ) -> Workspace:
        if not service.settings.auth:
            act_as(NO_AUTH_KEY)
            return service.workspaces.get(DEFAULT_WORKSPACE)
        token = api_key or (bearer.credentials if bearer else None)
        if not token:
            raise HTTPException(
                401,
                "an API key is required (header X-API-Key or Authorization: Bearer)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = service.keys.authenticate(token)
        if key is None:
            raise HTTPException(
                401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
            )
        if not key.allows(scope):
            raise HTTPException(403, f"this API key lacks the scope {scope!r}")
        wait = service.limiter.take(key.key_id)
        if wait:
            raise HTTPException(
                429,
                f"rate limit of this API key reached ({service.settings.rate_limit_per_s:g} "
                "requests a second): retry after the Retry-After seconds",
                headers={"Retry-After": retry_after(wait)},
            )
        act_as(key.key_id)
        return service.workspaces.get(key.workspace)

    workspace.__name__ = f"workspace_with_{scope}"
    return workspace


def keyed(scope: str) -> Callable[..., Awaitable[Workspace]]:
    """Like :func:`scoped`, as one dependency that reads the headers itself (the hot path).

    FastAPI resolves every sub-dependency of a route on every request; reading the two headers
    directly saves three of them. The OpenAPI document still lists the key schemes (see
    ``omotenashi.api._app``), found through the ``security_scope`` attribute.
    """
    check = scoped(scope)

    async def workspace(request: Request) -> Workspace:
        headers = request.headers
        bearer = None
        authorization = headers.get("authorization")
        if authorization:
            kind, _, credentials = authorization.partition(" ")
            if kind.lower() == "bearer" and credentials:
                bearer = HTTPAuthorizationCredentials(scheme=kind, credentials=credentials)
        return await check(request.app.state.service, headers.get("x-api-key"), bearer)

    workspace.__name__ = f"workspace_with_{scope}"
    workspace.security_scope = scope  # type: ignore[attr-defined]
    return workspace


ReadWorkspace = Annotated[Workspace, Depends(keyed("read"))]
IngestWorkspace = Annotated[Workspace, Depends(keyed("ingest"))]
AdminWorkspace = Annotated[Workspace, Depends(keyed("admin"))]
