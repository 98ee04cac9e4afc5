"""Care and concierge over HTTP: the answers equal the service's, scopes hold, and a key of one
workspace never reads another's patients, goals or agents."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from omotenashi.api import ServiceSettings, create_app
from omotenashi.services import Omotenashi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from .conftest import create_key

SYNTHEA = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "synthea"
PATIENT = "6761ab26-73e9-ad0b-cec4-56c6edd74762"
pytestmark = pytest.mark.dataset


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("care-api")
    db = folder / "clinic.db"
    with Omotenashi(db) as om:
        om.ingest.import_preset("synthea", SYNTHEA)
    (folder / "clinic.workspaces").mkdir()
    with Omotenashi(folder / "clinic.workspaces" / "other.db") as om:
        om.track_many(
            [
                {"customer_id": "a/b", "type": "contact", "channel": "phone",
                 "timestamp": "2025-01-02T10:00:00Z", "context": {"outcome": "resolved"}},
                {"customer_id": "a/b", "type": "purchase", "value": 9000.0, "order_id": "o1",
                 "timestamp": "2025-01-01T10:00:00Z"},
            ]
        )  # fmt: skip
    settings = ServiceSettings(db=str(db), train_on_start=False, warm_customers=0)
    with TestClient(create_app(settings)) as client:
        keys = {
            name: {"X-API-Key": create_key(db, workspace, *scopes)}
            for name, workspace, scopes in [
                ("read", "default", ("read",)),
                ("ingest", "default", ("read", "ingest")),
                ("admin", "default", ("admin",)),
                ("other", "other", ("read", "ingest", "admin")),
            ]
        }
        yield client, db, keys


def test_recalls_equal_the_service(service) -> None:
    client, db, keys = service
    answer = client.get("/v1/recalls", params={"as_of": "2022-02-27"}, headers=keys["read"])
    assert answer.status_code == 200, answer.text
    with Omotenashi(db) as om:
        assert answer.json() == om.care.recalls("2022-02-27")
    mine = client.get(f"/v1/customers/{PATIENT}/recalls", params={"as_of": "2022-02-27"},
                      headers=keys["read"])  # fmt: skip
    assert {r["rule"] for r in mine.json()} == {
        "immunization.influenza",
        "wellness.age_band",
        "care_plan.visit_lapsing",
    }
    # the other workspace knows no such patient, and has no patients at all
    assert client.get(f"/v1/customers/{PATIENT}/recalls", headers=keys["other"]).status_code == 404
    assert client.get("/v1/recalls", headers=keys["other"]).status_code == 422
    assert (
        client.get("/v1/recalls", params={"as_of": "someday"}, headers=keys["read"]).status_code
        == 422
    )


def test_goals_need_ingest_and_stay_in_their_workspace(service) -> None:
    client, _, keys = service
    body = {"name": "checkup", "event_type": "visit", "target": 1, "period_days": 365,
            "start": "2020-01-01"}  # fmt: skip
    url = f"/v1/customers/{PATIENT}/goals"
    assert client.post(url, json=body, headers=keys["read"]).status_code == 403
    made = client.post(url, json=body, headers=keys["ingest"])
    assert made.status_code == 201, made.text
    (status,) = client.get(url, params={"as_of": "2022-02-27"}, headers=keys["read"]).json()
    # years from 2020-01-01: 2020 (wellness 2020-02-05) met, 2021 (outpatient visits) met
    assert status["goal"]["goal_id"] == made.json()["goal_id"] and status["streak"] == 2
    assert client.get(url, headers=keys["other"]).status_code == 404  # unknown there
    bad = client.post(url, json={**body, "filter": "__import__('os')"}, headers=keys["ingest"])
    assert bad.status_code == 422
    goal_id = made.json()["goal_id"]
    assert client.delete(f"/v1/goals/{goal_id}", headers=keys["other"]).status_code == 404
    assert client.delete(f"/v1/goals/{goal_id}", headers=keys["ingest"]).status_code == 204


def test_concierge_assign_brief_and_kpis(service) -> None:
    client, _, keys = service
    body = {"agents": {"ann": 2}, "dry_run": False}
    assert client.post("/v1/concierge/assign", json=body, headers=keys["read"]).status_code == 403
    other = client.post("/v1/concierge/assign", json=body, headers=keys["other"])
    assert other.status_code == 200, other.text
    assert [r["customer_id"] for r in other.json()] == ["a/b"]  # high value (9000)
    assert client.get("/v1/concierge/assignments", headers=keys["read"]).json() == []
    (row,) = client.get("/v1/concierge/assignments", headers=keys["other"]).json()
    assert row["agent"] == "ann"
    brief = client.get("/v1/customers/a%2Fb/brief", headers=keys["other"])
    assert brief.status_code == 200 and brief.json()["agent"] == "ann"
    page = client.get("/v1/customers/a%2Fb/brief.html", headers=keys["other"])
    assert page.headers["content-type"].startswith("text/html") and "a/b" in page.text
    assert client.get("/v1/customers/a%2Fb/brief", headers=keys["read"]).status_code == 404
    kpis = client.get("/v1/concierge/kpis", headers=keys["other"]).json()
    assert kpis["all"]["contacts"] == 1 and kpis["assigned_customers"] == 1
