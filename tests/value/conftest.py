"""Shared fixtures of the value tests: dataset paths and the CDNOW sample transactions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from omotenashi.value import transactions_from_frame

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
