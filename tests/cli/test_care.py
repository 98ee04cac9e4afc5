"""``recalls``, ``goals`` and ``concierge`` commands: what they print equals the services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omotenashi import Omotenashi

from .conftest import run_cli

SYNTHEA = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "synthea"
PATIENT = "6761ab26-73e9-ad0b-cec4-56c6edd74762"
pytestmark = pytest.mark.dataset


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> str:
    db = tmp_path_factory.mktemp("clinic-cli") / "clinic.db"
    with Omotenashi(db) as om:
        om.ingest.import_preset("synthea", SYNTHEA)
    return str(db)


def test_recalls_json_and_table(clinic) -> None:
    ran = run_cli("recalls", "--as-of", "2022-02-27", "--json", "--db", clinic)
    assert ran.code == 0, ran.output
    with Omotenashi(clinic) as om:
        assert json.loads(ran.stdout) == json.loads(json.dumps(om.care.recalls("2022-02-27")))
    table = run_cli("recalls", "--as-of", "2022-02-27", "--customer", PATIENT, "--db", clinic)
    assert table.code == 0 and "immunization.influenza" in table.stdout
    assert "Recalls (3)" in table.stdout


def test_goals_and_concierge(clinic, tmp_path) -> None:
    added = run_cli(
        "goals", "add", PATIENT, "--name", "checkup", "--type", "visit",
        "--period-days", "182", "--start", "2019-01-01", "--json", "--db", clinic,
    )  # fmt: skip
    assert added.code == 0, added.output
    status = run_cli("goals", "status", "--as-of", "2022-02-27", "--json", "--db", clinic)
    (row,) = json.loads(status.stdout)
    assert row["goal"]["goal_id"] == json.loads(added.stdout)["goal_id"]
    assert row["lapsed"] and row["reminder"]["rule"] == "goal.lapsed"
    reminders = json.loads(
        run_cli("goals", "reminders", "--as-of", "2022-02-27", "--json", "--db", clinic).stdout
    )
    assert {"goal.lapsed", "immunization.influenza"} <= {r["rule"] for r in reminders}
    assigned = run_cli(
        "concierge", "assign", "--agent", "ann=2", "--agent", "bo=1", "--as-of", "2022-02-27",
        "--json", "--db", clinic,
    )  # fmt: skip
    rows = json.loads(assigned.stdout)
    agents = [r["agent"] for r in rows]
    assert (
        agents.count("ann") == 2
        and agents.count("bo") == 1
        and agents[3:] == [None] * (len(rows) - 3)
    )
    page = tmp_path / "brief.html"
    brief = run_cli("concierge", "brief", PATIENT, "--html", str(page), "--db", clinic)
    assert brief.code == 0 and "Talking points" in page.read_text(encoding="utf-8")
    kpis = run_cli("concierge", "kpis", "--db", clinic)
    assert kpis.code == 0 and "fcr" in kpis.stdout


def test_care_score_saves_what_recalls_then_read(clinic) -> None:
    ran = run_cli("care", "score", "--as-of", "2022-02-27", "--json", "--db", clinic)
    assert ran.code == 0, ran.output
    result = json.loads(ran.stdout)
    with Omotenashi(clinic) as om:
        saved = om.store.scores.frame("lapse")
        assert result == {"as_of": "2022-02-27", "patients_scored": len(saved), "source": "lapse"}
        rows = om.care.recalls("2022-02-27", customer_id=PATIENT)
        risk = saved.loc[PATIENT, "visit_lapse_risk"]
        assert rows and all(r["lapse_risk"] == round(risk, 4) for r in rows)
    table = run_cli("care", "score", "--db", clinic)
    assert table.code == 0 and f"lapse risk of {len(saved)} patients saved" in table.stdout
    bad = run_cli("care", "score", "--as-of", "someday", "--db", clinic)
    assert bad.code != 0 and "as_of" in bad.output
