"""Tables at 80 columns show every figure whole: each number of the ``--json`` output appears
in the table printed for people, never cut with ``…``, and no line is wider than 80."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from omotenashi import Omotenashi

from .conftest import run_cli

TX_MAP = "customer=customer,time=time,value=value,order=order"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A transactions file and a trained store whose money figures run into the millions."""
    folder = tmp_path_factory.mktemp("shop")
    rng = random.Random(7)
    lines = ["customer,item,time,order,qty,value"]
    order = 0
    for c in range(40):
        for _ in range(rng.randint(2, 9)):
            order += 1
            day = rng.randint(1, 330)
            item = f"item-{rng.randint(1, 25)}"
            value = round(rng.uniform(20_000, 400_000), 2)
            lines.append(f"cust-{c:03d},{item},2023-01-01T00:00:00Z,o{order},1,{value}")
            lines[-1] = lines[-1].replace(
                "2023-01-01", (f"2023-{1 + day // 31:02d}-{1 + day % 28:02d}")
            )
    path = folder / "tx.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = str(folder / "shop.db")
    with Omotenashi(db) as om:
        om.import_events(
            path,
            mapping="customer=customer,item=item,time=time,order=order,quantity=qty,value=value",
        )
        om.training.train("itemknn", session_model=False)
    return path, db


def _check_lines(text: str) -> str:
    for line in text.splitlines():
        assert len(line) <= 80, line
        assert "…" not in line, line
    return text


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[\d,.%-]+", text))


def _big(value: float) -> str:
    """How the value commands print a figure of 10,000 or more."""
    return f"{value:,.0f}"


def test_value_report_figures_are_whole_at_80_columns(shop: tuple[Path, str]) -> None:
    path, _ = shop
    args = ["value", "report", "-t", str(path), "--map", TX_MAP, "--top", "5"]
    data = json.loads(run_cli(*args, "--json").stdout)
    ran = run_cli(*args)
    assert ran.code == 0, ran.output
    tokens = _tokens(_check_lines(ran.stdout))
    figures = [data["totals"]["clv"], data["totals"]["historical_value"]]
    figures += [s["value"] for s in data["segments"]] + [s["clv"] for s in data["segments"]]
    figures = [v for v in figures if abs(v) >= 1e4]
    assert max(figures) >= 1e6  # seven-digit figures, the ones that used to be cut
    for value in figures:
        assert _big(value) in tokens, _big(value)


def test_segments_figures_are_whole_at_80_columns(shop: tuple[Path, str]) -> None:
    path, _ = shop
    args = ["segments", "-t", str(path), "--map", TX_MAP, "--kmeans", "0"]
    data = json.loads(run_cli(*args, "--json").stdout)
    ran = run_cli(*args)
    assert ran.code == 0, ran.output
    tokens = _tokens(_check_lines(ran.stdout))
    for row in data["rfm_segments"]:
        assert _big(row["value"]) in tokens
        assert str(row["customers"]) in tokens


def test_customers_figures_are_whole_at_80_columns(shop: tuple[Path, str]) -> None:
    _, db = shop
    data = json.loads(run_cli("customers", "-n", "5", "--json", "--db", db).stdout)
    ran = run_cli("customers", "-n", "5", "--db", db)
    assert ran.code == 0, ran.output
    text = _check_lines(ran.stdout)
    tokens = _tokens(text)
    for row in data:
        assert f"{row['monetary']:,.2f}" in tokens
        assert row["customer_id"] in text


def test_recommend_scores_are_whole_at_80_columns(shop: tuple[Path, str]) -> None:
    _, db = shop
    args = ["recommend", "cust-001", "-n", "5", "--explain", "--db", db]
    data = json.loads(run_cli(*args, "--json").stdout)
    ran = run_cli(*args)
    assert ran.code == 0, ran.output
    text = _check_lines(ran.stdout)
    for row in data["recommendations"]:
        assert f"{row['score']:.4g}" in _tokens(text)
        assert row["item_id"] in text


def test_evaluate_ope_table_is_whole_at_80_columns(tmp_path: Path) -> None:
    rng = random.Random(3)
    lines = ["arm,clicked,p,user_feature_a"]
    for _ in range(300):
        lines.append(f"a{rng.randint(0, 2)},{int(rng.random() < 0.3)},0.3333,{rng.random():.3f}")
    logs = tmp_path / "log.csv"
    logs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = [
        "evaluate", "ope", "--logs", str(logs), "--policy", "uniform", "--n-bootstrap", "50",
        "--map", "action=arm", "--map", "reward=clicked", "--map", "pscore=p",
    ]  # fmt: skip
    rows = [json.loads(line) for line in run_cli(*args, "--json").stdout.splitlines()]
    ran = run_cli(*args)
    assert ran.code == 0, ran.output
    text = _check_lines(ran.stdout)
    for row in rows:
        assert row["estimator"] in text
        assert f"{row['value']:.5g}" in _tokens(text)


def test_a_wide_table_is_split_not_cut() -> None:
    from rich.console import Console

    from omotenashi.cli._common import figure_tables

    headers = ["segment"] + [f"figure_{i}" for i in range(9)]
    rows = [["champions"] + [f"{1_163_400 + i:,}" for i in range(9)]]
    tables = figure_tables("wide", headers, rows, width=80)
    assert len(tables) > 1
    console = Console(width=80, record=True)
    for table in tables:
        console.print(table)
    text = _check_lines(console.export_text())
    for i in range(9):
        assert f"{1_163_400 + i:,}" in text
    assert text.count("champions") == len(tables)  # the key column repeats in every part
