"""The recommendation commands (``train``, ``recommend``, ``similar``) on a real store."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from ..recommend.conftest import make_events, make_items


@pytest.fixture()
def events() -> pd.DataFrame:
    """Store-shaped purchase events of the planted interactions (tests/recommend/conftest.py)."""
    return make_events()


@pytest.fixture()
def items() -> pd.DataFrame:
    return make_items()


def test_cli_train_recommend_similar_and_batch_on_a_real_store(
    tmp_path, monkeypatch, events, items, db_url
):
    """On a store file and on a PostgreSQL database."""
    from omotenashi import Omotenashi
    from omotenashi.cli import _load_commands, app

    _load_commands()
    db = db_url
    with Omotenashi(db) as store:
        store.upsert_items(items.to_dict("records"))
        store.track_many(
            {
                "customer_id": row.customer_id,
                "type": "purchase",
                "item_id": row.item_id,
                "timestamp": row.timestamp.isoformat(),
            }
            for row in events.itertuples()
        )
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["version"] == 1 and info["selection"]

    result = runner.invoke(
        app, ["recommend", "u0", "-n", "3", "--explain", "--json", "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    recs = json.loads(result.stdout)["recommendations"]
    assert [r["rank"] for r in recs] == [1, 2, 3]
    assert all(r["reasons"] for r in recs)

    result = runner.invoke(app, ["recommend", "u0", "-n", "3", "--explain", "--db", str(db)])
    assert result.exit_code == 0 and "because you" in result.stdout

    result = runner.invoke(
        app, ["recommend", "--session", "r1,r2", "-n", "2", "--json", "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["recommendations"]) == 2

    result = runner.invoke(app, ["similar", "s1", "--json", "--db", str(db)])
    assert result.exit_code == 0, result.output

    out = tmp_path / "recs.csv"
    result = runner.invoke(
        app,
        ["recommend", "--all-customers", "-n", "20", "--out", str(out), "--db", str(db), "--json"],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype={"customer_id": str, "item_id": str})
    assert list(frame.columns) == ["customer_id", "rank", "item_id", "score"]
    assert frame["rank"].min() == 1
    assert frame["customer_id"].nunique() == 40

    result = runner.invoke(app, ["recommend", "--db", str(db)])
    assert result.exit_code == 2
