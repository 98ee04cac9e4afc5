"""The value commands (``value fit``, ``value report``, ``segments``) on a transactions file."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from ..value.conftest import make_transactions


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    tx = make_transactions(n=200, seed=1)
    path = tmp_path_factory.mktemp("value") / "orders.csv"
    pd.DataFrame(
        {
            "cust": tx["person_id"],
            "when": tx["timestamp"].dt.strftime("%Y-%m-%d"),
            "amount": tx["value"].round(2),
        }
    ).to_csv(path, index=False)
    return path


def _run(*args):
    from omotenashi.cli import _load_commands, app

    _load_commands()
    return CliRunner().invoke(app, list(args))


def test_cli_value_fit_json_with_holdout(csv_file, tmp_path):
    res = _run(
        "value",
        "fit",
        "--transactions",
        str(csv_file),
        "--map",
        "customer=cust,time=when,value=amount",
        "--freq",
        "D",
        "--calibration-end",
        "2024-05-31",
        "--holdout-end",
        "2024-07-19",
        "--plots",
        str(tmp_path),
        "--json",
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["model"] == "bgnbd"
    assert set(out["params"]) == {"r", "alpha", "a", "b"}
    assert out["fit_s"] >= 0
    assert set(out["holdout"]) >= {"mae", "rmse", "pearson_r", "predicted_total", "actual_total"}
    for name in ("expected_purchases.png", "p_alive.png", "calibration_holdout.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_cli_pareto_report_and_segments(csv_file, tmp_path):
    res = _run(
        "value",
        "fit",
        "-t",
        str(csv_file),
        "--map",
        "customer=cust,time=when",
        "--model",
        "pareto",
        "--json",
    )
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.stdout)["params"]) == {"r", "alpha", "s", "beta"}
    res = _run(
        "value",
        "report",
        "-t",
        str(csv_file),
        "--map",
        "customer=cust,time=when,value=amount",
        "--top",
        "2",
        "--plots",
        str(tmp_path),
        "--json",
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert len(report["top_customers"]) == 2
    assert (tmp_path / "segment_sizes.png").exists()
    res = _run(
        "segments",
        "-t",
        str(csv_file),
        "--map",
        "customer=cust,time=when,value=amount",
        "--rule",
        "big: monetary > 100",
        "--kmeans",
        "3",
        "--json",
    )
    assert res.exit_code == 0, res.output
    seg = json.loads(res.stdout)
    assert sum(s["customers"] for s in seg["rfm_segments"]) == seg["customers"]
    assert len(seg["kmeans"]) == 3 and all(k["description"] for k in seg["kmeans"])
    assert seg["rule_segments"][0]["segment"] == "big"
    res = _run(
        "value", "report", "-t", str(csv_file), "--map", "customer=cust,time=when,value=amount"
    )
    assert res.exit_code == 0 and "RFM segments" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "customer=cust"], "time=COLUMN is required"),
        (["--map", "customer=cust,time=nope"], "lacks column"),
        ([], "needs --map"),
        (["--map", "customer=cust,time=when", "--model", "gamma"], "model must be"),
    ],
)
def test_cli_errors_are_clear(csv_file, args, message):
    res = _run("value", "fit", "-t", str(csv_file), *args)
    assert res.exit_code == 2  # bad input, as for every command
    assert message in " ".join(res.output.split())


def test_cli_reads_decimal_commas_and_encodings(csv_file, tmp_path):
    """The same orders written the European way (cp1252, ';', decimal commas) fit the same."""
    frame = pd.read_csv(csv_file, dtype={"cust": str})
    frame["amount"] = frame["amount"].map(lambda v: f"{v:.2f}".replace(".", ","))
    euro = tmp_path / "orders-eu.csv"
    frame.to_csv(euro, sep=";", index=False, encoding="cp1252")
    mapping = "customer=cust,time=when,value=amount"
    plain = _run("value", "fit", "-t", str(csv_file), "--map", mapping, "--json")
    assert plain.exit_code == 0, plain.output
    european = _run(
        "value", "fit", "-t", str(euro), "--map", mapping, "--sep", ";", "--decimal", ",",
        "--encoding", "cp1252", "--json",
    )  # fmt: skip
    assert european.exit_code == 0, european.output
    fitted, expected = json.loads(european.stdout), json.loads(plain.stdout)
    fitted.pop("fit_s"), expected.pop("fit_s")  # timing
    assert fitted == expected
