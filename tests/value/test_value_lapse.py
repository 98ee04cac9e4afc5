"""Lapse risk: features and labels by hand, calibration on simulated visits, Synthea encounters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omotenashi.errors import DataError, NotFittedError
from omotenashi.value import (
    LapseRisk,
    calibration_table,
    lapse_backtest,
    lapse_features,
    lapse_labels,
)


def _tx(rows):
    return pd.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "timestamp": pd.to_datetime([r[1] for r in rows], utc=True),
            "value": 0.0,
        }
    )


def test_features_and_labels_by_hand():
    tx = _tx(
        [
            ("a", "2024-01-01"),
            ("a", "2024-01-11"),
            ("a", "2024-01-21"),
            ("b", "2024-01-15"),
            ("a", "2024-02-05"),
            ("b", "2024-04-01"),
        ]
    )
    f = lapse_features(tx, "2024-01-31")
    assert f.loc["a", "recency_days"] == 10
    assert f.loc["a", "tenure_days"] == 30
    assert f.loc["a", "log_n"] == pytest.approx(np.log(3))
    assert f.loc["a", "overdue"] == pytest.approx(10 / 10)  # mean gap 10 days
    assert f.loc["b", "log_gap"] == pytest.approx(np.log(16 + 1))  # one visit: tenure + 1
    y = lapse_labels(tx, "2024-01-31", 30, f.index)
    assert y.to_dict() == {"a": 0, "b": 1}  # b's next visit is 61 days later


def _simulated_visits(n=600, seed=0):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-01", tz="UTC")
    rows = []
    for i in range(n):
        rate = rng.gamma(2.0, 1 / 40.0)  # visits per day, mean 0.05
        first = rng.uniform(0, 200)
        life = rng.exponential(300.0)  # days until the patient stops coming
        end = min(first + life, 730.0)
        t = first
        rows.append((f"p{i}", start + pd.Timedelta(days=t)))
        while True:
            t += rng.exponential(1 / rate)
            if t > end:
                break
            rows.append((f"p{i}", start + pd.Timedelta(days=t)))
    return pd.DataFrame(rows, columns=["person_id", "timestamp"]).assign(value=0.0)


def test_backtest_on_simulated_visits_is_calibrated_and_discriminates():
    tx = _simulated_visits()
    result = lapse_backtest(tx, "2023-12-31", horizon_days=60)
    sup = result.supervised
    assert result.test_start == "2023-11-01"
    assert sup["auc"] > 0.75
    assert abs(sup["mean_predicted"] - sup["observed_rate"]) < 0.08
    assert sup["ece"] < 0.1
    assert sup["brier"] < sup["observed_rate"] * (1 - sup["observed_rate"])  # beats base rate
    assert result.bgnbd is not None and result.bgnbd["auc"] > 0.75
    assert sup["coef"]["recency_days"] > 0  # longer silence, higher risk


def test_lapse_risk_errors():
    tx = _tx([("a", "2024-01-01"), ("a", "2024-01-02")])
    with pytest.raises(NotFittedError):
        LapseRisk().predict_proba(tx, "2024-01-02")
    with pytest.raises(DataError, match="horizon_days must be positive"):
        LapseRisk(horizon_days=0).fit(tx, "2024-03-01")
    with pytest.raises(DataError, match="cannot be learnt"):
        LapseRisk(horizon_days=30).fit(tx, "2024-03-01")


def test_calibration_table_by_hand():
    table = calibration_table(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 1, 1, 1]), bins=2)
    assert table["n"].tolist() == [2, 2]
    assert table["mean_predicted"].tolist() == pytest.approx([0.15, 0.85])
    assert table["observed_rate"].tolist() == pytest.approx([0.5, 1.0])


@pytest.mark.dataset
def test_synthea_encounters_backtest_runs(datasets):
    enc = pd.read_csv(datasets / "synthea" / "encounters.csv", usecols=["PATIENT", "START"])
    tx = pd.DataFrame(
        {
            "person_id": enc["PATIENT"],
            "timestamp": pd.to_datetime(enc["START"], utc=True, format="ISO8601"),
            "value": 0.0,
        }
    )
    result = lapse_backtest(tx, "2021-12-31", horizon_days=365).to_dict()
    sup = result["supervised"]
    assert 0 < sup["n"] <= 59
    assert 0.0 <= sup["mean_predicted"] <= 1.0 and 0.0 <= sup["ece"] <= 1.0
    assert sum(row["n"] for row in sup["calibration"]) == sup["n"]
