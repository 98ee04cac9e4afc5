"""Next-best-action and the outreach queue over HTTP: the same answers as the service, scopes,
ids with a slash, and each key sees only its own workspace's actions and contacts."""

from __future__ import annotations

import shutil
import warnings

import pytest

from omotenashi.api import ServiceSettings, create_app
from omotenashi.services import Omotenashi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from .conftest import build_store, create_key

DAY = "2025-02-01"


@pytest.fixture
def two_workspaces(trained_store, tmp_path):
    db = tmp_path / "shop.db"
    shutil.copy(trained_store, db)
    shutil.copytree(trained_store.parent / "shop.artefacts", tmp_path / "shop.artefacts")
    folder = tmp_path / "shop.workspaces"
    folder.mkdir()
    other = build_store(folder / "other.db", prefix="beta.", seed=1)
    with Omotenashi(db) as om:
        om.track({"customer_id": "a/b", "type": "purchase", "item_id": "x", "value": 9.0,
                  "timestamp": "2025-01-20T10:00:00Z"})  # fmt: skip
    with Omotenashi(other) as om:
        om.outreach.declare([{"id": "beta_call", "kind": "call", "channel": "call",
                              "value": 100.0, "response_rate": 0.5}])  # fmt: skip
    settings = ServiceSettings(db=str(db), warm_customers=0)
    with TestClient(create_app(settings)) as client:
        yield client, db, other


def test_next_best_actions_route(two_workspaces):
    client, db, other = two_workspaces
    read = {"X-API-Key": create_key(db, "default", "read")}
    got = client.get("/v1/customers/c3/next-best-actions", params={"date": DAY}, headers=read)
    assert got.status_code == 200, got.text
    with Omotenashi(db) as om:
        direct = om.next_best_actions("c3", date=DAY)
    assert got.json()["actions"] == direct["actions"]
    assert {a["action"] for a in direct["actions"]} >= {"recommend_email", "nothing"}
    slash = client.get("/v1/customers/a%2Fb/next-best-actions", params={"date": DAY}, headers=read)
    assert slash.status_code == 200 and slash.json()["customer_id"] == "a/b"
    missing = client.get("/v1/customers/nobody/next-best-actions", headers=read)
    assert missing.status_code == 404
    bad = client.get("/v1/customers/c3/next-best-actions", params={"date": "soon"}, headers=read)
    assert bad.status_code == 422 and "soon" in bad.text
    assert client.get("/v1/customers/c3/next-best-actions").status_code == 401
    # the other workspace answers with its own actions
    other_read = {"X-API-Key": create_key(db, "other", "read")}
    theirs = client.get("/v1/customers/c3/next-best-actions", params={"date": DAY},
                        headers=other_read).json()  # fmt: skip
    assert {a["action"] for a in theirs["actions"]} == {"beta_call", "nothing"}


def test_queue_routes(two_workspaces):
    client, db, _ = two_workspaces
    read = {"X-API-Key": create_key(db, "default", "read")}
    ingest = {"X-API-Key": create_key(db, "default", "ingest")}
    admin = {"X-API-Key": create_key(db, "default", "admin")}
    other_admin = {"X-API-Key": create_key(db, "other", "admin")}
    preview = client.post("/v1/outreach/preview", json={"date": DAY, "limit": 3}, headers=read)
    assert preview.status_code == 200, preview.text
    assert preview.json()["contacts"] > 0 and len(preview.json()["rows"]) == 3
    assert (
        client.get("/v1/outreach/contacts", params={"date": DAY}, headers=read).json()["contacts"]
        == 0
    )  # a preview stores nothing
    assert client.post("/v1/outreach/run", json={"date": DAY}, headers=read).status_code == 403
    run = client.post("/v1/outreach/run", json={"date": DAY, "limit": 0}, headers=admin).json()
    assert run["contacts"] == preview.json()["contacts"]
    approved = client.post("/v1/outreach/approve", json={"date": DAY}, headers=admin).json()
    assert approved["count"] == run["contacts"]
    first = approved["approved"][0]
    sent = client.post(f"/v1/outreach/contacts/{first}/record", json={"status": "sent"},
                       headers=ingest)  # fmt: skip
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    done = client.post(f"/v1/outreach/contacts/{first}/record",
                       json={"outcome": "converted", "value": 12.5}, headers=ingest)  # fmt: skip
    assert done.json()["outcome_value"] == 12.5
    with Omotenashi(db) as om:
        assert om.store.decisions.get(done.json()["decision_id"]).reward == 12.5
    bad = client.post(f"/v1/outreach/contacts/{first}/record", json={"outcome": "delighted"},
                      headers=ingest)  # fmt: skip
    assert bad.status_code == 422 and "delighted" in bad.text
    # the other workspace has its own queue
    theirs = client.get("/v1/outreach/contacts", headers=other_admin).json()
    assert theirs["contacts"] == 0
    stranger = {"X-API-Key": create_key(db, "other", "ingest")}
    path = f"/v1/outreach/contacts/{first}/record"
    assert client.post(path, json={"status": "sent"}, headers=stranger).status_code == 404
