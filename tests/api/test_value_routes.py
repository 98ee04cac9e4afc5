"""Customer value over HTTP: segments match a direct value report; a refresh fills profiles."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omotenashi import value
from omotenashi.api import ServiceSettings, create_app
from omotenashi.services import Omotenashi, from_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from .conftest import create_key


def buyers_events(n_customers: int = 60, seed: int = 3) -> list[dict]:
    """Purchases of customers who differ in how often, how recently and how much they buy."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    events = []
    for c in range(n_customers):
        n = int(rng.integers(1, 9))
        last = int(rng.integers(30, 365))
        days = sorted(set(rng.integers(0, last + 1, size=n - 1).tolist()) | {last})
        amount = float(rng.choice([5.0, 20.0, 80.0]))
        for k, day in enumerate(days):
            events.append(
                {
                    "event_id": f"p{c}-{k}",
                    "customer_id": f"c{c}",
                    "type": "purchase",
                    "item_id": f"i{k % 7}",
                    "order_id": f"o{c}-{k}",
                    "value": amount,
                    "timestamp": (start + pd.Timedelta(days=day)).isoformat(),
                }
            )
    return events


@pytest.fixture(scope="module")
def buyers_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("value") / "shop.db"
    with Omotenashi(path) as om:
        om.track_many(buyers_events())
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def client(buyers_template, tmp_path, request):
    """A service over the buyers' store: a file, or a PostgreSQL database."""
    if request.param == "postgresql":
        db = request.getfixturevalue("postgres_url")
        with Omotenashi(db) as om:
            om.track_many(buyers_events())
    else:
        db = tmp_path / "shop.db"
        db.write_bytes(buyers_template.read_bytes())
    settings = ServiceSettings(db=str(db), train_on_start=False, warm_customers=0)
    with TestClient(create_app(settings)) as c:
        c.headers["X-API-Key"] = create_key(db, "default", "read")
        c.admin = {"X-API-Key": create_key(db, "default", "admin")}
        c.db = db
        yield c


def direct_report(db: Path) -> value.ValueReport:
    with Omotenashi(db) as om:
        data = from_store(om)
        return value.value_report(data.transactions, attributes=data.attributes)


def test_segments_equal_a_direct_value_report(client):
    response = client.get("/v1/segments")
    assert response.status_code == 200, response.text
    body = response.json()
    expected = direct_report(client.db).customers["segment"].value_counts()
    got = {row["segment"]: row["customers"] for row in body["segments"]}
    assert got == expected.to_dict()
    assert len(got) >= 3  # the planted behaviours spread customers over several segments
    assert sum(got.values()) == 60 == body["totals"]["customers"]
    assert abs(sum(row["share"] for row in body["segments"]) - 1) < 1e-9
    # historical value per segment: sum of the purchases of its members, computed from events
    events = pd.DataFrame(buyers_events())
    spent = events.groupby("customer_id")["value"].sum()
    members = direct_report(client.db).customers["segment"]
    for row in body["segments"]:
        ids = members[members == row["segment"]].index
        assert row["value"] == pytest.approx(spent.loc[ids].sum())
    sizes = [row["customers"] for row in body["segments"]]
    assert sizes == sorted(sizes, reverse=True)
    assert body["source"] == "segments" and body["model"] == "bgnbd"
    json.dumps(body, allow_nan=False)  # strict JSON: no NaN leaks through


def test_segments_are_cached_until_a_refresh(client):
    first = client.get("/v1/segments").json()
    assert client.get("/v1/segments").json()["computed_at"] == first["computed_at"]
    refreshed = client.post("/v1/admin/value/refresh", headers=client.admin)
    assert refreshed.status_code == 200, refreshed.text
    after = client.get("/v1/segments").json()
    assert after["computed_at"] == refreshed.json()["computed_at"] != first["computed_at"]
    assert after["source"] == "refresh"


def test_refresh_needs_admin_and_fills_profiles(client):
    before = client.get("/v1/customers/c1").json()
    assert "segment" not in before["scores"]
    assert client.post("/v1/admin/value/refresh").status_code == 403  # read key
    response = client.post(
        "/v1/admin/value/refresh", json={"horizon_months": 6}, headers=client.admin
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customers_scored"] == 60 and body["horizon_months"] == 6
    report = direct_report(client.db)
    for cid in ("c1", "c7", "c42"):
        scores = client.get(f"/v1/customers/{cid}").json()["scores"]
        row = report.customers.loc[cid]
        assert scores["segment"] == row["segment"]
        assert scores["rfm"] == row["rfm"]
        assert scores["p_alive"] == pytest.approx(row["p_alive"], rel=1e-6)
        assert 0 <= scores["p_alive"] <= 1


def test_bad_refresh_options_are_422_naming_the_field(client):
    response = client.post("/v1/admin/value/refresh", json={"model": "magic"}, headers=client.admin)
    assert response.status_code == 422 and response.json()["field"] == "model"
    response = client.post(
        "/v1/admin/value/refresh", json={"horizon_months": 0}, headers=client.admin
    )
    assert response.status_code == 422 and response.json()["field"] == "horizon_months"


def test_store_without_purchases_is_a_clear_4xx(tmp_path):
    db = tmp_path / "empty.db"
    with Omotenashi(db) as om:
        om.track({"customer_id": "c1", "type": "view", "item_id": "i", "timestamp": "2025-01-01"})
    settings = ServiceSettings(db=str(db), train_on_start=False, warm_customers=0)
    with TestClient(create_app(settings)) as c:
        c.headers["X-API-Key"] = create_key(db, "default", "admin")
        response = c.get("/v1/segments")
        assert response.status_code == 409
        assert "purchase" in response.json()["message"]
        response = c.post("/v1/admin/value/refresh")
        assert response.status_code == 422 and "purchase" in response.json()["message"]
