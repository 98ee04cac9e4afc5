"""The recommendation commands (``train``, ``recommend``, ``similar``) on a real store."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from ..evaluation.conftest import random_ratings
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
    assert all("params" in row and "default_ndcg@10" in row for row in info["selection"])
    assert "recency" in info["tuning"]

    result = runner.invoke(app, ["train", "--budget", "0", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "tuned settings" in result.stdout and "l2=" in result.stdout
    assert "Recency signal" in result.stdout
    result = runner.invoke(app, ["train", "--budget", "-1", "--db", str(db)])
    assert result.exit_code == 2

    result = runner.invoke(
        app, ["recommend", "u0", "-n", "3", "--explain", "--json", "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    recs = json.loads(result.stdout)["recommendations"]
    assert [r["rank"] for r in recs] == [1, 2, 3]
    assert all(r["reasons"] for r in recs)

    result = runner.invoke(app, ["recommend", "u0", "-n", "3", "--explain", "--db", str(db)])
    # the reason's wording is the chosen model's (item-item: "because you ...", user-kNN and
    # factor models: "... tastes like yours (you liked ...)"); either names the history
    assert result.exit_code == 0, result.output
    assert "because you" in result.stdout or "tastes like yours" in result.stdout

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


def test_cli_evaluate_topn_and_sessions_print_one_json_line_per_model(tmp_path):
    from omotenashi.cli import _load_commands, app

    _load_commands()
    ratings = random_ratings(seed=2)
    path = tmp_path / "ratings.csv"
    ratings.to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "evaluate",
            "topn",
            "--data",
            str(path),
            "--map",
            "user=user_id,item=item_id,rating=rating,time=timestamp",
            "--min-rating",
            "3",
            "--no-peers",
            "--models",
            "ease,popularity",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["model"] for r in lines] == ["ease", "popularity"]
    for r in lines:
        assert {"model", "params", "ndcg@10", "recall@20", "fit_s", "score_us_per_user"} <= set(r)

    clicks = pd.DataFrame(
        {"sid": [1, 1, 1, 2, 2, 3, 3], "item": list("abcabab"), "t": [1, 2, 3, 4, 5, 6, 7]}
    )
    tr, te = tmp_path / "train.csv", tmp_path / "test.csv"
    clicks.to_csv(tr, index=False)
    pd.DataFrame({"sid": [9, 9], "item": ["a", "b"], "t": [10, 11]}).to_csv(te, index=False)
    result = runner.invoke(
        app,
        [
            "evaluate",
            "sessions",
            "--train",
            str(tr),
            "--test",
            str(te),
            "--map",
            "session=sid,item=item,time=t",
            "--no-peers",
            "--models",
            "sknn",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout.strip().splitlines()[0])
    # nobody goes back to an item in the training sessions, so after [a] the model does not
    # offer a again: b (after a in 3 of 3 training sessions) comes first
    assert row["model"] == "sknn"
    assert (row["hr@20"], row["mrr@20"]) == pytest.approx((1.0, 1.0))
    assert {"coverage", "popularity", "score_us_per_event", "fit_s"} <= set(row)

    bad = runner.invoke(app, ["evaluate", "topn", "--data", str(path), "--map", "user=nope,item=x"])
    assert bad.exit_code == 2
    assert "names no column" in bad.output


def test_train_budget_default_is_the_services_default():
    import inspect

    from omotenashi.cli._recommend import train
    from omotenashi.services import DEFAULT_BUDGET_S

    assert inspect.signature(train).parameters["budget"].default == DEFAULT_BUDGET_S


def test_cli_train_without_times_shows_the_folds_that_decided(tmp_path, monkeypatch, events):
    """Events that all share one time: no time order, so the blend is chosen on three folds,
    and the table shows the figure that decided (``--json`` carries it per row)."""
    from omotenashi import Omotenashi
    from omotenashi.cli import _load_commands, app

    _load_commands()
    db = tmp_path / "store.db"
    with Omotenashi(str(db)) as store:
        store.track_many(
            {
                "customer_id": row.customer_id,
                "type": "purchase",
                "item_id": row.item_id,
                "timestamp": "2025-03-01T10:00:00+00:00",
            }
            for row in events.itertuples()
        )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--budget", "30", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["tuning"]["validation"]["folds"] == 3
    ranks = [row["folds_ndcg@10"] for row in info["selection"]]
    assert ranks == sorted(ranks, reverse=True)
    result = runner.invoke(app, ["train", "--budget", "30", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "folds" in result.stdout and "No time signal" in result.stdout
    assert "blended on 3 validation" in " ".join(result.stdout.split())
