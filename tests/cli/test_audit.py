"""``omotenashi audit`` end to end on a small store with customer attributes: the figures agree
with an independent computation from ``recommend --all-customers``, limits give exit code 3,
bad input exit code 2, ``--json`` has the documented shape and ``--plots`` writes PNGs."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

CATEGORIES = ("tea", "coffee", "books", "games")


def _events(n_customers: int = 40, seed: int = 5) -> list[dict]:
    """Each customer mostly picks items of one favourite category, sometimes another one."""
    rng = np.random.default_rng(seed)
    events = []
    for c in range(n_customers):
        favourite = CATEGORIES[c % len(CATEGORIES)]
        for k in range(8):
            category = favourite if rng.random() < 0.75 else CATEGORIES[rng.integers(4)]
            events.append(
                {
                    "event_id": f"e{c}-{k}",
                    "customer_id": f"c{c}",
                    "type": "purchase",
                    "item_id": f"{category}-{rng.integers(10)}",
                    "order_id": f"o{c}-{k}",
                    "value": 5.0,
                    "timestamp": f"2025-02-{1 + k:02d}T10:00:00Z",
                }
            )
    return events


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from omotenashi.cli import _load_commands, app
    from omotenashi.services import Omotenashi

    _load_commands()
    db = tmp_path_factory.mktemp("audit") / "shop.db"
    with Omotenashi(db) as om:
        om.upsert_items(
            {"item_id": f"{cat}-{i}", "title": f"{cat} {i}", "categories": [cat]}
            for cat in CATEGORIES
            for i in range(10)
        )
        om.track_many(_events())
        om.upsert_customers(
            {
                "customer_id": f"c{c}",
                "attributes": {"gender": "FM"[c % 2], **({"age": 15 + c} if c != 7 else {})},
            }
            for c in range(40)
        )
    result = CliRunner().invoke(app, ["train", "--model", "itemknn", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    return app, db


def _gini_by_mean_difference(counts: np.ndarray) -> float:
    diffs = np.abs(counts[:, None] - counts[None, :]).sum()
    return diffs / (2 * len(counts) ** 2 * counts.mean())


def test_audit_json_agrees_with_the_batch_recommendations(trained, tmp_path):
    app, db = trained
    runner = CliRunner()
    recs_file = tmp_path / "recs.csv"
    result = runner.invoke(
        app, ["recommend", "--all-customers", "-n", "5", "--out", str(recs_file), "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(recs_file, dtype={"customer_id": str, "item_id": str})

    result = runner.invoke(
        app,
        ["audit", "-n", "5", "--by", "gender", "--by", "age_band", "--min-group-size", "3",
         "--json", "--db", str(db)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {
        "model", "n", "catalogue_items", "dissimilarity", "windows", "min_group_size",
        "overall", "by", "thresholds", "violations", "passed", "plots",
    }  # fmt: skip
    assert report["model"] == "itemknn:v1" and report["n"] == 5 and report["passed"] is True
    assert report["catalogue_items"] == 40 and report["dissimilarity"] == "category-jaccard"
    overall = report["overall"]
    assert set(overall) >= {
        "customers", "coverage", "gini", "popularity_percentile_recommended",
        "popularity_percentile_history", "popularity_lift", "ild", "narrowing",
        "narrowed_share", "trajectory", "trajectory_customers",
    }  # fmt: skip

    # independent figures from the batch file: coverage and Gini over the 40 catalogue items
    counts = (
        recs["item_id"]
        .value_counts()
        .reindex([f"{cat}-{i}" for cat in CATEGORIES for i in range(10)], fill_value=0)
    )
    assert overall["customers"] == recs["customer_id"].nunique() == 40
    assert overall["coverage"] == pytest.approx((counts > 0).sum() / 40)
    assert overall["gini"] == pytest.approx(_gini_by_mean_difference(counts.to_numpy(float)))
    # ILD by categories: the share of pairs of a list in different categories
    ild = []
    for _, group in recs.groupby("customer_id"):
        cats = [i.split("-")[0] for i in group["item_id"]]
        pairs = [(a, b) for k, a in enumerate(cats) for b in cats[k + 1 :]]
        ild.append(sum(a != b for a, b in pairs) / len(pairs))
    assert overall["ild"] == pytest.approx(np.mean(ild))
    assert overall["narrowing_customers"] == 40  # 8 purchases each: compared on 5 items

    gender = report["by"]["gender"]
    assert set(gender["groups"]) == {"F", "M"} and gender["missing"] == 0
    for label, group in gender["groups"].items():
        members = {f"c{c}" for c in range(40) if "FM"[c % 2] == label}
        shown = recs[recs["customer_id"].isin(members)]["item_id"].nunique()
        assert group["customers"] == 20
        assert group["coverage"] == pytest.approx(shown / 40)
    gap = gender["gaps"]["coverage"]
    values = [g["coverage"] for g in gender["groups"].values()]
    assert gap["gap"] == pytest.approx(max(values) - min(values))
    assert gap["ratio"] == pytest.approx(max(values) / min(values))
    ages = report["by"]["age_band"]
    # ages 15..54 with c7 missing: <18 c0-c2, 18-24 c3-c9 (less c7), 25-34 .. 45-54 ten each
    assert {k: v["customers"] for k, v in ages["groups"].items()} == {
        "<18": 3, "18-24": 6, "25-34": 10, "35-44": 10, "45-54": 10, "(missing)": 1,
    }  # fmt: skip
    assert ages["missing"] == 1 and ages["equal_size"] == 3
    # coverage at equal size by brute force: the mean coverage over every 3 of the 6 people
    members = [f"c{c}" for c in (3, 4, 5, 6, 8, 9)]
    lists = {c: set(recs[recs["customer_id"] == c]["item_id"]) for c in members}
    subsets = list(itertools.combinations(members, 3))
    mean = np.mean([len(set().union(*(lists[c] for c in trio))) / 40 for trio in subsets])
    assert ages["groups"]["18-24"]["coverage_at_equal_size"] == pytest.approx(mean)


def test_a_crossed_limit_exits_with_3_and_names_it(trained, tmp_path):
    app, db = trained
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["audit", "--db", str(db), "--json", "--min-coverage", "1.01", "--max-gini", "1"],
    )
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert report["passed"] is False
    assert [v["threshold"] for v in report["violations"]] == ["min_coverage"]
    assert report["thresholds"] == {"max_gini": 1.0, "min_coverage": 1.01}

    limits = tmp_path / "limits.json"
    limits.write_text(json.dumps({"max_gap": {"gini": 0.0}, "max_gini": 0.999}))
    result = runner.invoke(app, ["audit", "--db", str(db), "--by", "gender", "--thresholds",
                                 str(limits)])  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "limit crossed: gini gap between gender groups" in result.output
    # an option wins over the file: the gap limit raised above any possible gap holds
    result = runner.invoke(
        app,
        ["audit", "--db", str(db), "--by", "gender", "--thresholds", str(limits),
         "--max-gap", "gini=1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "every limit holds" in result.output


def test_bad_input_exits_with_2_in_one_line(trained, tmp_path):
    app, db = trained
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "--db", str(db), "--by", "income"])
    assert result.exit_code == 2
    assert "no customer attribute 'income'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = runner.invoke(app, ["audit", "--db", str(db), "--max-gap", "coverage"])
    assert result.exit_code == 2 and "FIGURE=LIMIT" in result.output
    missing = tmp_path / "none.json"
    result = runner.invoke(app, ["audit", "--db", str(db), "--thresholds", str(missing)])
    assert result.exit_code == 2 and "none.json" in result.output


def test_plots_are_written_as_png(trained, tmp_path):
    app, db = trained
    out = tmp_path / "plots"
    result = CliRunner().invoke(
        app, ["audit", "--db", str(db), "--by", "gender", "--plots", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)["plots"]
    names = sorted(p.split("/")[-1] for p in written)
    assert {"by_gender.png", "exposure_lorenz.png"} <= set(names)
    for path in written:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_audit_without_a_model_says_so(tmp_path):
    from omotenashi.cli import _load_commands, app
    from omotenashi.services import Omotenashi

    _load_commands()
    db = tmp_path / "empty.db"
    with Omotenashi(db) as om:
        om.track_many(_events(4))
    result = CliRunner().invoke(app, ["audit", "--db", str(db)])
    assert result.exit_code == 2  # like every command asked for what is not there (NotFound)
    assert "train" in result.output
