"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    import pandas as pd

console = Console()
err_console = Console(stderr=True)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="OMOTENASHI_DB",
        help="Store: a file path or URL (sqlite:///file.db). Default: ./omotenashi.db.",
        show_envvar=True,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _default(value: Any) -> Any:
    # numpy and pandas values exist only once those libraries are loaded: look them up instead
    # of importing them, so that printing JSON costs no start-up time
    np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
    if isinstance(value, datetime | date):  # pandas' Timestamp (and NaT) are datetimes
        return value.isoformat()
    if np is not None and isinstance(value, np.integer):
        return int(value)
    if np is not None and isinstance(value, np.floating):
        return None if math.isnan(value) else float(value)
    if np is not None and isinstance(value, np.ndarray):
        return value.tolist()
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return None
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return str(value)


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout (NaN becomes null)."""
    text = json.dumps(_clean(data), default=_default, ensure_ascii=False)
    sys.stdout.write(text + "\n")


def _clean(data: Any) -> Any:
    if isinstance(data, float) and math.isnan(data):
        return None
    if isinstance(data, dict):
        return {str(k): _clean(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_clean(v) for v in data]
    return data


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts (timestamps as ISO text, NA as None)."""
    import numpy as np
    import pandas as pd

    out = []
    for record in frame.to_dict("records"):
        clean = {}
        for key, value in record.items():
            if (
                value is pd.NA
                or value is pd.NaT
                or (isinstance(value, float) and math.isnan(value))
            ):
                clean[key] = None
            elif isinstance(value, pd.Timestamp):
                clean[key] = value.isoformat()
            else:
                clean[key] = _default(value) if isinstance(value, np.generic) else value
        out.append(clean)
    return out


@contextmanager
def progress_bar(description: str, total: int | None, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr; yields ``advance(n)``."""
    if not enabled:
        yield lambda n: None
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def money(value: float | None) -> str:
    return (
        "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.2f}"
    )
