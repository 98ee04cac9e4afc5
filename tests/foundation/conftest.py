from __future__ import annotations

from pathlib import Path

import pytest

from omotenashi import Omotenashi

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO / ".." / "shared" / "datasets"
ONLINE_RETAIL = DATASETS / "online-retail" / "Online Retail.parquet"


@pytest.fixture
def om(db_url: str) -> Omotenashi:
    """An engine on a new store, once per backend (SQLite file, PostgreSQL database)."""
    engine = Omotenashi(db_url)
    yield engine
    engine.close()


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def retail_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole Online Retail file imported once with its preset (shared by slow tests)."""
    if not ONLINE_RETAIL.exists():
        pytest.fail(f"dataset missing: {ONLINE_RETAIL} (the shared datasets must be present)")
    path = tmp_path_factory.mktemp("retail") / "retail.db"
    with Omotenashi(path) as engine:
        engine.import_events(ONLINE_RETAIL, preset="online-retail")
    return path
