"""``export-events``: the command over the service, JSON and text."""

from __future__ import annotations

import json
from pathlib import Path

from omotenashi import Omotenashi

from .conftest import run_cli


def test_export_events_twice_adds_only_the_new(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    with Omotenashi(db) as om:
        om.track_many(
            {"customer_id": f"c{i}", "type": "view", "item_id": "i1",
             "timestamp": f"2025-01-0{1 + i % 3}T08:00:00Z"}
            for i in range(9)
        )  # fmt: skip
    first = run_cli("export-events", str(tmp_path / "lake"), "--db", str(db), "--json")
    assert first.code == 0, first.output
    info = json.loads(first.stdout)
    assert info["rows"] == 9 and sorted(info["partitions"]) == [
        "2025-01-01",
        "2025-01-02",
        "2025-01-03",
    ]
    again = run_cli("export-events", str(tmp_path / "lake"), "--db", str(db))
    assert again.code == 0, again.output
    assert "Exported 0 new events" in again.stdout and "9 events in" in again.stdout
