"""Ids in URL paths: one path segment is one id, whatever characters the id holds.

Customer and item ids come from the customer's own systems and may hold ``/``, ``%``, ``?``,
``#``, spaces or any other character; a client percent-encodes them (``a/b`` as ``a%2Fb``).
The server decodes the whole path before routing, so ``a%2Fb`` would become two segments and
no route would match. Here the routing path keeps ``%2F`` (and ``%25``, so that a literal
``%2F`` inside an id stays distinct from an encoded slash) escaped, a segment matches a route's
``{name}`` as one value, and :class:`IdRoute` decodes the values it matched. ``/`` thus always
separates segments and ``%2F`` is always part of an id: ``GET /v1/customers/a%2Ftimeline`` is
the profile of customer ``a/timeline``, never the timeline of ``a``.

Path ids then go through the same rule as ids on write (:func:`omotenashi.events.clean_id`:
surrounding whitespace trimmed, control characters refused), before the length limit is
checked, as the data model does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import Path
from fastapi.routing import APIRoute
from pydantic import BeforeValidator
from starlette.routing import Match

from omotenashi.events import clean_id

#: The escapes the routing path keeps: an encoded ``/`` and an encoded ``%``.
_KEPT = re.compile(rb"%(2[fF]|25)")
#: Set in the scope when the routing path was rebuilt by :func:`routing_path`.
ESCAPED = "omotenashi.escaped_path"


def routing_path(raw_path: bytes) -> str | None:
    """The path to route on: ``raw_path`` percent-decoded, except that an encoded ``/`` stays
    ``%2F`` and every ``%`` of the result is written ``%25``; None when ``raw_path`` is not
    ASCII (then the server's own decoding stands).

    :func:`unquote` of a segment of the result is exactly the segment the client encoded.
    """
    try:
        raw_path.decode("ascii")
    except UnicodeDecodeError:
        return None
    out: list[str] = []
    start = 0
    for found in _KEPT.finditer(raw_path):
        out.append(_decoded(raw_path[start : found.start()]))
        out.append("%2F" if found.group(1) in (b"2f", b"2F") else "%25")
        start = found.end()
    out.append(_decoded(raw_path[start:]))
    return "".join(out)


def _decoded(part: bytes) -> str:
    return unquote(part.decode("ascii")).replace("%", "%25")


def use_raw_path(scope: dict[str, Any]) -> None:
    """Route the request on :func:`routing_path` of its raw path (ASGI ``raw_path``), when the
    server gives one and it holds an escape."""
    raw = scope.get("raw_path")
    if not raw or b"%" not in raw:
        return
    root = scope.get("root_path", "").encode("ascii", "replace")
    if root and raw.startswith(root):
        raw = raw[len(root) :]
    path = routing_path(raw)
    if path is not None:
        scope["path"] = scope.get("root_path", "") + path
        scope[ESCAPED] = True


class IdRoute(APIRoute):
    """A route whose path parameters are decoded once more when the request was routed on its
    escaped raw path (see :func:`use_raw_path`)."""

    def matches(self, scope: dict[str, Any]) -> tuple[Match, dict[str, Any]]:
        match, child = super().matches(scope)
        if match is not Match.NONE and scope.get(ESCAPED) and child.get("path_params"):
            child["path_params"] = {
                name: unquote(value) if isinstance(value, str) else value
                for name, value in child["path_params"].items()
            }
        return match, child


def _cleaned(field: str) -> Callable[[object], object]:
    def clean(value: object) -> object:
        return clean_id(value, field) if isinstance(value, str) else value

    return clean


#: A customer id in a path: cleaned like an id on write, then 1 to 200 characters.
CustomerId = Annotated[
    str,
    BeforeValidator(_cleaned("customer_id")),
    Path(
        min_length=1,
        max_length=200,
        description="customer id, percent-encoded (`a/b` as `a%2Fb`); any of the person's ids",
    ),
]
#: An item id in a path: cleaned like an id on write, then 1 to 200 characters.
ItemId = Annotated[
    str,
    BeforeValidator(_cleaned("item_id")),
    Path(min_length=1, max_length=200, description="item id, percent-encoded (`a/b` as `a%2Fb`)"),
]

__all__ = ["ESCAPED", "CustomerId", "IdRoute", "ItemId", "routing_path", "use_raw_path"]
