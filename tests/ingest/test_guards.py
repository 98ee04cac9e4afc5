"""Guards of the one ingest rule: the plausible-time window, clean ids and shallow contexts.

Every way in (``track``, ``track_many``, file imports, the CLI; the HTTP route in
``tests/api/test_guards.py``) refuses the same events with the field named, and ids are
normalised the same way when written and when looked up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from omotenashi import DataError, ImportRowError, Omotenashi
from omotenashi.events import Event

from ..cli.test_core import cli
from ..conftest import write_csv

MAX_CONTEXT_DEPTH = 32  # the documented limit (omotenashi.events.MAX_CONTEXT_DEPTH)
GOOD = {"customer_id": "c1", "type": "view", "item_id": "i1", "timestamp": "2011-06-01"}


def _deep(levels: int) -> dict:
    value: object = 1
    for _ in range(levels - 1):
        value = {"k": value}
    return {"k": value}


@pytest.fixture
def engine(tmp_path: Path) -> Omotenashi:
    om = Omotenashi(tmp_path / "store.db")
    yield om
    om.close()


# -- the plausible-time window ------------------------------------------------------------------
@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "2300-01-01", "1899-12-31T23:59:59Z"])
def test_implausible_times_are_refused_on_track(engine: Omotenashi, when: str) -> None:
    engine.track(GOOD)
    before = engine.profile("c1").model_dump()
    with pytest.raises(DataError, match="timestamp") as info:
        engine.track({**GOOD, "timestamp": when})
    assert info.value.field == "timestamp"
    with pytest.raises(DataError, match=r"events\[1\]\.timestamp"):
        engine.track_many([GOOD, {**GOOD, "timestamp": when}])
    # nothing stored, so the store's "now" (and every recency) is what it was
    assert engine.stats()["events"] == 1
    assert engine.profile("c1").model_dump() == before


def test_the_window_keeps_plausible_times_and_is_configurable(
    engine: Omotenashi, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.track({**GOOD, "timestamp": "1900-01-01T00:00:00Z"})  # the earliest allowed
    soon = pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=20)  # a clock running ahead
    engine.track({**GOOD, "timestamp": soon.isoformat()})
    monkeypatch.setenv("OMOTENASHI_MAX_FUTURE", "1h")
    with pytest.raises(DataError, match="OMOTENASHI_MAX_FUTURE"):
        engine.track({**GOOD, "timestamp": soon.isoformat()})
    monkeypatch.setenv("OMOTENASHI_EARLIEST", "1800-01-01")
    engine.track({**GOOD, "timestamp": "1850-06-01"})
    monkeypatch.setenv("OMOTENASHI_MAX_FUTURE", "soon")
    with pytest.raises(DataError, match="OMOTENASHI_MAX_FUTURE"):
        engine.track(GOOD)
    assert engine.stats()["events"] == 3


def test_imports_name_the_line_of_an_implausible_time(engine: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "t.csv",
        "user,item,when\nu1,a,2011-01-01\nu2,b,9999-12-31T23:59:59Z\nu3,c,1850-01-01\n",
    )
    with pytest.raises(ImportRowError, match=r"t\.csv, line 3, field 'when'.*future") as info:
        engine.import_events(path, mapping="customer=user,item=item,time=when")
    assert info.value.line == 3
    assert engine.stats()["events"] == 0
    report = engine.import_events(
        path, mapping="customer=user,item=item,time=when", skip_bad_rows=True
    )
    assert (report.events_written, report.rejected) == (1, 2)
    side = pd.read_csv(report.rejects_file)
    assert side["line"].tolist() == [3, 4]
    assert side["field"].tolist() == ["when", "when"]
    assert "future" in side["reason"].iloc[0] and "before 1900-01-01" in side["reason"].iloc[1]


# -- ids ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["customer_id", "anonymous_id", "item_id", "order_id"])
@pytest.mark.parametrize("bad", ["12\x00347", "12\n347", "a\x7fb", "tab\there"])
def test_control_characters_in_ids_are_refused(engine: Omotenashi, field: str, bad: str) -> None:
    with pytest.raises(DataError, match=field) as info:
        engine.track({**GOOD, field: bad})
    assert info.value.field == field
    assert engine.stats()["events"] == 0


def test_imports_refuse_control_characters_in_ids(engine: Omotenashi, tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("user,item,when\nu1,a,2011-01-01\nu\x002,b,2011-01-02\n", encoding="utf-8")
    with pytest.raises(ImportRowError, match=r"line 3, field 'user'.*control") as info:
        engine.import_events(path, mapping="customer=user,item=item,time=when")
    assert info.value.line == 3


def test_ids_are_normalised_on_write_and_on_read(engine: Omotenashi, tmp_path: Path) -> None:
    engine.track({**GOOD, "customer_id": " 12347 ", "anonymous_id": "  dev-1"})
    assert engine.profile("12347").customer_id == "12347"
    assert engine.profile(" 12347 ").customer_id == "12347"
    assert engine.profile("\t12347").customer_id == "12347"
    assert engine.timeline(" 12347").events
    assert engine.identities.person(" dev-1 ") == "12347"
    assert engine.recommendations.person(" 12347 ") == "12347"
    with pytest.raises(DataError, match="customer_id"):
        engine.profile("123\x0047")
    done = cli("profile", " 12347", "--json", "--db", str(tmp_path / "store.db"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["customer_id"] == "12347"


# -- context depth -----------------------------------------------------------------------------
def test_deep_context_is_refused_with_the_field_named(engine: Omotenashi) -> None:
    Event(**{**GOOD, "context": _deep(MAX_CONTEXT_DEPTH)})  # at the limit: fine
    with pytest.raises(DataError, match="context") as info:
        engine.track({**GOOD, "context": _deep(MAX_CONTEXT_DEPTH + 1)})
    assert info.value.field == "context"
    with pytest.raises(DataError, match="context"):
        engine.track({**GOOD, "context": {"list": [[[[1]]]] * 2, "deep": _deep(5000)}})


@pytest.mark.parametrize("levels", [MAX_CONTEXT_DEPTH + 1, 100_000])
def test_cli_track_of_deep_context_is_one_line(tmp_path: Path, levels: int) -> None:
    line = json.dumps({k: v for k, v in GOOD.items()})[:-1] + ', "context": '
    line += '{"k": ' * levels + "1" + "}" * levels + "}"
    done = cli("track", "--db", str(tmp_path / "s.db"), cwd=tmp_path, stdin=line + "\n")
    assert done.returncode == 2  # bad input
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    assert "context" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_identity_calls_normalise_their_ids(engine: Omotenashi) -> None:
    engine.track({**GOOD, "customer_id": "12347"})
    engine.track({**GOOD, "customer_id": "99999"})
    assert engine.identify(" 12347 ", " dev-9 ").customer_id == "12347"
    assert engine.identities.person("dev-9") == "12347"
    assert engine.merge(" 12347", "99999 ").customer_id == "12347"
    assert engine.identities.person("99999") == "12347"
    with pytest.raises(DataError, match="email"):
        engine.identify("12347", None, email="a\x00@example.com")
