"""`train` fits the session model for anonymous visits within the budget it was given and says
what that model's own search chose."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from omotenashi import Omotenashi
from omotenashi.recommend._session import SKNN_GRID


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """400 anonymous visits walking a ring of 30 items (the next view is one or two along) and a
    few known customers: enough sessions for the session model to tune itself."""
    tmp = tmp_path_factory.mktemp("sessions")
    rng = np.random.default_rng(0)
    lines = ["anon,customer,item,time"]
    for s in range(400):
        item = int(rng.integers(30))
        for j in range(int(rng.integers(2, 7))):
            lines.append(f"a{s},,i{item},2024-01-{1 + s // 24:02d}T{s % 24:02d}:{j:02d}:00Z")
            item = (item + int(rng.integers(1, 3))) % 30
    for c in range(5):
        for j in range(3):
            lines.append(f",c{c},i{(c + j) % 30},2024-02-01T{c:02d}:{j:02d}:00Z")
    path = tmp / "visits.csv"
    path.write_text("\n".join(lines) + "\n")
    db = str(tmp / "store.db")
    with Omotenashi(db) as om:
        om.import_events(path, mapping="anonymous=anon,customer=customer,item=item,time=time")
    return db


def test_train_reports_the_session_models_own_search(store: str) -> None:
    messages: list[str] = []
    with Omotenashi(store, create=False) as om:
        info = om.training.train("itemknn", progress=lambda m, d, t: messages.append(m))
        model, _ = om.recommendations.model("sknn")
    session = info["session"]
    assert session["model"] == "sknn" and session["sessions"] >= 400
    tuning = session["tuning"]
    assert set(session["tuned"]) == {*SKNN_GRID, "item_weight"}
    assert tuning["settings_tried"] > len(SKNN_GRID) and not tuning["budget_exhausted"]
    assert tuning["budget_s"] == 120.0  # train's default budget, given to the search as well
    # the saved session model is the one reported
    assert model.tuned_ == session["tuned"]
    # every setting scored was announced as a step of the session model
    scored = [m for m in messages if m.startswith("tuning the session model")]
    assert len(scored) == tuning["settings_tried"]
    assert f"{tuning['validation']:.4f}" in scored[-1]
    json.dumps(info)  # what `train --json` and the HTTP job return


def test_train_with_no_budget_keeps_the_session_models_defaults(store: str) -> None:
    with Omotenashi(store, create=False) as om:
        info = om.training.train("itemknn", budget=0)
    assert info["session"]["tuned"] == {} and info["session"]["tuning"] is None


def test_train_cli_says_what_the_session_model_chose(store: str, tmp_path: Path) -> None:
    from omotenashi.cli import _load_commands, app

    _load_commands()
    result = CliRunner().invoke(app, ["train", "--model", "itemknn", "--db", store])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "Session model for anonymous visits: sknn on" in said
    assert "held-out sessions" in said and "k=" in said
    as_json = CliRunner().invoke(app, ["train", "--model", "itemknn", "--db", store, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["session"]["tuning"]["settings_tried"] > 1


def test_no_session_model_where_events_have_no_times(tmp_path: Path) -> None:
    """A ratings file imported with one time for every row has no visits: `train` fits no
    session model (a "session" would be a whole history in file order, 60 ratings; or 8, as
    short as real visits), removes one saved before, and anonymous visits get the main model's
    answers."""
    import pandas as pd

    from omotenashi.cli import _load_commands, app
    from omotenashi.recommend import make_model, save_model

    rng = np.random.default_rng(1)
    lines = ["user,item,rating"]
    for c in range(40):
        lines += [f"u{c},m{i},{rng.integers(3, 6)}" for i in rng.choice(90, 60, replace=False)]
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(lines) + "\n")
    db = str(tmp_path / "store.db")
    with Omotenashi(db) as om:
        om.import_events(
            path, mapping="customer=user,item=item,rating=rating", default_time="2024-05-01"
        )
        earlier = pd.DataFrame({"user_id": ["s1", "s1", "s2"], "item_id": ["m1", "m2", "m3"]})
        save_model(make_model("sknn", tune=False).fit(earlier), om.root)
        messages: list[str] = []
        info = om.training.train("itemknn", budget=0, progress=lambda m, d, t: messages.append(m))
        assert info["session"]["model"] is None
        assert "every event has the same time" in info["session"]["skipped"]
        assert messages[-1] == "no session model"
        assert not (Path(om.root) / "models" / "sknn").exists()
        main, _ = om.recommendations.model()
        visit = om.recommendations.for_session(["m1", "m2"], 3)
        expected = main.recommend_session(["m1", "m2"], 3)
        assert [r.item_id for r in visit] == [r.item_id for r in expected]
    _load_commands()
    result = CliRunner().invoke(app, ["train", "--model", "itemknn", "--budget", "0", "--db", db])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "No session model: every event has the same time" in said
    short = tmp_path / "short.csv"  # 8 ratings each: visit-sized, still all at one time
    short.write_text(
        "\n".join(lines[:1] + [lines[1 + 60 * c + i] for c in range(40) for i in range(8)])
    )
    with Omotenashi(str(tmp_path / "short.db")) as om:
        om.import_events(
            short, mapping="customer=user,item=item,rating=rating", default_time="2024-05-01"
        )
        info = om.training.train("itemknn", budget=0)
    assert info["session"]["model"] is None, info["session"]
    assert "every event has the same time" in info["session"]["skipped"]


def test_no_session_model_where_each_visit_is_a_whole_history(tmp_path: Path) -> None:
    """Times taken from a file's order (one second apart): each customer's ratings form one
    "visit" of dozens of events. Longer than MAX_MEDIAN_VISIT at the median, those are
    histories, not visits; one event fewer each and the session model is fitted. Anonymous
    visits with dates for times (no order within a day) are visits too."""
    from omotenashi.services._training import MAX_MEDIAN_VISIT

    def store(per_customer: int) -> str:
        rows, t = ["user,item,time"], 0
        for c in range(30):
            for i in range(per_customer):
                t += 1
                rows.append(
                    f"u{c},m{(c + i) % 80},2024-01-01T{t // 3600:02d}:"
                    f"{t // 60 % 60:02d}:{t % 60:02d}Z"
                )
        path = tmp_path / f"file-order-{per_customer}.csv"
        path.write_text("\n".join(rows) + "\n")
        db = str(tmp_path / f"{per_customer}.db")
        with Omotenashi(db) as om:
            om.import_events(path, mapping="customer=user,item=item,time=time")
        return db

    with Omotenashi(store(MAX_MEDIAN_VISIT + 1), create=False) as om:
        info = om.training.train("itemknn", budget=0)
    skipped = info["session"]["skipped"]
    assert info["session"]["model"] is None
    assert f"its 30 visits have a median of {MAX_MEDIAN_VISIT + 1} events" in skipped
    with Omotenashi(store(MAX_MEDIAN_VISIT), create=False) as om:
        info = om.training.train("itemknn", budget=0)
    assert info["session"]["model"] == "sknn" and info["session"]["sessions"] == 30
    clicks = ["visit,item,day"] + [
        f"v{v},i{(v + k) % 40},2024-02-{1 + v % 20:02d}" for v in range(300) for k in range(4)
    ]
    path = tmp_path / "clicks.csv"
    path.write_text("\n".join(clicks) + "\n")
    with Omotenashi(str(tmp_path / "clicks.db")) as om:
        om.import_events(path, mapping="anonymous=visit,item=item,time=day")
        info = om.training.train("itemknn", budget=0)
    assert info["session"]["model"] == "sknn" and info["session"]["sessions"] == 300
