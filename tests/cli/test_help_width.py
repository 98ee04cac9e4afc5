"""Help fits 80 columns: for every command and group (found by walking the command tree, so a
new command is covered without touching this test), ``--help`` at COLUMNS=80 has no line wider
than 80 characters and nothing cut with an ellipsis."""

from __future__ import annotations

import pytest

from .conftest import command_tree, run_cli

PATHS = [path for path, _ in command_tree()]


def test_the_tree_is_walked() -> None:
    assert ("import",) in PATHS and ("value", "report") in PATHS and ("keys", "create") in PATHS
    assert len(PATHS) >= 30


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "omotenashi")
def test_help_fits_80_columns_without_cuts(path: tuple[str, ...]) -> None:
    ran = run_cli(*path, "--help", columns=80)
    assert ran.code == 0, ran.output
    lines = ran.stdout.splitlines()
    assert len(lines) > 3
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    cut = [line for line in lines if "…" in line]
    assert not cut, "\n".join(cut)


def test_long_help_wraps_instead_of_cutting() -> None:
    """What used to be cut (``customer=,anonymous=,item=,time=,order=,quan…``) is all there."""
    text = " ".join(run_cli("import", "--help", columns=80).stdout.split())
    for key in ("customer", "anonymous", "quantity", "event_id", "context.NAME"):
        assert key in text
    assert "customer=CustomerID,item=StockCode,time=InvoiceDate" in text
