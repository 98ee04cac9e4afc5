"""``omotenashi export`` and ``omotenashi erase`` on a real store file."""

from __future__ import annotations

import json
from pathlib import Path

from omotenashi import Omotenashi
from omotenashi.services import receipt_matches

from .conftest import run_cli


def _store(path: Path) -> str:
    with Omotenashi(path) as om:
        om.track_many(
            [
                {
                    "customer_id": who,
                    "anonymous_id": f"{who}-tab",
                    "type": "purchase",
                    "item_id": item,
                    "order_id": f"{who}-{item}",
                    "value": 2.0,
                    "timestamp": f"2025-03-0{day}T09:00:00Z",
                }
                for day, (who, item) in enumerate(
                    [
                        ("kai", "tea"),
                        ("kai", "mug"),
                        ("rin", "tea"),
                        ("rin", "pot"),
                        ("sol", "mug"),
                        ("sol", "pot"),
                    ],
                    start=1,
                )
            ]  # fmt: skip
        )
        om.identify("kai", "kai-tab", email="kai@example.net")
        om.training.train("itemknn", session_model=False)
    return str(path)


def test_export_writes_one_json_document(tmp_path: Path) -> None:
    db = _store(tmp_path / "shop.db")
    ran = run_cli("export", "kai-tab", "--db", db)
    assert ran.code == 0, ran.output
    doc = json.loads(ran.stdout)
    assert doc["customer_id"] == "kai"
    assert [e["item_id"] for e in doc["tables"]["events"]] == ["tea", "mug"]
    out = tmp_path / "kai.json"
    ran = run_cli("export", "kai", "--output", str(out), "--db", db, "--json")
    assert ran.code == 0, ran.output
    assert json.loads(ran.stdout)["rows"]["events"] == 2
    again = json.loads(out.read_text())["tables"]
    # the same rows, and the access log notes this second export too
    assert {k: v for k, v in again.items() if k != "access_log"} == {
        k: v for k, v in doc["tables"].items() if k != "access_log"
    }
    assert [e["action"] for e in again["access_log"]].count("export") == 2


def test_erase_prints_a_receipt_and_the_person_is_gone(tmp_path: Path) -> None:
    db = _store(tmp_path / "shop.db")
    ran = run_cli("erase", "kai", "--yes", "--db", db, "--json")
    assert ran.code == 0, ran.output
    receipt = json.loads(ran.stdout)
    assert receipt_matches(receipt, "kai")
    rows = dict(receipt["rows"])
    assert rows.pop("access") >= 1  # what the access log noted about kai goes too
    assert rows == {"events": 2, "identities": 2}
    assert [m["model"] for m in receipt["models"]] == ["itemknn"]
    assert "kai" not in ran.stdout.replace(receipt["receipt_id"], "")
    assert run_cli("profile", "kai", "--db", db).code == 2
    ran = run_cli("erase", "rin", "--yes", "--db", db)  # the readable form
    assert ran.code == 0, ran.output
    assert "erased rows: access 1, events 2, identities 1" in ran.stdout
    assert "model itemknn: v3, 1 older version(s) removed" in ran.stdout
    with Omotenashi(db) as om:
        assert [r.item_id for r in om.recommendations.for_customer("sol", 5)] == []
        assert len(om.rights.receipts()) == 2
