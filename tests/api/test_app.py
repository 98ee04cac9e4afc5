"""The service in-process (TestClient): access, validation, real-time updates, caching, metrics."""

from __future__ import annotations

import json
import sqlite3
import time
import warnings

import pytest

from omotenashi.api import KeyStore, ServiceSettings, create_app
from omotenashi.recommend import Rules, load_model
from omotenashi.services import Omotenashi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from .conftest import artefacts_of, create_key


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """These tests run on a store file and on a PostgreSQL database (see conftest)."""
    return request.param


EVENT = {
    "customer_id": "c1",
    "type": "view",
    "item_id": "games-1",
    "timestamp": "2025-02-01T00:00:00Z",
}


def test_keys_are_required_and_scoped(client):
    db = client.db
    read_only = {"X-API-Key": create_key(db, "default", "read")}
    ingest_only = {"X-API-Key": create_key(db, "default", "ingest")}
    admin = {"X-API-Key": "", "Authorization": "Bearer " + create_key(db, "default", "admin")}
    assert client.get("/v1/customers/c1", headers={"X-API-Key": ""}).status_code == 401
    assert client.get("/v1/customers/c1", headers={"X-API-Key": "omk_x_y"}).status_code == 401
    assert client.get("/v1/customers/c1", headers=read_only).status_code == 200
    assert client.post("/v1/events", json=EVENT, headers=read_only).status_code == 403
    assert client.get("/v1/customers/c1", headers=ingest_only).status_code == 403
    assert client.post("/v1/events", json=EVENT, headers=ingest_only).status_code == 200
    assert client.get("/v1/customers/c1", headers=admin).status_code == 200  # admin: all
    assert client.get("/v1/admin/status", headers=read_only).status_code == 403
    assert client.get("/v1/admin/status", headers=admin).json()["model"] == "recent_ease:v1"


def test_keys_are_stored_hashed_and_revocable(tmp_path):
    store = KeyStore(tmp_path / "keys.db", cache_s=0)
    created = store.create("shop-a", ["read", "read", "ingest"], label="web")
    secret = created.token.split("_", 2)[2]
    raw = sqlite3.connect(tmp_path / "keys.db").execute("SELECT * FROM api_keys").fetchall()
    assert secret not in repr(raw) and created.token not in repr(raw)
    import hashlib

    assert raw[0][3] == hashlib.sha256(secret.encode()).hexdigest()
    info = store.authenticate(created.token)
    assert info.workspace == "shop-a" and info.scopes == ("ingest", "read")
    assert store.authenticate(created.token[:-1] + "x") is None  # wrong secret
    store.revoke(created.info.key_id)
    assert store.authenticate(created.token) is None
    with pytest.raises(ValueError, match="scope"):
        store.create("shop-a", ["write"])
    with pytest.raises(ValueError, match="workspace"):
        store.create("../etc", ["read"])


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/v1/events", {"customer_id": "c1", "type": "view"}, "timestamp"),
        ("post", "/v1/events", {**EVENT, "type": "no way!"}, "type"),
        ("post", "/v1/events", {"events": [EVENT, {**EVENT, "value": "x"}]}, "events[1].value"),
        ("post", "/v1/events", {"events": []}, "events"),
        ("post", "/v1/events", {**EVENT, "colour": "red"}, "colour"),
        ("post", "/v1/events", {**EVENT, "timestamp": 1e20}, "timestamp"),
        ("post", "/v1/events", {**EVENT, "timestamp": "01/12/2010"}, "timestamp"),
        ("get", "/v1/customers/c1/recommendations?n=0", None, "query parameter n"),
        (
            "get",
            "/v1/customers/c1/recommendations?diversity=1.5",
            None,
            "query parameter diversity",
        ),
        ("put", "/v1/items/x", {"price": "cheap"}, "price"),
        ("post", "/v1/sessions/recommendations", {"items": "tea-1"}, "items"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, method, path, body, field):
    response = getattr(client, method)(path, **({"json": body} if body is not None else {}))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_an_event_dated_either_way_is_refused_with_both_readings(client):
    """``01/12/2010`` could be 1 December or 12 January: the service says so rather than
    storing a guess; ``13/12/2010`` can only be one date and is stored as it."""
    refused = client.post("/v1/events", json={**EVENT, "timestamp": "01/12/2010"})
    assert refused.status_code == 422
    assert "could be 1 December or 12 January" in refused.text
    assert client.post("/v1/events", json={**EVENT, "timestamp": "13/12/2010"}).status_code == 200


def test_unparseable_and_oversized_bodies_are_4xx(client):
    response = client.post(
        "/v1/events", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    big = {"events": [{**EVENT, "context": {"pad": "x" * 1000}}] * 9000}
    assert client.post("/v1/events", json=big).status_code == 413


def test_unknown_customer_and_item_are_404(client):
    for path in (
        "/v1/customers/nobody",
        "/v1/customers/nobody/timeline",
        "/v1/customers/nobody/recommendations",
        "/v1/items/nothing/similar",
        "/v1/items/nothing/bought-together",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "nobody" in response.json()["message"] or "nothing" in response.json()["message"]


def test_recommendations_match_the_model(client):
    model, _ = load_model(artefacts_of(client.db))
    expected = [r.item_id for r in model.recommend("c5", 7, explain=False)]
    answer = client.get("/v1/customers/c5/recommendations?n=7").json()
    assert [r["item_id"] for r in answer["recommendations"]] == expected
    # the planted taste: customer 5 likes coffee (5 % 4 == 1)
    assert all(r["item_id"].startswith("coffee") for r in answer["recommendations"][:3])
    filtered = client.get("/v1/customers/c5/recommendations?n=5&category=books").json()
    assert filtered["recommendations"] and all(
        r["item_id"].startswith("books") for r in filtered["recommendations"]
    )
    explained = client.get("/v1/customers/c5/recommendations?n=2&explain=true").json()
    assert explained["recommendations"][0]["reasons"][0]["kind"] == "history"
    for rec in explained["recommendations"]:  # the model's reasons are exact: they add up
        assert rec["explained"] == 1.0
        assert sum(r["weight"] for r in rec["reasons"]) == pytest.approx(rec["score"], abs=1e-5)


def test_events_are_durable_idempotent_and_change_the_profile_at_once(client):
    before = client.get("/v1/customers/c1").json()["events"]
    event = {**EVENT, "event_id": "e-123"}
    first = client.post("/v1/events", json=event).json()
    again = client.post("/v1/events", json=event).json()
    assert first["stored"] == 1 and again == {
        "received": 1,
        "stored": 0,
        "duplicates": 1,
        "results": [{"event_id": "e-123", "stored": False}],
    }
    assert client.get("/v1/customers/c1").json()["events"] == before + 1
    # batches are all or nothing
    bad = {"events": [{**EVENT, "event_id": "e-200"}, {**EVENT, "timestamp": "never"}]}
    assert client.post("/v1/events", json=bad).status_code == 422
    with Omotenashi(client.db) as om:
        ids = set(om.events_frame()["event_id"])
    assert "e-123" in ids and "e-200" not in ids


def test_a_click_changes_customer_and_session_answers_at_once(client):
    first = client.get("/v1/customers/c0/recommendations?n=5").json()  # c0 likes tea
    assert first["context"] == []
    for i in (1, 2, 3):
        client.post("/v1/events", json={**EVENT, "customer_id": "c0", "item_id": f"games-{i}"})
    after = client.get("/v1/customers/c0/recommendations?n=5").json()
    assert after["context"] == ["games-1", "games-2", "games-3"]
    assert after["recommendations"] != first["recommendations"]
    assert any(r["item_id"].startswith("games") for r in after["recommendations"])
    # anonymous visitor: the session answer follows their clicks without retraining
    visit = {"anonymous_id": "visitor-9", "n": 3}
    empty = client.post("/v1/sessions/recommendations", json=visit).json()
    assert empty["context"] == []
    client.post(
        "/v1/events",
        json={
            "anonymous_id": "visitor-9",
            "type": "view",
            "item_id": "books-4",
            "timestamp": "2025-03-01T00:00:00Z",
        },
    )
    live = client.post("/v1/sessions/recommendations", json=visit).json()
    assert live["context"] == ["books-4"]
    assert live["recommendations"][0]["item_id"].startswith("books")


def test_a_live_return_or_low_rating_is_left_out_not_taken_for_taste(client):
    """A customer returns an item, or rates one low, after the model was trained: the next
    answer leaves that item out and is not built from it (no "because you interacted with"
    it); a view of an item the same visit then returns is no taste either."""
    first = client.get("/v1/customers/c0/recommendations?n=40&explain=true").json()
    top = first["recommendations"][0]["item_id"]
    events = [
        {**EVENT, "customer_id": "c0", "type": "return", "item_id": top, "order_id": "r1"},
        {**EVENT, "customer_id": "c0", "type": "rating", "item_id": "games-1", "rating": 1},
        {**EVENT, "customer_id": "c0", "type": "view", "item_id": "games-2"},
        {**EVENT, "customer_id": "c0", "type": "rating", "item_id": "games-2", "rating": 2},
    ]
    assert client.post("/v1/events", json={"events": events}).json()["stored"] == 4
    after = client.get("/v1/customers/c0/recommendations?n=40&explain=true").json()
    ids = [r["item_id"] for r in after["recommendations"]]
    assert after["context"] == []  # nothing of this visit is a sign of taste
    assert not {top, "games-1", "games-2"} & set(ids)
    # the answer is the trained customer's, less the three items
    before = [r["item_id"] for r in first["recommendations"]]
    assert ids == [i for i in before if i not in {top, "games-1", "games-2"}]
    # asked again: the same (from the cache), still without them
    again = client.get("/v1/customers/c0/recommendations?n=40&explain=true").json()
    assert [r["item_id"] for r in again["recommendations"]] == ids
    # a liked event still is context, and the items turned down stay out
    client.post("/v1/events", json={**EVENT, "customer_id": "c0", "item_id": "books-3"})
    live = client.get("/v1/customers/c0/recommendations?n=40").json()
    assert live["context"] == ["books-3"]
    assert not {top, "games-1", "games-2"} & {r["item_id"] for r in live["recommendations"]}
    # an anonymous visit that rates an item low: not its context, and not offered back
    visit = {"anonymous_id": "visitor-7", "n": 40}
    client.post(
        "/v1/events",
        json={
            **EVENT,
            "customer_id": None,
            "anonymous_id": "visitor-7",
            "type": "rating",
            "item_id": "books-4",
            "rating": 1,
        },
    )
    answer = client.post("/v1/sessions/recommendations", json=visit).json()
    assert answer["context"] == []
    assert "books-4" not in {r["item_id"] for r in answer["recommendations"]}


def test_events_since_training_shape_answers_after_the_visit_and_a_restart(client):
    """A purchase and a low rating posted after the model was trained still count once the
    live visit is over (here: a restarted service, which has no live visits): the bought item
    is history, the one rated low is left out, as the model's own answer with that history.
    Only people with such events cost the answer a store read."""
    first = client.get("/v1/customers/c0/recommendations?n=10").json()
    bought, rated = first["recommendations"][0]["item_id"], first["recommendations"][1]["item_id"]
    events = [
        {**EVENT, "customer_id": "c0", "type": "purchase", "item_id": bought, "order_id": "n1"},
        {**EVENT, "customer_id": "c0", "type": "rating", "item_id": rated, "rating": 1},
    ]
    assert client.post("/v1/events", json={"events": events}).json()["stored"] == 2
    # the model's own answer with that history: the purchase weighs five views, as a training
    # weighs it (the visit path: the item five times), the low rating left out
    model, _ = load_model(artefacts_of(client.db))
    want = model.recommend("c0", 10, context=[bought] * 5, rules=Rules(exclude_items=(rated,)))

    def same(answer: dict) -> None:
        got = answer["recommendations"]
        assert [r["item_id"] for r in got] == [r.item_id for r in want]
        assert [r["score"] for r in got] == pytest.approx([r.score for r in want], rel=1e-5)

    # during the live visit, which holds the purchase, also stored: counted once
    live = client.get("/v1/customers/c0/recommendations?n=10").json()
    assert bought in live["context"]
    same(live)
    key = client.headers["X-API-Key"]
    settings = ServiceSettings(db=str(client.db), warm_customers=100)
    with TestClient(create_app(settings)) as fresh:
        fresh.headers["X-API-Key"] = key
        ws = fresh.app.state.service.workspaces.get("default")
        seq = ws.models.meta["events_seq"]
        assert ws.unlearnt.may_have(seq, ["c0"]) and not ws.unlearnt.may_have(seq, ["c2"])
        answer = fresh.get("/v1/customers/c0/recommendations?n=10").json()
        assert answer["context"] == []  # no live visit: the events come from the store
        ids = [r["item_id"] for r in answer["recommendations"]]
        same(answer)
        assert not {bought, rated} & set(ids)
        again = fresh.get("/v1/customers/c0/recommendations?n=10").json()
        assert again == answer  # cached: the events are the store's, not a passing visit
        # others answer from the model alone, and warming left c0 to its request
        other = fresh.get("/v1/customers/c2/recommendations?n=10").json()
        assert [r["item_id"] for r in other["recommendations"]] == [
            r.item_id for r in model.recommend("c2", 10)
        ]
        # a new event of another customer: theirs is read from now on
        fresh.post("/v1/events", json={**EVENT, "customer_id": "c2", "item_id": "tea-1"})
        assert ws.unlearnt.may_have(seq, ["c2"])


def test_metrics_count_requests_and_events(client):
    for _ in range(3):
        client.get("/v1/customers/c2")
    client.get("/v1/customers/nobody")
    client.post("/v1/events", json={"events": [{**EVENT, "event_id": f"m{i}"} for i in range(4)]})
    text = client.get("/v1/metrics").text
    lines = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }

    def sample(prefix: str) -> float:
        return sum(v for k, v in lines.items() if k.startswith(prefix))

    profile = 'omotenashi_http_requests_total{method="GET",route="/v1/customers/{customer_id}"'
    assert sample(profile + ',status="200"') == 3
    assert sample(profile + ',status="404"') == 1
    assert sample('omotenashi_events_stored_total{workspace="default"') == 4
    count = 'omotenashi_http_request_duration_seconds_count{route="/v1/customers/{customer_id}"'
    assert sample(count) == 4


def _metric(client, name: str) -> float:
    for line in client.get("/v1/metrics").text.splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


def test_metrics_count_the_model_work_of_uncached_answers_only(client):
    """``omotenashi_model_work_*``: the calls and CPU seconds of answers the cache could not
    give (what the load test reads to tell the model's CPU from the framework's)."""
    calls = "omotenashi_model_work_calls_total"
    cpu = "omotenashi_model_work_cpu_seconds_total"
    before, spent = _metric(client, calls), _metric(client, cpu)
    for n in (3, 4, 5):  # a new n each time: no cached answer fits
        assert client.get(f"/v1/customers/c2/recommendations?n={n}").status_code == 200
    assert _metric(client, calls) == before + 3
    assert _metric(client, cpu) > spent
    assert client.get("/v1/customers/c2/recommendations?n=3").status_code == 200  # cached now
    assert _metric(client, calls) == before + 3


def test_no_model_yet_is_503_and_background_training_swaps_one_in(tmp_path):
    db = tmp_path / "fresh.db"
    settings = ServiceSettings(
        db=str(db), retrain_after_events=30, poll_s=0.1, model="recent_ease", warm_customers=0
    )
    from .conftest import synthetic_events

    with TestClient(create_app(settings)) as c:
        c.headers["X-API-Key"] = create_key(db, "default", "read", "ingest")
        c.post("/v1/events", json={"events": synthetic_events(4)[:3]})
        response = c.get("/v1/customers/c0/recommendations")
        assert response.status_code == 503 and response.headers["retry-after"]
        c.post("/v1/events", json={"events": synthetic_events(40)})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = c.get("/v1/customers/c0/recommendations")
            assert response.status_code in (200, 503)  # never an error while training
            if response.status_code == 200:
                break
            time.sleep(0.2)
        assert response.status_code == 200
        assert json.loads(response.text)["model"] == "recent_ease:v1"


def test_a_503_is_logged_and_counted_with_its_route(tmp_path, caplog):
    db = tmp_path / "untrained.db"
    settings = ServiceSettings(db=str(db), train_on_start=False, warm_customers=0)
    from .conftest import synthetic_events

    with TestClient(create_app(settings)) as c:
        c.headers["X-API-Key"] = create_key(db, "default", "read", "ingest")
        assert c.post("/v1/events", json={"events": synthetic_events(2)[:3]}).status_code == 200
        with caplog.at_level("WARNING", logger="omotenashi.api"):
            assert c.get("/v1/customers/c0/recommendations").status_code == 503
        route = "/v1/customers/{customer_id}/recommendations"
        assert any(f"GET {route}" in r.getMessage() for r in caplog.records), caplog.records
        metrics = c.get("/v1/metrics").text
        assert f'route="{route}",status="503"' in metrics


def test_api_routes_are_matched_flat(tmp_path):
    """The API's routes sit in the app's own route list, so a request is matched once against
    them rather than through nested routers (twice each; it cost /v1/health a third of its
    server CPU). Every route is still in the OpenAPI document."""
    from fastapi.routing import APIRoute

    from omotenashi.api._app import ROUTERS

    app = create_app(ServiceSettings(db=str(tmp_path / "s.db")))
    direct = {
        (r.path, tuple(sorted(r.methods))) for r in app.router.routes if isinstance(r, APIRoute)
    }
    for router in ROUTERS:
        for route in router.routes:
            assert (route.path, tuple(sorted(route.methods))) in direct
    paths = app.openapi()["paths"]
    assert "/v1/health" in paths and "/v1/customers/{customer_id}/recommendations" in paths
