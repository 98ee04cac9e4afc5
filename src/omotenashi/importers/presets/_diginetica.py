"""Preset ``diginetica``: DIGINETICA (CIKM Cup 2016) item-view sessions.

Why a preset: a view's time is split into a date and milliseconds since the session start, and
the shopper is a session that is sometimes, not always, tied to a logged-in user.

* each line is a ``view`` on channel ``web`` of ``item_id``;
* the anonymous id is ``session-<session_id>``; the customer id is ``user_id`` unless it is
  ``NA``; a view that carries both links the session to the user (the store's identity rules),
  so the user's profile also holds the session's views logged before sign-in;
* time = ``eventdate`` at UTC midnight + ``timeframe`` milliseconds (the data set gives no time
  zone; the order of views within a session is what matters);
* the sample has no catalogue (the full data set's product files are not in it).

This module is the one home of the data set's layout: the import plan and
:func:`load_diginetica`, the reader of the views as click streams for the session evaluation
(protocol S1), with the same file reader and the same time rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from omotenashi.errors import DataError
from omotenashi.files import CsvOptions, read_table
from omotenashi.importers._plan import EventSource, ImportPlan
from omotenashi.ingest import EventDefaults

FILE_NAMES = ("sample_train-item-views.csv", "train-item-views.csv")
COLUMNS = ("session_id", "user_id", "item_id", "timeframe", "eventdate")
SESSION_PREFIX = "session-"
TIME_COLUMN = "eventdate+timeframe"  # named so that an error names both fields
ANONYMOUS_COLUMN = "__session__"


def _main_file(path: Path) -> Path:
    if path.is_dir():
        for name in FILE_NAMES:
            if (path / name).exists():
                return path / name
        raise DataError(
            f"{path}: no {' or '.join(map(repr, FILE_NAMES))} in this folder", field="file"
        )
    return path


def view_times(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the view time (ISO, UTC) and the session's anonymous id to a chunk of the file.

    Parameters
    ----------
    frame : DataFrame
        Rows of the file as text, with the columns ``session_id``, ``eventdate`` and
        ``timeframe``.

    Returns
    -------
    DataFrame
        The same rows with the column ``eventdate+timeframe`` (the view time; a row whose date
        or milliseconds cannot be read holds both as written, so the import error shows them)
        and ``__session__`` (``session-<id>``).

    Raises
    ------
    DataError
        A column of the layout is missing.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"column(s) {', '.join(map(repr, missing))} not in the file; a DIGINETICA item-view "
            f"file has {';'.join(COLUMNS)}",
            field="file",
        )
    dates = pd.to_datetime(
        frame["eventdate"].astype("object"), format="%Y-%m-%d", errors="coerce", utc=True
    )
    millis = pd.to_numeric(frame["timeframe"], errors="coerce")
    good = dates.notna() & millis.notna() & (millis >= 0)
    times = dates + pd.to_timedelta(millis.where(good, 0), unit="ms")
    iso = times.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    frame[TIME_COLUMN] = iso.where(
        good,
        frame["eventdate"].astype("object") + " +" + frame["timeframe"].astype("object") + " ms",
    )
    session = frame["session_id"].astype("object").str.strip()
    frame[ANONYMOUS_COLUMN] = (SESSION_PREFIX + session).where(session != "")
    return frame


def plan(path: Path) -> ImportPlan:
    """The import plan of a DIGINETICA item-views file or of its folder.

    Parameters
    ----------
    path : Path
        ``sample_train-item-views.csv`` (or the full ``train-item-views.csv``) or its folder.

    Returns
    -------
    ImportPlan
        One view event per line; sessions with a user id are linked to that user.

    Raises
    ------
    DataError
        A folder without the file.
    """
    main = _main_file(path)
    source = EventSource(
        path=main,
        mapping={
            "customer": "user_id",
            "anonymous": ANONYMOUS_COLUMN,
            "item": "item_id",
            "time": TIME_COLUMN,
        },
        defaults=EventDefaults(type="view", channel="web"),
        csv=CsvOptions(sep=";"),
        transform=view_times,
    )
    return ImportPlan(sources=[source], name=f"diginetica:{main.name}")


def load_diginetica(path: Path | str) -> pd.DataFrame:
    """Read a DIGINETICA item-views file (or its folder) as click streams.

    Time is ``eventdate`` at UTC midnight plus ``timeframe`` milliseconds, as in the import.

    Returns
    -------
    pandas.DataFrame
        Columns ``session_id`` (int), ``item_id`` (str), ``customer_id`` (str or None),
        ``timestamp`` (datetime64, UTC) and ``date`` (the event date).

    Raises
    ------
    DataError
        A missing file or a column of the layout missing.
    """
    main = _main_file(Path(path))
    options = CsvOptions(sep=";", text=False, dtypes=(("item_id", "str"), ("user_id", "str")))
    raw = read_table(main, options, field="data")
    missing = [c for c in ("session_id", "item_id", "timeframe", "eventdate") if c not in raw]
    if missing:
        raise DataError(
            f"{main}: column(s) {', '.join(map(repr, missing))} missing; a DIGINETICA item-view "
            f"file has {';'.join(COLUMNS)}",
            field=missing[0],
        )
    date = pd.to_datetime(raw["eventdate"], utc=True)
    return pd.DataFrame(
        {
            "session_id": raw["session_id"].astype(np.int64),
            "item_id": raw["item_id"].astype(str),
            "customer_id": raw["user_id"].where(raw["user_id"].notna(), None),
            "timestamp": date + pd.to_timedelta(raw["timeframe"], unit="ms"),
            "date": date,
        }
    )
