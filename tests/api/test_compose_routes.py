"""Compose over HTTP: bundles, plans and messages for a customer of the key's workspace,
infeasible constraints named (422), outcomes learnt, and no reach into another workspace."""

from __future__ import annotations

import json
import warnings
from importlib import resources

import pytest

from omotenashi.api import ServiceSettings, create_app
from omotenashi.services import Omotenashi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from .conftest import create_key


@pytest.fixture(params=["sqlite", "postgresql"])
def client(tmp_path, request):
    if request.param == "postgresql":
        db = request.getfixturevalue("postgres_url")
    else:
        db = tmp_path / "shop.db"
    with Omotenashi(db) as om:
        om.upsert_items([{"item_id": "hojicha", "title": "Hojicha", "categories": ["Tea"]}])
        om.track_many(
            [
                {
                    "customer_id": "a/1",
                    "type": "purchase",
                    "item_id": "hojicha",
                    "value": 3.8,
                    "order_id": f"o{i}",
                    "timestamp": f"2026-01-0{i + 1}T10:00:00Z",
                }
                for i in range(3)
            ]
        )
    settings = ServiceSettings(db=str(db), train_on_start=False, warm_customers=0)
    with TestClient(create_app(settings)) as c:
        c.headers["X-API-Key"] = create_key(db, "default", "read", "ingest")
        c.other = {"X-API-Key": create_key(db, "shop-b", "read", "ingest")}
        c.db = db
        yield c


def test_bundle_plan_and_message_for_a_customer(client):
    r = client.post("/v1/customers/a%2F1/bundle", json={"catalog": "sample:cafe", "top": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["bundles"]) == 2
    assert body["bundles"][0]["parts"][0]["id"] == "hojicha"  # bought three times
    cafe = json.loads((resources.files("omotenashi.data") / "cafe_set.json").read_text())
    inline = client.post("/v1/customers/a%2F1/bundle", json={"catalog": cafe, "top": 2}).json()
    assert inline["bundles"] == body["bundles"]

    r = client.post(
        "/v1/customers/a%2F1/plan",
        json={
            "catalog": "sample:travel",
            "start": "2026-04-06",
            "days": 2,
            "budget": 300,
            "pace": "relaxed",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["hours_per_day"] == 4 and r.json()["price"] <= 300

    r = client.post("/v1/customers/a%2F1/message", json={"topic": "your tea", "offer": "10% off"})
    assert r.status_code == 200, r.text
    msg = r.json()
    assert [p["slot"] for p in msg["parts"]][-2:] == ["offer", "call_to_action"]
    assert msg["decision"]["point"] == "message_style"
    reward = client.post(f"/v1/messages/{msg['decision']['decision_id']}/reward", json={"value": 1})
    assert reward.status_code == 200, reward.text
    again = client.post(f"/v1/messages/{msg['decision']['decision_id']}/reward", json={"value": 1})
    assert again.status_code == 422  # one outcome per message


def test_infeasible_and_bad_input_are_named(client):
    r = client.post("/v1/customers/a%2F1/bundle", json={"catalog": "sample:cafe", "budget": 2})
    assert r.status_code == 422
    # the cheapest main alone (3.90) is over 2: the main group and the budget conflict
    assert "group 'main' takes at least 1; budget 2.00 EUR" in r.json()["message"]
    r = client.post("/v1/customers/a%2F1/bundle", json={"catalog": "/etc/passwd"})
    assert r.status_code == 422 and "catalog" in r.text
    r = client.post(
        "/v1/customers/a%2F1/bundle",
        json={"catalog": {"groups": [], "parts": [{"id": "x", "group": "g", "price": 1}]}},
    )
    assert r.status_code == 422 and "parts[0].group" in r.text


def test_another_workspace_reaches_nothing(client):
    assert (
        client.post(
            "/v1/customers/a%2F1/bundle", json={"catalog": "sample:cafe"}, headers=client.other
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/v1/customers/a%2F1/message", json={"topic": "tea"}, headers=client.other
        ).status_code
        == 404
    )
    mine = client.post("/v1/customers/a%2F1/message", json={"topic": "tea"}).json()
    stolen = client.post(
        f"/v1/messages/{mine['decision']['decision_id']}/reward",
        json={"value": 1},
        headers=client.other,
    )
    assert stolen.status_code == 404


def test_scopes(client, tmp_path):
    reader = {"X-API-Key": create_key(client.db, "default", "read")}
    assert (
        client.post(
            "/v1/customers/a%2F1/message", json={"topic": "tea"}, headers=reader
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/v1/customers/a%2F1/bundle", json={"catalog": "sample:cafe"}, headers=reader
        ).status_code
        == 200
    )
