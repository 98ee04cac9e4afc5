"""The decide/evaluate commands: JSON lines, column maps, saved learners, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import omotenashi.cli._decide  # noqa: F401  (registers the commands)
from omotenashi.cli import app
from omotenashi.decisions import ArtworkSimulator, DecisionEngine, open_decision_log, simulate
from omotenashi.storage import open_store

OBD = Path(__file__).resolve().parents[2] / "../shared/datasets/obd"
runner = CliRunner()


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.dataset
def test_ope_on_obd_preset_prints_one_line_per_estimator():
    result = runner.invoke(
        app,
        [
            "evaluate", "ope", "--logs", str(OBD / "bts/men/men.csv"), "--preset", "obd",
            "--policy", "uniform", "--n-bootstrap", "50", "--json",
            "--truth-logs", str(OBD / "random/men/men.csv"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = _lines(result.output)
    assert [r["estimator"] for r in rows] == ["ipw", "snipw", "dm", "dr", "switch-dr", "sndr"]
    for r in rows:
        assert {"estimator", "value", "ci_low", "ci_high", "ess"} <= set(r)
        assert r["truth"] == pytest.approx(0.0046)


def test_ope_with_a_column_map(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "arm": rng.choice(["x", "y"], n),
            "seg": rng.choice(["s1", "s2"], n),
            "clicked": rng.integers(0, 2, n),
            "p": 0.5,
        }
    )
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)
    args = ["evaluate", "ope", "--logs", str(path), "--policy", "uniform", "--json"]
    maps = ["--map", "action=arm", "--map", "reward=clicked", "--map", "pscore=p"]
    result = runner.invoke(app, [*args, *maps, "--map", "context=se*", "--n-bootstrap", "50"])
    assert result.exit_code == 0, result.output
    ipw = _lines(result.output)[0]
    assert ipw["value"] == pytest.approx(frame["clicked"].mean())  # uniform = logging policy
    bad = runner.invoke(
        app, [*args, "--map", "action=arm", "--map", "reward=nope", "--map", "pscore=p"]
    )
    assert bad.exit_code == 2 and "nope" in bad.output


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_train_a_learner_from_a_decision_log_and_evaluate_it(tmp_path, backend, request):
    store = None
    if backend == "sqlite":
        db = tmp_path / "store.db"
        log = open_decision_log(db)
    else:  # the decision log of a PostgreSQL store, read back through its URL
        db = request.getfixturevalue("postgres_url")
        store = open_store(db)
        log = store.decisions
    env = ArtworkSimulator(random_state=0)
    eng = DecisionEngine(log, random_state=1)
    eng.register(env.decision_point("uniform"))
    simulate(eng, env, 1500)
    log.flush()
    model = tmp_path / "learner.npz"
    result = runner.invoke(
        app,
        ["decide", "train", "--logs", str(db), "--preset", "decisions", "--policy", "linucb",
         "--out", str(model), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _lines(result.output)[0]["updates"] == 1500
    result = runner.invoke(
        app,
        ["evaluate", "ope", "--logs", str(db), "--preset", "decisions", "--policy", str(model),
         "--n-bootstrap", "50", "--estimators", "ipw,dr", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    learned = {r["estimator"]: r["value"] for r in _lines(result.output)}
    uniform = float(eng.log.to_frame()["reward"].mean())
    if store is not None:
        store.close()
    assert learned["dr"] > uniform  # the learned policy should beat the random one it learned from


def test_bad_policy_spec_and_missing_layout():
    result = runner.invoke(
        app, ["evaluate", "ope", "--logs", "x.csv", "--preset", "obd", "--policy", "nonsense"]
    )
    assert result.exit_code != 0
    result = runner.invoke(app, ["evaluate", "ope", "--logs", "x.csv", "--policy", "uniform"])
    assert result.exit_code == 2 and "preset or a column map" in result.output


def test_simulate_command_json():
    result = runner.invoke(
        app, ["decide", "simulate", "--policies", "uniform,linucb", "--rounds", "500", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = _lines(result.output)
    assert [r["policy"] for r in rows] == ["uniform", "linucb"]
    assert all(r["regret_vs_oracle"] >= 0 for r in rows)


def test_ope_on_a_csv_export_of_the_decision_log(tmp_path):
    env = ArtworkSimulator(random_state=2)
    eng = DecisionEngine(random_state=3)
    eng.register(env.decision_point("uniform", {"exploration_floor": 0.0}))
    simulate(eng, env, 600)
    path = tmp_path / "decisions.csv"
    eng.log.to_frame().to_csv(path, index=False)
    result = runner.invoke(
        app,
        ["evaluate", "ope", "--logs", str(path), "--preset", "decisions", "--policy", "uniform",
         "--n-bootstrap", "50", "--estimators", "ipw,snipw", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {r["estimator"]: r for r in _lines(result.output)}
    mean = eng.log.to_frame()["reward"].mean()  # uniform evaluated on its own log: exact
    assert rows["ipw"]["value"] == pytest.approx(mean)
    assert rows["snipw"]["value"] == pytest.approx(mean)
