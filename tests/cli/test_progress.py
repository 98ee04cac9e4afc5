"""Progress that tells the truth: what a bar counts is what the service iterates, a bar ends
where the work really ended, and the figures printed at the end match the data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omotenashi import Omotenashi

from ..conftest import write_csv

EVENTS = """
customer,anon,item,time,order,qty,price
c1,,i1,2024-01-01T10:00:00Z,o1,1,5
c1,,i2,2024-01-02T10:00:00Z,o2,1,6
c2,,i1,2024-01-03T10:00:00Z,o3,2,5
c2,,i3,2024-01-04T10:00:00Z,o4,1,7
c3,,i2,2024-01-05T10:00:00Z,o5,1,6
c3,,i3,2024-01-06T10:00:00Z,o6,1,7
,a1,i1,2024-01-07T10:00:00Z,,1,
,a1,i4,2024-01-07T10:05:00Z,,1,
,a2,i3,2024-01-08T10:00:00Z,,1,
,a2,i4,2024-01-08T10:05:00Z,,1,
"""
MAP = "customer=customer,anonymous=anon,item=item,time=time,order=order,quantity=qty,price=price"


@pytest.fixture()
def store(tmp_path: Path) -> str:
    """Three customers and two anonymous visitors who never logged in (the model knows five
    people, the batch is for the three customers)."""
    db = str(tmp_path / "store.db")
    with Omotenashi(db) as om:
        om.import_events(write_csv(tmp_path / "events.csv", EVENTS), mapping=MAP)
        om.training.train("itemknn", session_model=False)
    return db


def test_recommend_all_customers_counts_what_it_scores(store: str) -> None:
    totals: list[int] = []
    done: list[int] = []
    with Omotenashi(store, create=False) as om:
        estimator, _ = om.recommendations.model()
        assert len(estimator.user_ids_) == 5  # anonymous visitors are people of the model
        frame = om.recommendations.for_all_customers(2, progress=done.append, total=totals.append)
        announced = om.recommendations.model_customers()
    assert totals == [3] and announced == 3
    assert sum(done) == 3  # the bar ends at its total
    assert sorted(frame["customer_id"].unique()) == ["c1", "c2", "c3"]


def test_recommend_all_customers_cli_bar_ends_at_its_total(store: str, tmp_path: Path) -> None:
    from omotenashi.cli import _load_commands, app

    _load_commands()
    out = tmp_path / "recs.csv"
    result = CliRunner().invoke(
        app, ["recommend", "--all-customers", "-n", "2", "--out", str(out), "--db", store]
    )
    assert result.exit_code == 0, result.output
    assert "3/3 customers" in result.stderr
    assert "for 3 customers" in result.stdout


def test_import_progress_counts_the_file_rows_then_names_the_writing(tmp_path: Path) -> None:
    calls: list[tuple[str, object]] = []
    path = write_csv(tmp_path / "events.csv", EVENTS)
    with Omotenashi(str(tmp_path / "s.db")) as om:
        report = om.import_events(
            path,
            mapping=MAP,
            progress=lambda n: calls.append(("rows", n)),
            phase=lambda text: calls.append(("phase", text)),
        )
    rows = sum(n for kind, n in calls if kind == "rows")
    assert rows == report.rows_read == 10
    last_rows = max(i for i, (kind, _) in enumerate(calls) if kind == "rows")
    after = [text for kind, text in calls[last_rows + 1 :] if kind == "phase"]
    # what happens after the last row is read is named, up to the commit
    assert after[0] == "writing the events to the store"
    assert after[-1] == "committing"


def test_import_items_and_customers_report_the_rows_they_read(tmp_path: Path) -> None:
    items = write_csv(tmp_path / "items.csv", "item,title,price\na,Apple,1.5\nb,Bread,2\n")
    people = write_csv(tmp_path / "people.csv", "id,country\nc1,JP\nc2,FR\nc3,JP\n")
    phases: list[str] = []
    with Omotenashi(str(tmp_path / "s.db")) as om:
        report = om.import_items(items, mapping="item=item,title=title,price=price")
        assert (report.rows_read, report.items_written) == (2, 2)
        report = om.import_customers(people, mapping="customer=id", phase=phases.append)
        assert (report.rows_read, report.customers_written) == (3, 3)
    assert phases[-1] == "committing"

    from omotenashi.cli import _load_commands, app

    _load_commands()
    result = CliRunner().invoke(
        app,
        ["import-items", str(items), "--map", "item=item,title=title", "--db", str(tmp_path / "t")],
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())  # the line may wrap at 80 columns
    assert "2 rows read, 2 items created or changed" in said
    assert "events" not in said  # a catalogue import writes no events


def test_train_reports_its_steps_and_the_whole_time(store: str) -> None:
    from omotenashi.cli import _load_commands, app

    _load_commands()
    result = CliRunner().invoke(app, ["train", "--model", "itemknn", "--db", store])
    assert result.exit_code == 0, result.output
    assert "loading the events" in result.stderr
    # the service's numbered steps (fitting the model, the session model) are one counted line
    # that ends at its last step
    assert "2/2 steps" in result.stderr
    found = re.search(
        r"in ([\d.]+) s \(fitting the chosen model on all data: ([\d.]+) s\)",
        " ".join(result.stdout.split()),
    )
    assert found, result.stdout
    total, fit = map(float, found.groups())
    assert total >= fit


def test_simulator_and_log_progress_end_at_the_rounds_run() -> None:
    from omotenashi.services import Decisions

    seen: list[int] = []
    Decisions.simulate("uniform", 1500, progress=seen.append)
    assert seen[-1] == 1500  # not 1000: the last 500 rounds count too


def test_steps_close_a_counted_step_at_what_was_done() -> None:
    """A total that was an estimate (lines of a file) is not shown as reached: the step ends at
    the units really done."""
    from rich.console import Console

    from omotenashi.cli import _common

    console = Console(record=True, width=80, force_terminal=False)
    original = _common.err_console
    _common.err_console = console
    try:
        with _common.steps() as shown:
            shown.count("reading", 10, "rows")
            shown(7)
            shown.phase("writing")
    finally:
        _common.err_console = original
    text = console.export_text()
    assert "7/7 rows" in text and "10" not in text
    assert "writing" in text


def test_numbered_steps_are_one_counted_line() -> None:
    """A service that numbers its steps (``progress(message, done, total)``) shows one line that
    ends at the steps done, its text the last step's."""
    from rich.console import Console

    from omotenashi.cli import _common

    console = Console(record=True, width=80, force_terminal=False)
    original = _common.err_console
    _common.err_console = console
    try:
        with _common.steps() as shown:
            shown.phase("loading", None, None)
            shown.phase("tuning ease", 1, 6)
            shown.phase("tuning als", 4, 5)  # a search that needs fewer steps than planned
            shown.phase("fitted ease", 5, 5)
    finally:
        _common.err_console = original
    text = console.export_text()
    assert "loading" in text and "fitted ease" in text and "5/5 steps" in text
    assert "tuning" not in text  # one line for the steps, showing the last
