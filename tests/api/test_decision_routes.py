"""Decisions over HTTP: declaring points, deciding with propensities, rewards, persistence and
workspace isolation."""

from __future__ import annotations

import json
import sqlite3
import time
import warnings
from pathlib import Path

import pytest

from omotenashi.api import ServiceSettings, create_app
from omotenashi.services import Omotenashi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from .conftest import create_key, synthetic_events

POINT = {
    "variants": [
        {"id": "warm", "features": {"tone": "warm"}},
        {"id": "brief", "features": {"tone": "brief", "length": 1}},
        {"id": "tv_banner", "features": {"tone": "bold"}},
    ],
    "reward": {"name": "click", "kind": "binary", "ttl_seconds": 3600},
    "eligibility": [{"variant": "tv_banner", "field": "device", "op": "eq", "value": "tv"}],
    "policy": {"kind": "linucb", "params": {"alpha": 0.2, "exploration_floor": 0.1}},
}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("decisions") / "shop.db"
    with Omotenashi(path) as om:
        om.track_many(synthetic_events(n_customers=12))
    return path


def _query(db: Path | str, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of ``sql`` (``?`` placeholders) read straight from the store's tables."""
    if isinstance(db, Path):
        with sqlite3.connect(db) as conn:
            return conn.execute(sql, params).fetchall()
    import psycopg

    with psycopg.connect(db) as conn:
        return conn.execute(sql.replace("?", "%s"), params).fetchall()


def _settings(db: Path | str) -> ServiceSettings:
    return ServiceSettings(db=str(db), train_on_start=False, warm_customers=0)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(template, tmp_path, request) -> Path | str:
    """The template's events in a store file, or in a PostgreSQL database (its URL)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        with Omotenashi(url) as om:
            om.track_many(synthetic_events(n_customers=12))
        return url
    target = tmp_path / "shop.db"
    target.write_bytes(template.read_bytes())
    return target


@pytest.fixture
def client(db):
    with TestClient(create_app(_settings(db))) as c:
        c.headers["X-API-Key"] = create_key(db, "default", "read", "ingest")
        c.admin = {"X-API-Key": create_key(db, "default", "admin")}
        assert c.put("/v1/decision-points/tone", json=POINT, headers=c.admin).status_code == 201
        yield c


def test_declare_list_and_redeclare(client):
    listed = client.get("/v1/decision-points").json()["decision_points"]
    assert [p["name"] for p in listed] == ["tone"]
    assert [v["id"] for v in listed[0]["variants"]] == ["warm", "brief", "tv_banner"]
    assert listed[0]["policy"]["kind"] == "linucb"
    assert client.get("/v1/decision-points/tone").json() == listed[0]
    # same name again: replaced (200), not created
    changed = {**POINT, "policy": {"kind": "uniform"}}
    response = client.put("/v1/decision-points/tone", json=changed, headers=client.admin)
    assert response.status_code == 200
    assert client.get("/v1/decision-points/tone").json()["policy"]["kind"] == "uniform"
    # declaring needs the admin scope
    assert client.put("/v1/decision-points/x", json=POINT).status_code == 403
    assert client.get("/v1/decision-points/nothing").status_code == 404


def test_decide_for_a_known_customer_logs_their_profile_features(client, db):
    response = client.post("/v1/decisions/tone", json={"customer_id": "c3", "context": {}})
    assert response.status_code == 200, response.text
    d = response.json()
    assert d["known_customer"] is True and d["customer_id"] == "c3"
    assert 0 < d["propensity"] <= 1
    assert d["propensity"] == pytest.approx(d["probabilities"][d["variant"]])
    assert sum(d["probabilities"].values()) == pytest.approx(1.0)
    # without device=tv the tv banner is not eligible
    assert set(d["probabilities"]) == {"warm", "brief"}
    assert d["why"].startswith(f"'{d['variant']}' was chosen") and "tv_banner" in d["why"]
    expected_features = {"warm": {"tone": "warm"}, "brief": {"tone": "brief", "length": 1}}
    assert d["variant_features"] == expected_features[d["variant"]]
    # the decision is in the workspace's store file, with the profile's features
    (row,) = _query(
        db,
        "SELECT customer_id, variant, propensity, profile FROM decisions WHERE decision_id=?",
        (d["decision_id"],),
    )
    assert row[:3] == ("c3", d["variant"], d["propensity"])
    with Omotenashi(db) as om:
        assert json.loads(row[3]) == om.profile("c3").features()
    assert json.loads(row[3])["frequency"] >= 1


def test_unknown_and_anonymous_visitors_are_decided_on_context(client, db):
    unknown = client.post(
        "/v1/decisions/tone", json={"customer_id": "nobody", "context": {"device": "tv"}}
    ).json()
    assert unknown["known_customer"] is False
    assert set(unknown["probabilities"]) == {"warm", "brief", "tv_banner"}
    assert all(0 < p <= 1 for p in unknown["probabilities"].values())
    anonymous = client.post(
        "/v1/decisions/tone", json={"anonymous_id": "a-77", "context": {"device": "tv"}}
    ).json()
    assert anonymous["anonymous_id"] == "a-77" and anonymous["customer_id"] is None
    rows = dict(_query(db, "SELECT customer_id, profile FROM decisions"))
    assert json.loads(rows["nobody"]) == {} and json.loads(rows["a-77"]) == {}


def test_propensities_match_the_policy_frequencies(client):
    """A uniform point over two eligible variants: propensity 1/2 and about half each."""
    point = {"variants": [{"id": "a"}, {"id": "b"}], "policy": {"kind": "uniform"}}
    client.put("/v1/decision-points/coin", json=point, headers=client.admin)
    chosen = []
    for i in range(200):
        d = client.post("/v1/decisions/coin", json={"customer_id": f"c{i % 12}"}).json()
        assert d["propensity"] == pytest.approx(0.5)
        chosen.append(d["variant"])
    # 200 fair draws: P(|a - 100| > 30) < 3e-5
    assert abs(chosen.count("a") - 100) <= 30


def test_hash_assignment_keeps_a_customer_on_one_arm(client):
    point = {
        "variants": [{"id": "control"}, {"id": "treatment"}],
        "policy": {"kind": "uniform", "params": {"exploration_floor": 0.0}},
        "assignment": "hash",
    }
    client.put("/v1/decision-points/ab", json=point, headers=client.admin)
    for cid in ("c1", "c2", "c5"):
        arms = {client.post("/v1/decisions/ab", json={"customer_id": cid}).json()["variant"]}
        arms |= {client.post("/v1/decisions/ab", json={"customer_id": cid}).json()["variant"]}
        assert len(arms) == 1


def test_rewards_unknown_duplicate_invalid_and_expired(client):
    d = client.post("/v1/decisions/tone", json={"customer_id": "c1"}).json()
    missing = client.post("/v1/decisions/no-such-id/reward", json={"value": 1})
    assert missing.status_code == 404 and "no-such-id" in missing.json()["message"]
    bad = client.post(f"/v1/decisions/{d['decision_id']}/reward", json={"value": 0.5})
    assert bad.status_code == 422 and "binary" in bad.json()["message"]
    ok = client.post(f"/v1/decisions/{d['decision_id']}/reward", json={"value": 1})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {
        "decision_id": d["decision_id"],
        "point": "tone",
        "variant": d["variant"],
        "reward": 1.0,
    }
    again = client.post(f"/v1/decisions/{d['decision_id']}/reward", json={"value": 0})
    assert again.status_code == 409 and "already" in again.json()["message"]
    # a read-only key cannot report rewards
    read_only = {"X-API-Key": create_key(client.app.state.service.settings.db, "default", "read")}
    d2 = client.post("/v1/decisions/tone", json={"customer_id": "c1"}).json()
    assert (
        client.post(
            f"/v1/decisions/{d2['decision_id']}/reward", json={"value": 1}, headers=read_only
        ).status_code
        == 403
    )
    short = {**POINT, "reward": {"kind": "binary", "ttl_seconds": 0.05}}
    client.put("/v1/decision-points/short", json=short, headers=client.admin)
    late = client.post("/v1/decisions/short", json={"customer_id": "c1"}).json()
    time.sleep(0.2)
    expired = client.post(f"/v1/decisions/{late['decision_id']}/reward", json={"value": 1})
    assert expired.status_code == 410 and "expired" in expired.json()["message"]


def test_scopes_for_deciding(client, db):
    ingest_only = {"X-API-Key": create_key(db, "default", "ingest")}
    admin_only = client.admin
    for headers in (ingest_only, admin_only):
        response = client.post("/v1/decisions/tone", json={"customer_id": "c1"}, headers=headers)
        assert response.status_code == 200
    no_key = client.post(
        "/v1/decisions/tone", json={"customer_id": "c1"}, headers={"X-API-Key": ""}
    )
    assert no_key.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**POINT, "variants": [{"id": "a"}, {"id": "a"}], "eligibility": []}, "variants"),
        ({**POINT, "variants": []}, "variants"),
        ({**POINT, "policy": {"kind": "linucb", "params": {"gamma": 3}}}, "policy"),
        ({**POINT, "policy": {"kind": "linucb", "params": {"alpha": "high"}}}, "policy"),
        ({**POINT, "name": "other"}, "name"),
        ({**POINT, "reward": {"kind": "continuous", "min": 2, "max": 1}}, "reward"),
        ({**POINT, "eligibility": [{"variant": "zzz", "field": "device"}]}, "eligibility"),
    ],
)
def test_bad_declarations_are_422_naming_the_field(client, body, field):
    response = client.put("/v1/decision-points/bad", json=body, headers=client.admin)
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith(field), response.json()
    assert client.get("/v1/decision-points/bad").status_code == 404


def test_bad_decide_requests(client):
    response = client.post("/v1/decisions/tone", json={"context": {"device": "tv"}})
    assert response.status_code == 422 and response.json()["field"] == "customer_id"
    response = client.post("/v1/decisions/nowhere", json={"customer_id": "c1"})
    assert response.status_code == 404 and "nowhere" in response.json()["message"]
    response = client.post("/v1/decisions/tone", json={"customer_id": "c1", "context": "tv"})
    assert response.status_code == 422 and response.json()["field"] == "context"


def test_points_and_decisions_survive_a_restart(db):
    admin = {"X-API-Key": create_key(db, "default", "admin")}
    with TestClient(create_app(_settings(db))) as c:
        c.put("/v1/decision-points/tone", json=POINT, headers=admin)
        first = c.post("/v1/decisions/tone", json={"customer_id": "c1"}, headers=admin).json()
    with TestClient(create_app(_settings(db))) as c:
        listed = c.get("/v1/decision-points", headers=admin).json()["decision_points"]
        assert [p["name"] for p in listed] == ["tone"]
        reward = c.post(
            f"/v1/decisions/{first['decision_id']}/reward", json={"value": 1}, headers=admin
        )
        assert reward.status_code == 200, reward.text


def test_workspaces_do_not_see_each_others_points_or_decisions(client, db):
    other = {"X-API-Key": create_key(db, "shop-b", "admin")}
    assert client.get("/v1/decision-points", headers=other).json() == {"decision_points": []}
    assert (
        client.post("/v1/decisions/tone", json={"customer_id": "c1"}, headers=other).status_code
        == 404
    )
    mine = client.post("/v1/decisions/tone", json={"customer_id": "c1"}).json()
    stolen = client.post(
        f"/v1/decisions/{mine['decision_id']}/reward", json={"value": 1}, headers=other
    )
    assert stolen.status_code == 404
    # the other workspace declares its own point of the same name, with other variants
    own = {"variants": [{"id": "x"}, {"id": "y"}], "policy": {"kind": "uniform"}}
    assert client.put("/v1/decision-points/tone", json=own, headers=other).status_code == 201
    theirs = client.post("/v1/decisions/tone", json={"customer_id": "c1"}, headers=other).json()
    assert theirs["variant"] in ("x", "y")
    assert client.post("/v1/decisions/tone", json={"customer_id": "c1"}).json()["variant"] in (
        "warm",
        "brief",
    )
