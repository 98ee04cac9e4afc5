"""Security of the HTTP API: the access log records the caller's key for every person read or
change, tenant isolation on every route (walked from the app, so routes added later are covered
too), and the request size and rate limits of the real server."""

from __future__ import annotations

import json
import shutil
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from omotenashi.api import ServiceSettings, create_app
from omotenashi.api._app import _api_routes
from omotenashi.services import Omotenashi, train_job

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from .conftest import create_key, synthetic_events, synthetic_items

WS_B = "wb"
B = "bsecret"  # every id of workspace B starts with this marker


@pytest.fixture(scope="module")
def template(tmp_path_factory, trained_store) -> Path:
    """Workspace default (A: the trained shop) and workspace ``wb`` (B: its own trained shop,
    every id prefixed with the marker), as files of one server."""
    folder = tmp_path_factory.mktemp("tenants")
    db = folder / "shop.db"
    shutil.copy(trained_store, db)
    shutil.copytree(trained_store.parent / "shop.artefacts", folder / "shop.artefacts")
    b_url = ServiceSettings(db=str(db)).workspace_url(WS_B)
    events = [
        {**e, "customer_id": f"{B}-{e['customer_id']}", "event_id": f"{B}-{e['event_id']}"}
        for e in synthetic_events(n_customers=24, seed=3, prefix=f"{B}-")
    ]
    with Omotenashi(b_url) as om:
        om.upsert_items(synthetic_items(f"{B}-"))
        om.track_many(events)
        om.upsert_customers([{"customer_id": f"{B}-c1", "attributes": {"tier": f"{B}-gold"}}])
    assert "error" not in train_job(b_url, "recent_ease")
    return db


@pytest.fixture
def served(template, tmp_path) -> Path:
    shutil.copytree(template.parent, tmp_path / "srv")
    return tmp_path / "srv" / "shop.db"


def _settings(db: Path, **extra) -> ServiceSettings:
    return ServiceSettings(db=str(db), train_on_start=False, warm_customers=0, **extra)


def _key_id(token: str) -> str:
    return token.split("_")[1]


# -- the access log over HTTP -------------------------------------------------------------------
def test_every_person_read_and_change_is_logged_with_the_key(served: Path) -> None:
    reader = create_key(served, "default", "read", "ingest")
    admin = create_key(served, "default", "admin")
    email = "ann.secret@example.org"
    start = datetime.now(UTC).isoformat()  # the store's own import was logged before
    with TestClient(create_app(_settings(served))) as c:
        c.headers["X-API-Key"] = reader
        point = {
            "variants": [{"id": "a"}, {"id": "b"}],
            "reward": {"name": "click", "kind": "binary"},
            "policy": {"kind": "uniform"},
        }
        assert c.put(
            "/v1/decision-points/tone", json=point, headers={"X-API-Key": admin}
        ).is_success
        assert c.get("/v1/customers/c1").status_code == 200
        assert c.get("/v1/customers/c1/timeline").status_code == 200
        for _ in range(2):  # the second answer comes from the cache: still a read
            assert c.get("/v1/customers/c1/recommendations").status_code == 200
        assert c.post("/v1/decisions/tone", json={"customer_id": "c1"}).status_code == 200
        body = {"customer_id": "c1", "anonymous_id": "dev-1", "identities": {"email": email}}
        assert c.post("/v1/identify", json=body).status_code == 200
        assert c.post("/v1/alias", json={"customer_id": "c1", "identity": "dev-2"}).is_success
        event = {"customer_id": "c1", "type": "view", "item_id": "tea-1"}
        assert c.post("/v1/events", json={**event, "timestamp": "2025-02-01T10:00:00Z"}).is_success
        assert c.put("/v1/customers/c1", json={"attributes": {"email": email}}).is_success
        assert c.get("/v1/customers/c2").status_code == 200

        assert c.get("/v1/access-log").status_code == 403  # admin only
        query = {"customer": "c1", "since": start}
        answer = c.get("/v1/access-log", params=query, headers={"X-API-Key": admin})
        assert answer.status_code == 200
        entries = answer.json()["entries"]
        everyone = c.get(
            "/v1/access-log", params={"since": start}, headers={"X-API-Key": admin}
        ).json()["entries"]
    assert email not in answer.text  # ids and actions only, never a value
    actions = [e["action"] for e in entries]
    assert actions == [
        "read.profile",
        "read.timeline",
        "read.recommendations",
        "read.recommendations",
        "decide",
        "change.identity",
        "change.identity",
        "change.events",
        "change.attributes",
    ]
    assert {e["key_id"] for e in entries} == {_key_id(reader)}
    assert {e["customer_id"] for e in entries} == {"c1"}
    assert {e["workspace"] for e in entries} == {"default"}
    times = [e["at"] for e in entries]
    assert times == sorted(times)
    assert ("read.profile", "c2") in {(e["action"], e["customer_id"]) for e in everyone}
    # a new engine on the same store reads what the server wrote (nothing only in memory)
    with Omotenashi(served) as om:
        stored = om.access.entries(
            "dev-2", since=start
        )  # any id of the person finds all their entries
    assert [e["action"] for e in stored] == actions


def test_access_log_query_and_bad_input(served: Path) -> None:
    admin = create_key(served, "default", "admin")
    with TestClient(create_app(_settings(served))) as c:
        c.headers["X-API-Key"] = admin
        start = datetime.now(UTC).isoformat()
        c.get("/v1/customers/c3")
        now = c.get("/v1/access-log", params={"since": start}).json()["entries"]
        later = c.get("/v1/access-log", params={"since": "2999-01-01"}).json()["entries"]
        bad = c.get("/v1/access-log", params={"since": "someday"})
    assert [(e["action"], e["customer_id"]) for e in now] == [("read.profile", "c3")]
    assert later == []
    assert bad.status_code == 422 and "someday" in bad.json()["message"]
    assert bad.json()["field"] == "since"


# -- tenant isolation on every route -------------------------------------------------------------
def _b_state(db: Path, own_key: str) -> str:
    """Everything workspace B holds, as one text (compared before and after); its access log
    without the entries of B's own key (the server writes those in the background)."""
    with Omotenashi(ServiceSettings(db=str(db)).workspace_url(WS_B)) as om:
        state = {
            "stats": om.stats(),
            "customers": om.customers_frame().to_dict("records"),
            "items": om.items_frame()["item_id"].tolist(),
            "links": om.store.identities.of(f"{B}-c1"),
            "decisions": len(om.store.decisions.to_frame()),
            "access": [e for e in om.access.entries() if e["key_id"] != own_key],
        }
    return json.dumps(state, sort_keys=True, default=str)


def _body_for(path: str, ids: dict[str, str]) -> dict:
    """A valid request body naming workspace B's resources (a route without one here gets a
    body of B's ids that may be refused: refusing is a pass too)."""
    customer, item = ids["customer_id"], ids["item_id"]
    bodies = {
        "/v1/events": {
            "customer_id": customer,
            "type": "view",
            "item_id": item,
            "timestamp": "2025-03-01T10:00:00Z",
        },
        "/v1/identify": {"customer_id": customer, "anonymous_id": f"{B}-dev"},
        "/v1/alias": {"customer_id": customer, "identity": f"{B}-dev2"},
        "/v1/customers/{customer_id}": {"attributes": {"tier": "silver"}},
        "/v1/items/{item_id}": {"title": "renamed"},
        "/v1/items": {"items": [{"item_id": item, "title": "renamed"}]},
        "/v1/sessions/recommendations": {"anonymous_id": f"{B}-anon", "items": [item]},
        "/v1/admin/keys": {"scopes": ["read"]},
        "/v1/decision-points/{point}": {
            "variants": [{"id": "x"}, {"id": "y"}],
            "reward": {"name": "click", "kind": "binary"},
            "policy": {"kind": "uniform"},
        },
        "/v1/decisions/{point}": {"customer_id": customer},
        "/v1/decisions/{decision_id}/reward": {"value": 1},
    }
    return bodies.get(path, {"customer_id": customer, "item_id": item, "anonymous_id": customer})


def test_a_key_of_one_workspace_never_reaches_another_on_any_route(served: Path) -> None:
    """Every route of the app, called with an all-scopes key of workspace A and the ids of
    workspace B: a request naming B's resource is refused (403/404, or a 4xx for the body) and
    no answer holds any of B's ids; B's store is unchanged afterwards."""
    key_a = create_key(served, "default", "read", "ingest", "admin")
    key_b = create_key(served, WS_B, "read", "ingest", "admin")
    app = create_app(_settings(served))
    with TestClient(app) as c:
        point = _body_for("/v1/decision-points/{point}", {"customer_id": "", "item_id": ""})
        headers_b = {"X-API-Key": key_b}
        assert c.put(f"/v1/decision-points/{B}-point", json=point, headers=headers_b).is_success
        decided = c.post(
            f"/v1/decisions/{B}-point", json={"customer_id": f"{B}-c1"}, headers=headers_b
        )
        assert decided.status_code == 200
        goal = c.post(
            f"/v1/customers/{B}-c1/goals",
            json={"name": "visits", "event_type": "purchase", "target": 1, "period_days": 30},
            headers=headers_b,
        )
        assert goal.status_code == 201, goal.text
        queued = c.post("/v1/outreach/run", json={}, headers=headers_b)
        assert queued.is_success, queued.text
        contacts = c.get("/v1/outreach/contacts", headers=headers_b).json()["rows"]
        ids = {
            "customer_id": f"{B}-c1",
            "item_id": f"{B}-tea-1",
            "point": f"{B}-point",
            "decision_id": decided.json()["decision_id"],
            "key_id": _key_id(key_b),
            "goal_id": goal.json()["goal_id"],
            "contact_id": contacts[0]["contact_id"],
        }
        # B answers its own ids (so a refusal below is isolation, not a bad id)
        assert c.get(f"/v1/customers/{B}-c1", headers=headers_b).status_code == 200
        assert c.get(f"/v1/items/{B}-tea-1/similar", headers=headers_b).status_code == 200
        before = _b_state(served, _key_id(key_b))
        routes = sorted(
            # the API's routes (the dashboard's pages sign in on their own: tests/dashboard)
            (
                (m, r.path)
                for r in _api_routes(app.routes)
                if r.path.startswith("/v1/")
                for m in r.methods
            ),
            key=lambda mp: (mp[0] != "GET", mp[1]),  # reads first, then writes
        )
        assert len(routes) >= 25
        checked = []
        for method, path in routes:
            params = [p.strip("{}").split(":")[0] for p in path.split("/") if p.startswith("{")]
            unknown = set(params) - set(ids)
            assert not unknown, f"{method} {path}: give the test a B value for {unknown}"
            url = path
            for name in params:
                url = url.replace(f"{{{name}}}", ids[name]).replace(f"{{{name}:path}}", ids[name])
            kwargs = {"json": _body_for(path, ids)} if method in ("POST", "PUT") else {}
            answer = c.request(method, url, headers={"X-API-Key": key_a}, **kwargs)
            if params:  # names a resource of B: not found in A, or refused
                # (a write may succeed: it acts on A's own data under that id — an earlier
                # write with A's key may have created it there; B's state is checked below)
                assert answer.status_code in (400, 403, 404, 409, 410, 422) or (
                    method in ("PUT", "POST", "PATCH", "DELETE") and answer.is_success
                ), f"{method} {url}: {answer.status_code} {answer.text[:200]}"
            echoed = answer.text  # an answer may repeat the ids asked for, nothing else of B
            for value in (*ids.values(), f"{B}-dev", f"{B}-dev2", f"{B}-anon"):
                echoed = echoed.replace(value, "")
            assert B not in echoed, f"{method} {url} answered B's data: {answer.text}"
            checked.append((method, path, answer.status_code))
    assert _b_state(served, _key_id(key_b)) == before, "a request with A's key changed workspace B"
    every = {r.path for r in _api_routes(app.routes) if r.path.startswith("/v1/")}
    assert {p for _, p, _ in checked} == every


# -- limits on the real server ------------------------------------------------------------------
def test_body_size_and_rate_limits_of_the_real_server(served: Path, make_server) -> None:
    token = create_key(served, "default", "read", "ingest")
    other = create_key(served, "default", "read")
    server = make_server(
        served,
        "--no-train-on-start",
        "--max-body",
        "4096",
        "--rate-limit",
        "2",
        "--rate-burst",
        "3",
    )
    big = {"events": [{"customer_id": "c1", "type": "view", "item_id": "x" * 100}] * 60}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        too_big = http.post("/v1/events", json=big, headers={"X-API-Key": token})
        assert too_big.status_code == 413
        assert too_big.json()["error"] == "too_large"

        def chunks():  # no Content-Length: the limit counts the bytes as they arrive
            for _ in range(10):
                yield b" " * 1000

        streamed = http.post("/v1/events", content=chunks(), headers={"X-API-Key": token})
        assert streamed.status_code == 413

        codes = []
        for _ in range(4):
            answer = http.get("/v1/customers/c1", headers={"X-API-Key": other})
            codes.append(answer.status_code)
        assert codes[:3] == [200, 200, 200] and codes[3] == 429, codes
        assert answer.json()["error"] == "rate_limited"
        assert "rate limit" in answer.json()["message"]
        assert int(answer.headers["Retry-After"]) >= 1
        # another key has a bucket of its own (the first key spent 2 tokens above, on 413s)
        assert http.get("/v1/customers/c1", headers={"X-API-Key": token}).status_code == 200
        time.sleep(float(answer.headers["Retry-After"]))
        assert http.get("/v1/customers/c1", headers={"X-API-Key": other}).status_code == 200
