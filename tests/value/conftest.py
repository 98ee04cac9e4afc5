"""Shared fixtures of the value tests: dataset paths and the CDNOW sample transactions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omotenashi.value import simulate_bgnbd, transactions_from_frame

DATASETS = Path(__file__).resolve().parents[2] / "../shared/datasets"


@pytest.fixture(scope="session")
def datasets() -> Path:
    return DATASETS


@pytest.fixture(scope="session")
def cdnow_sample_transactions() -> pd.DataFrame:
    raw = pd.read_csv(
        DATASETS / "cdnow" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "sample_id", "date", "cds", "value"],
        dtype={"sample_id": str},
    )
    return transactions_from_frame(raw, customer="sample_id", time="date", value="value")


def make_transactions(n=300, seed=0):
    """Daily purchases simulated from a BG/NBD with known parameters (person_id, timestamp,
    value)."""
    sim = simulate_bgnbd(n, 0.8, 20.0, 0.8, 3.0, T=200.0, random_state=seed)
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    rows = []
    for pid, row in sim.iterrows():
        days = [0.0] + sorted(rng.uniform(1, max(row["recency"], 1), int(row["repeat_purchases"])))
        if row["repeat_purchases"]:
            days[-1] = row["recency"]
        for d in days:
            rows.append((pid, start + pd.Timedelta(days=int(d)), float(rng.gamma(4, 10))))
    tx = pd.DataFrame(rows, columns=["person_id", "timestamp", "value"])
    return tx.drop_duplicates(["person_id", "timestamp"])
