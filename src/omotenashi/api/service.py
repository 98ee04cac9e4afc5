"""What the routes call: the service state and the recommendation answers (cached, as JSON bytes).

Routes stay thin: they parse a request, call one function here or one engine method, and return.
Answers for customers and items are cached as ready-to-send JSON and dropped when the customer's
events arrive or a new model is swapped in; a customer's live visit is passed to the model as
context, so a click changes the next answer at once without retraining.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from omotenashi import profiles
from omotenashi.api.errors import ModelNotReady
from omotenashi.api.keys import KeyStore
from omotenashi.api.metrics import Metrics
from omotenashi.api.settings import ServiceSettings
from omotenashi.api.workspaces import Workspace, Workspaces
from omotenashi.errors import NotFound
from omotenashi.recommend import Recommendation, Rules

DEFAULT_N = 10


@dataclass(frozen=True)
class RuleSpec:
    """Request filters in a hashable form (part of the cache key)."""

    include_categories: tuple[str, ...] | None = None
    exclude_categories: tuple[str, ...] = ()
    exclude_items: tuple[str, ...] = ()
    diversity: float = 0.0
    exclude_seen: bool = True

    def rules(self) -> Rules:
        return Rules(
            exclude_seen=self.exclude_seen,
            include_categories=self.include_categories,
            exclude_categories=self.exclude_categories,
            exclude_items=self.exclude_items,
            diversity=self.diversity,
        )


class Service:
    """Everything a running server holds: settings, keys, workspaces, metrics."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.keys = KeyStore(settings.keys_path())
        self.workspaces = Workspaces(settings, warm=warm)

    def start(self) -> None:
        self.workspaces.start()

    def close(self) -> None:
        self.workspaces.close()
        self.keys.close()

    def gauges(self) -> list[tuple[str, str, dict[str, str], float]]:
        out: list[tuple[str, str, dict[str, str], float]] = []
        for ws in self.workspaces.opened():
            label = {"workspace": ws.name}
            out += [
                ("omotenashi_events_stored_total", "counter", label, ws.events_total),
                ("omotenashi_events_since_training", "gauge", label, ws.events_since_training),
                ("omotenashi_events_followed_total", "counter", label, ws.events_followed),
                ("omotenashi_trainings_started_total", "counter", label, ws.trainings),
                ("omotenashi_cache_hits_total", "counter", label, ws.cache.hits),
                ("omotenashi_cache_misses_total", "counter", label, ws.cache.misses),
                ("omotenashi_cache_entries", "gauge", label, len(ws.cache)),
                ("omotenashi_model_loaded", "gauge", label, float(ws.models.main is not None)),
            ]
        return out


def _dumps(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)


def _rows(recs: Sequence[Recommendation], explain: bool) -> list[dict[str, Any]]:
    rows = []
    for r in recs:
        row: dict[str, Any] = {"rank": r.rank, "item_id": r.item_id, "score": round(r.score, 6)}
        if explain:
            row["reasons"] = [
                {"kind": x.kind, "text": x.text, "items": list(x.items), "weight": x.weight}
                for x in r.reasons
            ]
        rows.append(row)
    return rows


def _main_model(ws: Workspace):
    models = ws.models
    if models.main is None:
        raise ModelNotReady(
            f"no recommendation model is trained for workspace {ws.name!r} yet; training runs "
            "in the background once events arrive (or run `omotenashi train`)"
        )
    return models


def cached_customer(ws: Workspace, customer_id: str, n: int, spec: RuleSpec, explain: bool):
    """The cached answer for a customer, or None (cheap: no store access)."""
    if ws.sessions.items("c:" + customer_id):
        return None
    return ws.cache.get(("customer", customer_id, n, explain, spec))


def customer_recommendations(
    ws: Workspace,
    customer_id: str,
    n: int = DEFAULT_N,
    spec: RuleSpec = RuleSpec(),
    *,
    explain: bool = False,
) -> bytes:
    """Recommendations for a known customer, as JSON bytes (``RecommendationsOut``).

    Raises ``NotFound`` for a customer the workspace's store does not know and
    ``ModelNotReady`` before the first training.
    """
    key = ("customer", customer_id, n, explain, spec)
    stamp = ws.cache.stamp(customer_id)
    context = ws.sessions.items("c:" + customer_id)
    if not context:
        hit = ws.cache.get(key)
        if hit is not None:
            return hit
    models = _main_model(ws)
    profiles.person(ws.om.store, customer_id)  # NotFound for unknown customers
    recs = models.main.recommend(
        customer_id, n, context=context or None, rules=spec.rules(), explain=explain
    )
    body = _dumps(
        {
            "model": models.label,
            "customer_id": customer_id,
            "context": context,
            "recommendations": _rows(recs, explain),
        }
    )
    if not context and models is ws.models:
        ws.cache.put(key, customer_id, body, stamp)
    return body


def session_recommendations(
    ws: Workspace,
    items: Sequence[str],
    anonymous_id: str | None,
    n: int,
    spec: RuleSpec,
    *,
    explain: bool = False,
) -> bytes:
    """Recommendations for an anonymous visit: its live items (by ``anonymous_id``) + ``items``."""
    models = _main_model(ws)
    live = ws.sessions.items("a:" + anonymous_id) if anonymous_id else []
    visit = [*live, *items]
    model = models.session or models.main
    recs = model.recommend_session(visit, n, rules=spec.rules(), explain=explain)
    label = f"{model.name}" if model is models.session else models.label
    return _dumps({"model": label, "context": visit, "recommendations": _rows(recs, explain)})


def item_answer(ws: Workspace, kind: str, item_id: str, n: int, *, explain: bool = False) -> bytes:
    """Similar items (``kind='similar'``) or bought-together items, as JSON bytes."""
    key = (kind, "item:" + item_id, n, explain)
    hit = ws.cache.get(key)
    if hit is not None:
        return hit
    stamp = ws.cache.stamp("item:" + item_id)
    models = _main_model(ws)
    if kind == "similar":
        model = models.main
    else:
        model = models.together
        if model is None:
            raise NotFound(
                "no bought-together model: the workspace has no purchases with an order_id yet"
            )
    recs = model.similar_items(item_id, n)
    label = models.label if kind == "similar" else model.name
    body = _dumps({"model": label, "item_id": item_id, "recommendations": _rows(recs, explain)})
    ws.cache.put(key, "item:" + item_id, body, stamp)
    return body


def warm(ws: Workspace, stop: threading.Event, limit: int | None = None) -> int:
    """Precompute the default answer (n=10, no filters) for the model's customers.

    Runs in the maintenance thread after a model swap; stops early when the model changes again
    or the server stops. Returns how many answers were computed.
    """
    models = ws.models
    if models.main is None:
        return 0
    limit = ws.settings.warm_customers if limit is None else limit
    done = 0
    spec = RuleSpec()
    for customer_id in models.main.user_ids_[:limit].tolist():
        if stop.is_set() or ws.models is not models:
            break
        key = ("customer", customer_id, DEFAULT_N, False, spec)
        if ws.cache.get(key) is not None:
            continue
        stamp = ws.cache.stamp(customer_id)
        recs = models.main.recommend(customer_id, DEFAULT_N, rules=spec.rules(), explain=False)
        body = _dumps(
            {
                "model": models.label,
                "customer_id": customer_id,
                "context": [],
                "recommendations": _rows(recs, False),
            }
        )
        ws.cache.put(key, customer_id, body, stamp)
        done += 1
    return done
