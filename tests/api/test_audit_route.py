"""``GET /v1/audit``: the workspace's audit over HTTP, with limits; read scope; each key sees
only its own workspace's store and model."""

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


@pytest.fixture
def two_workspaces(trained_store, tmp_path):
    """The trained store as ``default`` (customers with a gender) and another trained store as
    workspace ``other`` (customers with a plan instead)."""
    db = tmp_path / "shop.db"
    shutil.copy(trained_store, db)
    shutil.copytree(trained_store.parent / "shop.artefacts", tmp_path / "shop.artefacts")
    folder = tmp_path / "shop.workspaces"
    folder.mkdir()
    other = build_store(folder / "other.db", prefix="beta.", seed=1)
    with Omotenashi(db) as om:
        om.upsert_customers(
            {"customer_id": f"c{c}", "attributes": {"gender": "FM"[c % 2]}} for c in range(60)
        )
    with Omotenashi(other) as om:
        om.upsert_customers(
            {"customer_id": f"c{c}", "attributes": {"plan": "ab"[c % 3 == 0]}} for c in range(60)
        )
    settings = ServiceSettings(db=str(db), warm_customers=0)
    with TestClient(create_app(settings)) as client:
        yield client, db, other


def test_the_route_answers_the_audit_of_the_keys_workspace(two_workspaces):
    client, db, other = two_workspaces
    read = {"X-API-Key": create_key(db, "default", "read")}
    admin = {"X-API-Key": create_key(db, "default", "admin")}
    other_read = {"X-API-Key": create_key(db, "other", "read")}

    answer = client.get("/v1/audit", params={"by": "gender", "n": 5}, headers=read)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    with Omotenashi(db) as om:
        direct = om.audit.run(n=5, by=["gender"]).as_dict()
    assert body["overall"] == direct["overall"]
    assert body["by"]["gender"]["gaps"] == direct["by"]["gender"]["gaps"]
    assert set(body["by"]["gender"]["groups"]) == {"F", "M"}
    assert body["passed"] is True and body["violations"] == []
    assert client.get("/v1/audit", headers=admin).status_code == 200  # admin has read

    # the other workspace: its own store and model, its own attributes
    mine = client.get("/v1/audit", params={"by": "plan", "n": 5}, headers=other_read)
    assert mine.status_code == 200, mine.text
    with Omotenashi(other) as om:
        direct_other = om.audit.run(n=5, by=["plan"]).as_dict()
    assert mine.json()["overall"] == direct_other["overall"] != direct["overall"]
    refused = client.get("/v1/audit", params={"by": "gender"}, headers=other_read)
    assert refused.status_code == 422 and "gender" in refused.text
    assert client.get("/v1/audit", params={"by": "plan"}, headers=read).status_code == 422
    # a workspace parameter or header cannot redirect a key
    sneaky = client.get(
        "/v1/audit",
        params={"by": "plan", "workspace": "other"},
        headers={**read, "X-Workspace": "other"},
    )
    assert sneaky.status_code == 422


def test_limits_scopes_and_bad_parameters(two_workspaces):
    client, db, _ = two_workspaces
    read = {"X-API-Key": create_key(db, "default", "read")}
    crossed = client.get(
        "/v1/audit",
        params={"by": "gender", "max_gini": 0, "max_gap": "ild=0", "min_coverage": 0},
        headers=read,
    )
    assert crossed.status_code == 200
    body = crossed.json()
    assert body["passed"] is False
    assert {v["threshold"] for v in body["violations"]} == {"max_gini", "max_gap"}
    assert body["thresholds"] == {"max_gini": 0.0, "min_coverage": 0.0, "max_gap": {"ild": 0.0}}

    bad = client.get("/v1/audit", params={"max_gap": "ild"}, headers=read)
    assert bad.status_code == 422 and "FIGURE=LIMIT" in bad.text
    assert client.get("/v1/audit", params={"max_gini": "nan"}, headers=read).status_code == 422
    assert client.get("/v1/audit", params={"n": 1}, headers=read).status_code == 422
    assert client.get("/v1/audit", params={"bands": "x"}, headers=read).status_code == 422
    ingest_only = {"X-API-Key": create_key(db, "default", "ingest")}
    assert client.get("/v1/audit", headers=ingest_only).status_code == 403
    assert client.get("/v1/audit").status_code == 401


def test_a_workspace_without_a_model_is_not_ready(trained_store, tmp_path):
    db = tmp_path / "shop.db"
    shutil.copy(trained_store, db)
    shutil.copytree(trained_store.parent / "shop.artefacts", tmp_path / "shop.artefacts")
    settings = ServiceSettings(db=str(db), warm_customers=0, train_on_start=False)
    with TestClient(create_app(settings)) as client:
        key = {"X-API-Key": create_key(db, "empty", "read")}
        answer = client.get("/v1/audit", headers=key)
        assert answer.status_code == 503
        assert "nothing to audit" in answer.text
