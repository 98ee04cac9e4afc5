"""``omotenashi bundle``, ``plan``, ``message`` and ``evaluate messages`` print what the
service computes, for people and as JSON, and name infeasible constraints (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omotenashi import Omotenashi

from .conftest import run_cli


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("compose") / "shop.db"
    with Omotenashi(str(path)) as om:
        om.upsert_items([{"item_id": "dorayaki", "title": "Dorayaki", "categories": ["Pastry"]}])
        om.track_many(
            [
                {
                    "customer_id": "c1",
                    "type": "purchase",
                    "item_id": "dorayaki",
                    "value": 2.2,
                    "order_id": f"o{i}",
                    "timestamp": f"2026-01-0{i + 1}T10:00:00Z",
                }
                for i in range(2)
            ]
        )
    return str(path)


def test_bundle_json_and_table(db: str) -> None:
    ran = run_cli("bundle", "c1", "--catalog", "sample:cafe", "--top", "2", "--json", "--db", db)
    assert ran.code == 0, ran.output
    data = json.loads(ran.stdout)
    with Omotenashi(db) as om:
        direct = om.compose.bundle("c1", "sample:cafe", top=2)
    assert data["bundles"] == direct["bundles"]
    dorayaki = next(p for p in data["bundles"][0]["parts"] if p["id"] == "dorayaki")
    assert "you bought it 2 times before (+0.60)" in dorayaki["reasons"]
    table = run_cli("bundle", "c1", "--catalog", "sample:cafe", "--db", db)
    assert "Dorayaki" in table.stdout and "you bought it 2 times" in table.stdout


def test_a_catalogue_file_and_an_infeasible_budget(db: str, tmp_path: Path) -> None:
    catalog = tmp_path / "plan.json"
    catalog.write_text(json.dumps({
        "currency": "EUR",
        "groups": [{"id": "data", "min": 1, "max": 1}, {"id": "calls", "min": 1, "max": 1},
                   {"id": "option", "max": 3}],
        "parts": [
            {"id": "data-5", "group": "data", "price": 10},
            {"id": "data-20", "group": "data", "price": 18},
            {"id": "calls-100", "group": "calls", "price": 5},
            {"id": "calls-free", "group": "calls", "price": 12},
            {"id": "roaming", "group": "option", "price": 4},
        ],
    }))  # fmt: skip
    ran = run_cli("bundle", "c1", "--catalog", str(catalog), "--budget", "15", "--json", "--db", db)
    assert ran.code == 0, ran.output
    best = json.loads(ran.stdout)["bundles"][0]
    assert [p["id"] for p in best["parts"]] == ["data-5", "calls-100"] and best["price"] == 15
    bad = run_cli("bundle", "c1", "--catalog", str(catalog), "--budget", "14.99", "--db", db)
    assert bad.code == 2
    assert bad.stderr.count("\n") == 1  # one line
    for named in (
        "group 'data' takes at least 1",
        "group 'calls' takes at least 1",
        "budget 14.99 EUR",
    ):
        assert named in bad.stderr


def test_plan_and_message(db: str) -> None:
    ran = run_cli(
        "plan",
        "c1",
        "--catalog",
        "sample:travel",
        "--start",
        "2026-04-06",
        "--days",
        "2",
        "--budget",
        "300",
        "--pace",
        "packed",
        "--json",
        "--db",
        db,
    )
    assert ran.code == 0, ran.output
    plan = json.loads(ran.stdout)
    assert plan["hours_per_day"] == 9 and plan["price"] <= 300
    assert [d["date"] for d in plan["days"]] == ["2026-04-06", "2026-04-07"]
    msg = run_cli(
        "message",
        "c1",
        "--topic",
        "new pastries",
        "--offer",
        "a free dorayaki",
        "--json",
        "--db",
        db,
    )
    assert msg.code == 0, msg.output
    data = json.loads(msg.stdout)
    assert "A free dorayaki" in data["text"] or "a free dorayaki" in data["text"]
    assert data["decision"]["point"] == "message_style" and 0 < data["decision"]["propensity"] <= 1
    people = run_cli("message", "c1", "--topic", "new pastries", "--channel", "call", "--db", db)
    assert people.code == 0 and people.stdout.startswith("- ")


def test_evaluate_messages_json() -> None:
    ran = run_cli("evaluate", "messages", "--rounds", "1000", "--json")
    assert ran.code == 0, ran.output
    data = json.loads(ran.stdout)
    assert data["evaluated_on"] == 500 and len(data["policies"]) == 3
    for policy in data["policies"]:
        assert {e["estimator"] for e in policy["estimates"]} == {"ipw", "snipw"}
