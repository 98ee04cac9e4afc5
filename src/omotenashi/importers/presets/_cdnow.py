"""Preset ``cdnow``: the CDNOW purchase history used throughout the CLV literature.

Why a preset: the files are whitespace-aligned with CRLF ends, dates are ``YYYYMMDD`` (which a
generic reader would take for Unix seconds) and the 1/10 sample has an extra column.

* ``CDNOW_master.txt`` (one header line: customer id, date, CDs, dollars) and
  ``CDNOW_sample.txt`` (no header: master id, sample id, date, CDs, dollars) are told apart by
  their first line, not by their names;
* each line is a ``purchase`` on channel ``web`` at UTC midnight of its date, ``quantity`` = CDs,
  ``value`` = dollars; the file has no item and no order id, so every line counts as one order
  in RFM (lines of one customer on one day stay separate lines, as in the literature);
* in the sample the customer is the sample id (``0001`` .. ``2357``) and the master id is kept as
  ``context.master_id`` and as the customer attribute ``master_id``;
* there is no catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from omotenashi.errors import DataError
from omotenashi.files import CsvOptions, read_table
from omotenashi.importers._plan import EventSource, ImportPlan
from omotenashi.ingest import EventDefaults

MASTER_COLUMNS = ("customer_id", "date", "number_of_cds", "dollar_value")
SAMPLE_COLUMNS = ("master_id", "customer_id", "date", "number_of_cds", "dollar_value")


def _main_file(path: Path) -> Path:
    if path.is_dir():
        for name in ("CDNOW_master.txt", "CDNOW_sample.txt"):
            if (path / name).exists():
                return path / name
        raise DataError(
            f"{path}: no 'CDNOW_master.txt' or 'CDNOW_sample.txt' in this folder", field="file"
        )
    return path


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def file_layout(path: Path) -> tuple[str, CsvOptions]:
    """Which CDNOW file this is, from its first line.

    Parameters
    ----------
    path : Path
        ``CDNOW_master.txt``, ``CDNOW_sample.txt`` or a file in one of their layouts.

    Returns
    -------
    tuple of (str, CsvOptions)
        ``"master"`` or ``"sample"`` and how to read the file.

    Raises
    ------
    DataError
        The first line has neither layout.
    """
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        first = handle.readline()
    tokens = first.split()
    if tokens and not all(_is_number(t) for t in tokens):
        if [t.lower() for t in tokens] != list(MASTER_COLUMNS):
            raise DataError(
                f"{path}, line 1: header {' '.join(tokens)!r}; the CDNOW master file's header is "
                f"{' '.join(MASTER_COLUMNS)!r}",
                field="file",
            )
        return "master", CsvOptions(whitespace=True, header=True)
    if len(tokens) == len(SAMPLE_COLUMNS):
        return "sample", CsvOptions(whitespace=True, header=False, names=SAMPLE_COLUMNS)
    if len(tokens) == len(MASTER_COLUMNS):
        return "master", CsvOptions(whitespace=True, header=False, names=MASTER_COLUMNS)
    raise DataError(
        f"{path}, line 1: {len(tokens)} fields; a CDNOW file has 4 (customer id, date, CDs, "
        "dollars) or 5 (master id, sample id, date, CDs, dollars)",
        field="file",
    )


def _iso_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """``YYYYMMDD`` → ISO date. An unreadable date becomes ``'<as written> (not YYYYMMDD)'``:
    the import then rejects that line with its value (and cannot mistake it for Unix seconds)."""
    raw = frame["date"].astype("object")
    parsed = pd.to_datetime(raw, format="%Y%m%d", errors="coerce")
    frame["date"] = parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), raw + " (not YYYYMMDD)")
    return frame


def _sample_customers(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    options = CsvOptions(
        whitespace=True,
        header=False,
        names=SAMPLE_COLUMNS,
        text=False,
        dtypes=tuple((c, "str") for c in SAMPLE_COLUMNS),
    )
    frame = read_table(path, options, columns=("master_id", "customer_id"))
    pairs = frame.drop_duplicates(["customer_id", "master_id"])
    for customer, master in zip(pairs["customer_id"], pairs["master_id"], strict=True):
        yield str(customer), {"master_id": str(master)}


def plan(path: Path) -> ImportPlan:
    """The import plan of a CDNOW file (master or sample) or of the folder holding them.

    Parameters
    ----------
    path : Path
        ``CDNOW_master.txt``, ``CDNOW_sample.txt`` or their folder (the master file is preferred).

    Returns
    -------
    ImportPlan
        One purchase event per line; for the sample, customers with their master id.

    Raises
    ------
    DataError
        A folder without CDNOW files, or a file in neither layout.
    """
    main = _main_file(path)
    layout, options = file_layout(main)
    mapping = {
        "customer": "customer_id",
        "time": "date",
        "quantity": "number_of_cds",
        "value": "dollar_value",
    }
    if layout == "sample":
        mapping["context.master_id"] = "master_id"
    source = EventSource(
        path=main,
        mapping=mapping,
        defaults=EventDefaults(type="purchase", channel="web"),
        csv=options,
        transform=_iso_dates,
    )
    return ImportPlan(
        sources=[source],
        customers=(lambda: list(_sample_customers(main))) if layout == "sample" else None,
        name=f"cdnow:{main.name}",
    )
