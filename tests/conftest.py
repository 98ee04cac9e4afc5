"""Fixtures shared by every test folder: a real PostgreSQL server for the PostgreSQL backend.

``postgres_server`` (session): see :func:`omotenashi.testing.postgres.server` — the server of
``$OMOTENASHI_TEST_POSTGRES``, else a private cluster on loopback, stopped at the end.
``postgres_url``: a fresh, empty database on it for one test (dropped afterwards).
``db_url``: parametrized over both backends, for tests that must hold on either.
``om``: an engine on a new store of each backend; ``retail_store``: the whole Online Retail file
imported once (slow tests); ``write_csv``: a small CSV file from text.

Without a server the PostgreSQL tests fail, saying why and how to get one: a skipped test checks
nothing, and the PostgreSQL backend is part of the product (``.ci/run`` installs PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omotenashi import Omotenashi
from omotenashi.testing.postgres import ENV_URL, PostgresServer, Unavailable, server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        with server() as found:
            yield found
    except Unavailable as exc:
        pytest.fail(
            f"the PostgreSQL tests need a server: {exc} (install PostgreSQL, e.g. "
            f"`apt-get install postgresql`, or set ${ENV_URL})",
            pytrace=False,
        )


@pytest.fixture
def postgres_url(
    postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh database for one test; its artefacts (models, reports) go under ``tmp_path``."""
    monkeypatch.setenv("OMOTENASHI_ARTEFACTS", str(tmp_path / "artefacts"))
    name = postgres_server.create_database()
    try:
        yield postgres_server.url_of(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new store of each backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return str(request.getfixturevalue("postgres_url"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        default=None,
        help="folder for the dashboard tests' screenshots (default: a pytest tmp folder)",
    )


REPO = Path(__file__).resolve().parents[1]
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
