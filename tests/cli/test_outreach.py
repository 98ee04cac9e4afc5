"""``omotenashi nba`` and ``omotenashi outreach ...`` end to end on a store file: declare, rank
one customer, run, approve, export, record a results file; JSON equals the service's answers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from omotenashi import Omotenashi

from .conftest import run_cli

DAY = "2026-03-01"


def _store(path: Path) -> None:
    with Omotenashi(path) as om:
        om.track_many(
            {"customer_id": f"c{c}", "type": "purchase", "item_id": f"i{k}",
             "order_id": f"o{c}-{k}", "value": 30.0 + 50 * (c % 3),
             "timestamp": f"2026-0{1 + k % 2}-{10 + c % 9}T10:00:00Z"}
            for c in range(20) for k in range(1 + c % 3)
        )  # fmt: skip


def test_the_outreach_round_trip(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    _store(Path(db))
    actions = tmp_path / "actions.json"
    actions.write_text(
        json.dumps(
            {
                "actions": [
                    {
                        "id": "tip",
                        "kind": "recommend",
                        "channel": "email",
                        "value": "aov",
                        "response_rate": 0.2,
                        "scale_by_p_alive": False,
                    }
                ],
                "policy": {"exploration": 0.0},
            }  # fmt: skip
        )
    )
    assert run_cli("outreach", "actions", str(actions), "--db", db).code == 0
    shown = json.loads(run_cli("outreach", "actions", "--db", db, "--json").stdout)
    assert [a["id"] for a in shown["actions"]] == ["tip", "nothing"]

    nba = run_cli("nba", "c4", "--date", DAY, "--db", db, "--json")
    assert nba.code == 0, nba.output
    with Omotenashi(db) as om:
        assert json.loads(nba.stdout)["actions"] == om.next_best_actions("c4", date=DAY)["actions"]
    table = run_cli("nba", "c4", "--date", DAY, "--db", db)
    assert "tip" in table.stdout and "expected value" in table.stdout

    preview = json.loads(run_cli("outreach", "preview", "--date", DAY, "--db", db, "--json").stdout)
    assert (
        preview["preview"]
        and preview["contacts"] == 20
        and preview["by_action"] == {"tip/email": 20}
    )
    ran = run_cli("outreach", "run", "--date", DAY, "--db", db, "--json", "--show", "0")
    assert json.loads(ran.stdout)["contacts"] == 20
    approved = json.loads(
        run_cli("outreach", "approve", "--date", DAY, "--db", db, "--json").stdout
    )
    assert approved["count"] == 20
    skipped = run_cli("outreach", "skip", approved["approve"][0], "--db", db, "--json")
    assert json.loads(skipped.stdout)["count"] == 1
    out = tmp_path / "contacts.csv"
    exported = run_cli("outreach", "export", "--out", str(out), "--date", DAY, "--mark-sent",
                       "--db", db, "--json")  # fmt: skip
    assert json.loads(exported.stdout)["contacts"] == 19
    csv = pd.read_csv(out)
    assert len(csv) == 19 and approved["approve"][0] not in set(csv["contact_id"])
    results = tmp_path / "results.csv"
    pd.DataFrame(
        {
            "contact_id": csv["contact_id"][:3],
            "outcome": ["converted", "ignored", "responded"],
            "value": [20.0, None, None],
        }  # fmt: skip
    ).to_csv(results, index=False)
    recorded = run_cli("outreach", "record", "--file", str(results), "--db", db, "--json")
    assert json.loads(recorded.stdout) == {"sent": 0, "failed": 0, "outcomes": 3}
    listed = json.loads(run_cli("outreach", "list", "--date", DAY, "--db", db, "--json").stdout)
    by_id = {r["contact_id"]: r for r in listed}
    assert by_id[csv["contact_id"][0]]["outcome_value"] == 20.0
    assert sum(r["status"] == "sent" for r in listed) == 19
    assert sum(r["status"] == "skipped" for r in listed) == 1
    with Omotenashi(db) as om:
        rewards = om.store.decisions.to_frame("outreach")["reward"].dropna().tolist()
    assert sorted(rewards) == [0.0, 1.0, 20.0]
    # a file with one bad row changes nothing: every row is checked first
    mixed = tmp_path / "mixed.csv"
    pd.DataFrame(
        {
            "contact_id": [csv["contact_id"][5], csv["contact_id"][0]],
            "outcome": ["converted", "converted"],
        }  # fmt: skip
    ).to_csv(mixed, index=False)
    again = run_cli("outreach", "record", "--file", str(mixed), "--db", db)
    assert again.code == 2 and "line 3" in again.stderr and "already has an outcome" in again.stderr
    with Omotenashi(db) as om:
        assert om.store.outreach.get(csv["contact_id"][5])["outcome"] is None
