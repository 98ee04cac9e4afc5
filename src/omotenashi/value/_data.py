"""From raw activity to the per-customer summaries that value models consume.

Every value model here (BG/NBD, Pareto/NBD, Gamma-Gamma, RFM, lapse risk) starts from the same
two tables: *transactions* (one row per customer and purchase occasion) and the *RFM summary*
(one row per customer: repeat purchases, recency, age T, mean repeat spend, total value).
Building both in one place keeps the counting rules (what is a repeat purchase, how returns
are netted, where the calibration window ends) identical across models, the CLI and the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from omotenashi import files
from omotenashi.errors import DataError
from omotenashi.events import numeric_times, text_times

#: Columns of a transactions frame, in order.
TRANSACTION_COLUMNS = ("person_id", "timestamp", "value")

#: Length of one time unit in days, by ``freq`` code.
_UNIT_DAYS = {"D": 1.0, "W": 7.0}

#: Event types that count as "visit-like" activity for lapse risk.
VISIT_TYPES = frozenset({"visit", "session", "encounter", "app_open", "login", "page_view"})


def unit_days(freq: str) -> float:
    """Length of the time unit ``freq`` in days.

    Parameters
    ----------
    freq : {"D", "W"}
        Day or week.

    Returns
    -------
    float
        1.0 for days, 7.0 for weeks.

    Raises
    ------
    DataError
        If ``freq`` is not one of the codes above.
    """
    try:
        return _UNIT_DAYS[freq]
    except KeyError:
        raise DataError(
            f"freq must be one of {sorted(_UNIT_DAYS)}, got {freq!r}", field="freq"
        ) from None


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{what} lacks column(s) {missing}; it has {list(frame.columns)}", field=missing[0]
        )


def _as_utc(values: pd.Series, field: str) -> pd.Series:
    """Parse ``values`` as UTC timestamps, naming ``field`` when that fails."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values
    else:
        out = text_times(values.astype("string"))  # slashed dates in the one order they show
        bad = out.isna() & values.notna()
        if bad.any():
            raise DataError(
                f"column {field!r}: cannot parse timestamps ({values[bad].iloc[0]!r}, "
                f"{int(bad.sum())} value(s))",
                field=field,
            )
    if out.dt.tz is None:
        out = out.dt.tz_localize("UTC")
    else:
        out = out.dt.tz_convert("UTC")
    if out.isna().any():
        raise DataError(
            f"column {field!r}: {int(out.isna().sum())} missing or unparseable timestamp(s)",
            field=field,
        )
    return out


def to_timestamp(value: object, field: str) -> pd.Timestamp:
    """Parse one date/time given by a user (str, date, Timestamp) as a UTC timestamp.

    Parameters
    ----------
    value : str, datetime or pandas.Timestamp
        The date. A date without a time means the start of that day (00:00 UTC).
    field : str
        Name used in the error message.

    Returns
    -------
    pandas.Timestamp
        Timezone-aware (UTC).

    Raises
    ------
    DataError
        If ``value`` cannot be parsed.
    """
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"{field}: cannot parse {value!r} as a date", field=field) from None
    if ts is pd.NaT:
        raise DataError(f"{field}: missing date", field=field)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _end_of_day(ts: pd.Timestamp) -> pd.Timestamp:
    """Dates given without a time include that whole day."""
    if ts == ts.normalize():
        return ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return ts


def transactions_from_events(
    events: pd.DataFrame,
    kind: str = "purchase",
    *,
    types: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Collapse store events into transactions (one row per customer and order or occasion).

    Netting rule for purchases: lines of type ``purchase`` are grouped by ``(person_id,
    order_id)``; return lines (type ``return``, positive ``value``) that carry the ``order_id`` of
    one of that customer's purchase orders are subtracted from that order. An order whose net
    value is zero or less (fully returned) is dropped: it was not a purchase. Returns without an
    ``order_id``, or whose order is unknown, are ignored here (they belong to a returns analysis,
    not to purchase counting). Purchase lines without an ``order_id`` are grouped by their exact
    timestamp instead. The transaction time is the earliest line of the order.

    For ``kind="visit"``, every event whose type is in ``types`` (default :data:`VISIT_TYPES`)
    is one occasion with value 0 (lines of the same order, if any, count once).

    Parameters
    ----------
    events : pandas.DataFrame
        Store events with columns ``person_id``, ``type``, ``order_id``, ``value``,
        ``timestamp`` (other columns are ignored).
    kind : {"purchase", "visit"}
        What counts as activity.
    types : iterable of str, optional
        For ``kind="visit"``: the event types that count; for ``kind="purchase"``: the types
        treated as purchases (default ``{"purchase"}``).

    Returns
    -------
    pandas.DataFrame
        Columns ``person_id`` (str), ``timestamp`` (datetime64, UTC), ``value`` (float),
        sorted by customer then time.

    Raises
    ------
    DataError
        On missing columns, unparseable timestamps, negative or non-finite values.
    """
    if kind not in ("purchase", "visit"):
        raise DataError(f"kind must be 'purchase' or 'visit', got {kind!r}", field="kind")
    _require_columns(events, ("person_id", "type", "timestamp"), "events")
    if kind == "purchase":
        _require_columns(events, ("value",), "events")
    wanted = (
        set(types)
        if types is not None
        else ({"purchase"} if kind == "purchase" else set(VISIT_TYPES))
    )
    ev = events.loc[
        :,
        [c for c in ("person_id", "type", "order_id", "value", "timestamp") if c in events.columns],
    ].copy()
    if "order_id" not in ev.columns:
        ev["order_id"] = None
    if "value" not in ev.columns:
        ev["value"] = 0.0
    ev["value"] = pd.to_numeric(ev["value"], errors="coerce").astype(float).fillna(0.0)
    if not np.isfinite(ev["value"]).all():
        raise DataError("column 'value': non-finite values", field="value")
    if ev["person_id"].isna().any():
        raise DataError(
            f"column 'person_id': {int(ev['person_id'].isna().sum())} event(s) without a customer",
            field="person_id",
        )
    ev["timestamp"] = _as_utc(ev["timestamp"], "timestamp")
    ev["person_id"] = ev["person_id"].astype(str)

    active = ev[ev["type"].isin(wanted)]
    if kind == "purchase" and (active["value"] < 0).any():
        n = int((active["value"] < 0).sum())
        raise DataError(
            f"column 'value': {n} purchase line(s) have a negative value; returns must be "
            "events of type 'return' with a positive value",
            field="value",
        )
    # Occasion key: the order, or the exact timestamp when the line has no order.
    has_order = active["order_id"].notna()
    key = active["order_id"].astype(object).where(has_order, "@" + active["timestamp"].astype(str))
    active = active.assign(_key=key.astype(str))
    grouped = active.groupby(["person_id", "_key"], sort=False).agg(
        timestamp=("timestamp", "min"), value=("value", "sum")
    )
    if kind == "purchase":
        returns = ev[(ev["type"] == "return") & ev["order_id"].notna()]
        if len(returns):
            if (returns["value"] < 0).any():
                raise DataError(
                    "column 'value': return lines must carry a positive value", field="value"
                )
            ret = (
                returns.assign(_key=returns["order_id"].astype(str))
                .groupby(["person_id", "_key"])["value"]
                .sum()
            )
            grouped["value"] = grouped["value"] - ret.reindex(grouped.index).fillna(0.0)
        grouped = grouped[grouped["value"] > 0]
    else:
        grouped["value"] = 0.0
    out = grouped.reset_index()[list(TRANSACTION_COLUMNS)]
    return out.sort_values(["person_id", "timestamp"], kind="stable").reset_index(drop=True)


def _parse_date_column(values: pd.Series, field: str, time_format: str | None) -> pd.Series:
    if time_format is not None:
        try:
            parsed = pd.to_datetime(values.astype(str), format=time_format, utc=True)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"column {field!r}: does not match format {time_format!r} ({exc})", field=field
            ) from None
        return parsed
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        # compact dates such as 19970101, or Unix time in any unit: the imports' one reading
        parsed = numeric_times(values)
        if parsed.isna().any():
            raise DataError(
                f"column {field!r}: {int(parsed.isna().sum())} value(s) are neither YYYYMMDD "
                "dates nor Unix times; give a time format",
                field=field,
            )
        return parsed
    return _as_utc(values, field)


def transactions_from_frame(
    frame: pd.DataFrame,
    *,
    customer: str,
    time: str,
    value: str | None = None,
    order: str | None = None,
    time_format: str | None = None,
    negative: str = "error",
) -> pd.DataFrame:
    """Build transactions from any table (CSV, parquet) given a column mapping.

    This is the analyst path: no store is needed.

    Parameters
    ----------
    frame : pandas.DataFrame
        The raw table, one row per line or per transaction.
    customer : str
        Column holding the customer id.
    time : str
        Column holding the purchase time (ISO text, datetime, compact ``YYYYMMDD`` integers, or
        Unix time in seconds, milliseconds, microseconds or nanoseconds).
    value : str, optional
        Column holding the money value, or a product of two columns written ``"Quantity*Price"``.
        Without it every transaction has value 0 (frequency models only).
    order : str, optional
        Column holding an order/invoice id; lines of one order are summed into one transaction.
        Without it each row is a transaction.
    time_format : str, optional
        ``strftime`` format of the time column.
    negative : {"error", "drop"}
        What to do with rows whose value is negative (returns, cancellations, adjustments):
        raise a :class:`DataError` naming how many there are, or leave them out.

    Returns
    -------
    pandas.DataFrame
        Columns ``person_id``, ``timestamp``, ``value`` as in :func:`transactions_from_events`.
        Rows without a customer id are dropped (anonymous purchases cannot be modelled).

    Raises
    ------
    DataError
        On missing columns, bad values, or when no transaction is left.
    """
    if negative not in ("error", "drop"):
        raise DataError(f"negative must be 'error' or 'drop', got {negative!r}", field="negative")
    value_cols = [] if value is None else [c.strip() for c in value.split("*")]
    needed = [customer, time, *value_cols] + ([order] if order else [])
    _require_columns(frame, needed, "transactions file")
    cust = frame[customer]
    keep = cust.notna() & (cust.astype(str).str.strip() != "") & (cust.astype(str) != "nan")
    df = frame.loc[keep]
    if df.empty:
        raise DataError(f"column {customer!r}: no row has a customer id", field=customer)
    if pd.api.types.is_float_dtype(df[customer]) and (df[customer] % 1 == 0).all():
        ids = df[customer].astype("int64").astype(str)  # 12346.0 -> "12346"
    else:
        ids = df[customer].astype(str).str.strip()
    ts = _parse_date_column(df[time], time, time_format)
    if value_cols:
        val = pd.Series(1.0, index=df.index)
        for col in value_cols:
            num = pd.to_numeric(df[col], errors="coerce")
            if num.isna().any():
                raise DataError(
                    f"column {col!r}: {int(num.isna().sum())} value(s) are missing or not numbers",
                    field=col,
                )
            val = val * num.astype(float)
        if not np.isfinite(val).all():
            raise DataError(f"column {value!r}: non-finite values", field=value)
    else:
        val = pd.Series(0.0, index=df.index)
    out = pd.DataFrame(
        {"person_id": ids.to_numpy(), "timestamp": ts.to_numpy(), "value": val.to_numpy()}
    )
    out["timestamp"] = (
        out["timestamp"].dt.tz_localize("UTC")
        if out["timestamp"].dt.tz is None
        else out["timestamp"]
    )
    neg = out["value"] < 0
    if neg.any():
        if negative == "error":
            raise DataError(
                f"column {value!r}: {int(neg.sum())} row(s) have a negative value (returns or "
                "cancellations?); drop them with negative='drop' (CLI: --negative drop)",
                field=value,
            )
        out = out[~neg]
    if order:
        out["_order"] = df[order].astype(str).to_numpy()[~neg.to_numpy()]
        out = (
            out.groupby(["person_id", "_order"], sort=False)
            .agg(timestamp=("timestamp", "min"), value=("value", "sum"))
            .reset_index()[list(TRANSACTION_COLUMNS)]
        )
    if out.empty:
        raise DataError("no transaction left after removing rows with negative values")
    return out.sort_values(["person_id", "timestamp"], kind="stable").reset_index(drop=True)


def _check_transactions(transactions: pd.DataFrame) -> pd.DataFrame:
    _require_columns(transactions, ("person_id", "timestamp"), "transactions")
    tx = transactions.loc[:, [c for c in TRANSACTION_COLUMNS if c in transactions.columns]].copy()
    if "value" not in tx.columns:
        tx["value"] = 0.0
    tx["timestamp"] = _as_utc(tx["timestamp"], "timestamp")
    tx["value"] = pd.to_numeric(tx["value"], errors="coerce")
    if tx["value"].isna().any() or not np.isfinite(tx["value"]).all():
        raise DataError("column 'value': missing or non-finite values", field="value")
    if (tx["value"] < 0).any():
        raise DataError(
            f"column 'value': {int((tx['value'] < 0).sum())} transaction(s) have a negative value",
            field="value",
        )
    if tx["person_id"].isna().any():
        raise DataError("column 'person_id': missing customer ids", field="person_id")
    tx["person_id"] = tx["person_id"].astype(str)
    return tx


def rfm_summary(
    transactions: pd.DataFrame,
    calibration_end: object = None,
    observation_end: object = None,
    *,
    freq: str = "D",
) -> pd.DataFrame:
    """Per-customer repeat purchases, recency, age and spend, as the value models expect.

    Purchase *occasions* are distinct calendar days (UTC): several orders on one day count once
    and their values are added. For a customer whose first occasion is at ``t0``:

    * ``repeat_purchases`` – number of occasions after the first (BG/NBD's and Pareto/NBD's
      ``x``, lifetimes' ``frequency``);
    * ``recency`` – time from ``t0`` to the last occasion, in ``freq`` units (0 if none repeat);
    * ``T`` – time from ``t0`` to the end of the window, in ``freq`` units;
    * ``mean_repeat_spend`` – mean value of the repeat occasions (0 without repeats; the
      Gamma-Gamma input, lifetimes' ``monetary_value``);
    * ``n_purchases`` – all occasions (distinct purchase days), the RFM frequency score's input;
    * ``monetary`` – total net value of all occasions (as ``monetary`` in profiles: what a
      segment rule such as ``monetary > 1000`` reads);
    * ``first``, ``last`` – the first and last occasion day;
    * ``recency_days`` – days since the last occasion at the end of the window.

    Times are measured between calendar days, so a first purchase on 1997-01-01 and a window
    ending 1997-09-30 give ``T = 272 / 7 = 38.86`` weeks, as in the published CDNOW summary.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Columns ``person_id``, ``timestamp`` and optionally ``value``.
    calibration_end : date-like, optional
        Last day of the window (inclusive). Default: the day of the last transaction.
        Customers whose first occasion is after it are left out.
    observation_end : date-like, optional
        Alias kept for symmetry with :func:`calibration_holdout_split`; ignored when
        ``calibration_end`` is given.
    freq : {"D", "W"}
        Time unit of ``recency`` and ``T``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``person_id`` (sorted).

    Raises
    ------
    DataError
        On bad input or when the window holds no transaction.
    """
    days = unit_days(freq)
    tx = _check_transactions(transactions)
    if tx.empty:
        raise DataError("transactions: the table is empty")
    end_value = calibration_end if calibration_end is not None else observation_end
    day = tx["timestamp"].dt.floor("D")
    if end_value is None:
        end_day = day.max()
    else:
        end_day = _end_of_day(to_timestamp(end_value, "calibration_end")).floor("D")
    tx = tx.assign(_day=day)[day <= end_day]
    if tx.empty:
        raise DataError(
            f"no transaction on or before {end_day.date()} (the window is empty)",
            field="calibration_end",
        )
    occ = tx.groupby(["person_id", "_day"], sort=True)["value"].sum().reset_index()
    g = occ.groupby("person_id", sort=True)
    first = g["_day"].min()
    last = g["_day"].max()
    n = g.size()
    total = g["value"].sum()
    first_value = g["value"].first()
    repeats = (n - 1).astype(float)
    repeat_total = total - first_value
    mean_repeat = np.where(repeats > 0, repeat_total / repeats.where(repeats > 0, 1.0), 0.0)
    out = pd.DataFrame(
        {
            "repeat_purchases": repeats,
            "recency": (last - first).dt.days / days,
            "T": (end_day - first).dt.days / days,
            "mean_repeat_spend": mean_repeat,
            "n_purchases": n.astype(int),
            "monetary": total.astype(float),
            "recency_days": (end_day - last).dt.days.astype(float),
            "first": first,
            "last": last,
        }
    )
    out.index.name = "person_id"
    out.attrs.update(freq=freq, end=str(end_day.date()))
    return out


@dataclass(frozen=True)
class CalibrationHoldout:
    """A calibration summary plus what each customer did in the holdout window.

    Attributes
    ----------
    calibration : pandas.DataFrame
        :func:`rfm_summary` of the calibration window.
    holdout_purchases : pandas.Series
        Occasions (distinct days) per customer in the holdout window, aligned to
        ``calibration.index`` (0 when none).
    holdout_value : pandas.Series
        Money spent per customer in the holdout window, aligned the same way.
    holdout_length : float
        Length of the holdout window in ``freq`` units.
    freq : str
        Time unit.
    """

    calibration: pd.DataFrame
    holdout_purchases: pd.Series
    holdout_value: pd.Series
    holdout_length: float
    freq: str


def calibration_holdout_split(
    transactions: pd.DataFrame,
    calibration_end: object,
    holdout_end: object = None,
    *,
    freq: str = "D",
) -> CalibrationHoldout:
    """Split transactions at ``calibration_end``: summary before, outcomes after.

    Only the calibration cohort is followed (customers seen by ``calibration_end``); new
    customers of the holdout period are not predictable from calibration data and are left out.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Columns ``person_id``, ``timestamp`` and optionally ``value``.
    calibration_end : date-like
        Last day of calibration (inclusive).
    holdout_end : date-like, optional
        Last day of holdout (inclusive). Default: the day of the last transaction.
    freq : {"D", "W"}
        Time unit.

    Returns
    -------
    CalibrationHoldout

    Raises
    ------
    DataError
        When the holdout ends before it starts, or either window is empty.
    """
    days = unit_days(freq)
    tx = _check_transactions(transactions)
    cal = rfm_summary(tx, calibration_end, freq=freq)
    cal_end_day = pd.Timestamp(cal.attrs["end"], tz="UTC")
    day = tx["timestamp"].dt.floor("D")
    if holdout_end is None:
        hold_end_day = day.max()
    else:
        hold_end_day = _end_of_day(to_timestamp(holdout_end, "holdout_end")).floor("D")
    if hold_end_day <= cal_end_day:
        raise DataError(
            f"holdout_end ({hold_end_day.date()}) must be after calibration_end "
            f"({cal_end_day.date()})",
            field="holdout_end",
        )
    mask = (day > cal_end_day) & (day <= hold_end_day)
    hold = tx.assign(_day=day)[mask]
    hold = hold[hold["person_id"].isin(cal.index)]
    occ = hold.groupby(["person_id", "_day"])["value"].sum().reset_index()
    purchases = occ.groupby("person_id").size().reindex(cal.index, fill_value=0).astype(float)
    value = occ.groupby("person_id")["value"].sum().reindex(cal.index, fill_value=0.0)
    purchases.name, value.name = "holdout_purchases", "holdout_value"
    length = (hold_end_day - cal_end_day).days / days
    return CalibrationHoldout(cal, purchases, value, float(length), freq)


def parse_column_map(text: str) -> dict[str, str]:
    """Parse ``"customer=ID,time=Date,value=Qty*Price,order=Invoice"`` (the one ``--map`` parser
    of ``omotenashi.files``, with the transactions keys).

    Raises
    ------
    DataError
        On unknown keys, missing ``=``, or when ``customer`` or ``time`` is not mapped.
    """
    return files.parse_column_map(text, files.TRANSACTIONS)


def read_transactions(
    path: str | Path,
    mapping: dict[str, str] | str,
    *,
    sep: str | None = None,
    time_format: str | None = None,
    negative: str = "error",
    columns: Sequence[str] | None = None,
    encoding: str = "utf-8",
    decimal: str = ".",
) -> pd.DataFrame:
    """Read a CSV/TSV/whitespace/parquet file of purchases into transactions.

    ``encoding`` and ``decimal`` (``"."`` or ``","``) are those of a text file.

    Parameters
    ----------
    path : str or Path
        ``.parquet`` files are read with pyarrow; anything else as delimited text.
    mapping : dict or str
        Column mapping (keys ``customer``, ``time``, ``value``, ``order``), or its
        ``key=column,...`` text form.
    sep : str, optional
        Delimiter: a character, ``"tab"`` or ``"whitespace"``; default ``","``.
    time_format, negative :
        As in :func:`transactions_from_frame`.
    columns : sequence of str, optional
        Column names of a text file that has no header line.

    Returns
    -------
    pandas.DataFrame
        Transactions (``person_id``, ``timestamp``, ``value``).

    Raises
    ------
    DataError
        When the file is missing or unreadable, or on bad columns/values.
    """
    cols = files.parse_column_map(mapping, files.TRANSACTIONS)
    p = Path(path)
    if not p.is_file():
        raise DataError(f"transactions file {str(p)!r} does not exist", field="transactions")
    delimiter = {"tab": "\t", "whitespace": None, None: ","}.get(sep, sep)
    options = files.CsvOptions(
        sep=delimiter,
        whitespace=sep == "whitespace",
        header=not columns,
        names=tuple(columns) if columns else None,
        text=False,
        dtypes=((cols["customer"], "str"),),
        encoding=encoding,
        decimal=decimal,
    )
    frame = files.read_table(p, options, field="transactions")
    return transactions_from_frame(
        frame,
        customer=cols["customer"],
        time=cols["time"],
        value=cols.get("value"),
        order=cols.get("order"),
        time_format=time_format,
        negative=negative,
    )


def read_attributes(path: str | Path) -> pd.DataFrame:
    """Customer attributes from a file with a ``customer_id`` column (CSV, Parquet, JSON lines),
    read by the one file reader; ids stay text.

    Raises
    ------
    DataError
        A missing or unreadable file.
    """
    options = files.CsvOptions(sep=",", text=False, dtypes=(("customer_id", "str"),))
    return files.read_table(Path(path), options, field="attributes")
