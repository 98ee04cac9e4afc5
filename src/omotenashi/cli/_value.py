"""``omotenashi value fit|report|lapse`` and ``omotenashi segments``: customer value commands.

Commands read purchases either from a file (``--transactions FILE --map ...``, no store needed)
or from the store (``--db``), call the value service (``omotenashi.services.Value``) and print
rich tables for people or one JSON object with ``--json``.
"""

from __future__ import annotations

import json
import math
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from omotenashi.cli._apps import app
from omotenashi.cli._common import DecimalOpt, EncodingOpt
from omotenashi.errors import OmotenashiError

value_app = typer.Typer(
    help="Customer value: BG/NBD or Pareto/NBD purchase models, Gamma-Gamma spend, CLV, lapse "
    "risk. Reads a transactions file (--transactions FILE --map ...) or the store (--db).",
    no_args_is_help=True,
)
app.add_typer(value_app, name="value", rich_help_panel="Customer value")

_console = Console()
_err = Console(stderr=True)

TransactionsOpt = Annotated[
    Path | None,
    typer.Option(
        "--transactions",
        "-t",
        help="CSV/TSV/parquet file of purchases (no store needed); use with --map.",
    ),
]
MapOpt = Annotated[
    str | None,
    typer.Option(
        "--map",
        help="Columns of the file: customer=COL,time=COL[,value=COL or COL1*COL2][,order=COL].",
    ),
]
SepOpt = Annotated[
    str | None,
    typer.Option(
        "--sep", help="Delimiter of a text file: ',', 'tab' or 'whitespace' (default ',')."
    ),
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--columns", help="Comma-separated column names of a text file without a header line."
    ),
]
TimeFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--time-format",
        help="strftime format of the time column, e.g. %Y%m%d (8-digit integers are detected).",
    ),
]
NegativeOpt = Annotated[
    str,
    typer.Option(
        "--negative", help="Rows with a negative value (returns, cancellations): 'error' or 'drop'."
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store URL or file (default: the configured store); "
        "used when --transactions is not given.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for programs.")]
ModelOpt = Annotated[str, typer.Option("--model", help="Purchase model: bgnbd or pareto.")]
FreqOpt = Annotated[
    str, typer.Option("--freq", help="Time unit of the models: D (days) or W (weeks).")
]
PlotsOpt = Annotated[
    Path | None, typer.Option("--plots", help="Directory where PNG plots are written.")
]
RuleOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rule",
        help="Marketer rule 'name: expression', e.g. \"vip: monetary > "
        "1000 and country == 'Japan'\" (repeatable; parsed safely, never eval).",
    ),
]
AttributesOpt = Annotated[
    Path | None,
    typer.Option(
        "--attributes", help="CSV of customer attributes with a customer_id column (file mode)."
    ),
]


def _fail(exc: Exception) -> typer.Exit:
    """One error line; exit code 2 for bad input (see ``cli._common.exit_code``)."""
    from omotenashi.cli._common import fail

    return fail(exc)


def _load(
    transactions: Path | None,
    mapping: str | None,
    sep: str | None,
    columns: str | None,
    time_format: str | None,
    negative: str,
    db: str | None,
    kind: str = "purchase",
    encoding: str = "utf-8",
    decimal: str = ".",
) -> tuple[Any, Any]:
    """(transactions, attributes) from a file or from the store."""
    from omotenashi.errors import DataError
    from omotenashi.services import Value

    if kind not in ("purchase", "visit"):  # checked in file mode too, where it is not used
        raise DataError(f"--kind: {kind!r} is not purchase or visit", field="kind")

    if transactions is not None:
        if not mapping:
            raise _map_error()
        names = [c.strip() for c in columns.split(",")] if columns else None
        return Value.read_transactions(
            transactions,
            mapping,
            sep=sep,
            time_format=time_format,
            negative=negative,
            columns=names,
            encoding=encoding,
            decimal=decimal,
        ), None
    if mapping:
        raise _map_error("--map is only used with --transactions FILE")
    from omotenashi.services import Omotenashi

    with Omotenashi(db, create=False) as om:
        return om.value.transactions(kind)


def _map_error(
    message: str = "--transactions needs --map customer=COL,time=COL[,value=COL]",
) -> Exception:
    from omotenashi.errors import DataError

    return DataError(message, field="map")


def _read_attributes(path: Path | None) -> Any:
    if path is None:
        return None
    from omotenashi.services import Value

    return Value.read_attributes(path)


def _status(message: str, quiet: bool) -> Any:
    return nullcontext() if quiet else _err.status(message)


def _json(obj: Any) -> None:
    typer.echo(json.dumps(obj, default=_default, allow_nan=False, indent=2))


def _default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value
    return str(value)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def _kv_table(title: str, items: dict[str, Any]) -> Any:
    """Name and figure per line; figures are never cut (``cli._common.figure_tables``)."""
    from rich.console import Group

    from omotenashi.cli._common import figure_tables

    rows = [[k, _fmt(v)] for k, v in items.items()]
    return Group(*figure_tables(title, ["name", "value"], rows, show_header=False))


def _frame_table(title: str, frame: Any, index_name: str) -> Any:
    """A frame as tables whose figures are never cut: at 80 columns a wide frame is split in
    parts that repeat the first column, and headers wrap (``cli._common.figure_tables``)."""
    from rich.console import Group

    from omotenashi.cli._common import figure_tables

    headers = [index_name, *(str(c) for c in frame.columns)]
    numeric = [False] + [str(c) not in ("description", "segment") for c in frame.columns]
    rows = [[str(idx), *(_fmt(v) for v in row.tolist())] for idx, row in frame.iterrows()]
    return Group(*figure_tables(title, headers, rows, numeric=numeric))


@value_app.command("fit")
def fit_command(
    transactions: TransactionsOpt = None,
    mapping: MapOpt = None,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    decimal: DecimalOpt = ".",
    columns: ColumnsOpt = None,
    time_format: TimeFormatOpt = None,
    negative: NegativeOpt = "error",
    db: DbOpt = None,
    model: ModelOpt = "bgnbd",
    freq: FreqOpt = "W",
    calibration_end: Annotated[
        str | None,
        typer.Option(
            "--calibration-end",
            help="Last day of the fitting window (default: last transaction day).",
        ),
    ] = None,
    holdout_end: Annotated[
        str | None,
        typer.Option(
            "--holdout-end",
            help="Last day of the holdout window; reports "
            "MAE, RMSE, correlation and totals of holdout purchases.",
        ),
    ] = None,
    penalizer: Annotated[float, typer.Option(help="L2 penalty on the parameters.")] = 0.0,
    plots: PlotsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit a purchase model (and Gamma-Gamma spend), optionally testing it on a holdout window.

    Example: omotenashi value fit -t CDNOW_sample.txt --sep whitespace
    --columns mid,cid,date,cds,value --map customer=cid,time=date,value=value
    --calibration-end 1997-09-30 --holdout-end 1998-06-30 --json
    """
    from omotenashi.services import Value

    try:
        with _status("reading transactions", as_json):
            tx, _ = _load(
                transactions,
                mapping,
                sep,
                columns,
                time_format,
                negative,
                db,
                encoding=encoding,
                decimal=decimal,
            )
        with _status(f"fitting {model}", as_json):
            outcome, written = Value.fit(
                tx,
                plots=plots,
                model=model,
                freq=freq,
                calibration_end=calibration_end,
                holdout_end=holdout_end,
                penalizer=penalizer,
            )
    except OmotenashiError as exc:
        raise _fail(exc) from None
    result = outcome.to_dict()
    if written:
        result["plots"] = written
    if as_json:
        _json(result)
        return
    _console.print(_kv_table(f"{model} parameters ({freq} units)", result["params"]))
    info = {k: result[k] for k in ("n_customers", "repeat_customers", "log_likelihood", "fit_s")}
    _console.print(_kv_table("fit", info))
    if "spend_params" in result:
        _console.print(_kv_table("Gamma-Gamma spend", result["spend_params"]))
    if "holdout" in result:
        _console.print(_kv_table("holdout purchases", result["holdout"]))
    if "spend_holdout" in result:
        _console.print(_kv_table("holdout spend", result["spend_holdout"]))
    for note in result.get("notes", []):
        _console.print(f"[yellow]note:[/] {note}")
    for path in written:
        _console.print(f"wrote {path}")


@value_app.command("report")
def report_command(
    transactions: TransactionsOpt = None,
    mapping: MapOpt = None,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    decimal: DecimalOpt = ".",
    columns: ColumnsOpt = None,
    time_format: TimeFormatOpt = None,
    negative: NegativeOpt = "error",
    db: DbOpt = None,
    model: ModelOpt = "bgnbd",
    freq: FreqOpt = "W",
    as_of: Annotated[str | None, typer.Option("--as-of", help="Last day of history used.")] = None,
    horizon_months: Annotated[int, typer.Option("--horizon-months", help="CLV horizon.")] = 12,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="Annual discount rate of CLV.")
    ] = 0.1,
    top: Annotated[int, typer.Option(help="Customers listed, by CLV.")] = 10,
    plots: PlotsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Value every customer: P(alive), expected purchases, CLV, RFM segment; totals by segment."""
    from omotenashi.services import Omotenashi, Value

    options = {
        "model": model,
        "freq": freq,
        "as_of": as_of,
        "horizon_months": horizon_months,
        "annual_discount_rate": discount_rate,
    }
    try:
        if transactions is not None:
            with _status("reading transactions", as_json):
                tx, _ = _load(
                    transactions,
                    mapping,
                    sep,
                    columns,
                    time_format,
                    negative,
                    db,
                    encoding=encoding,
                    decimal=decimal,
                )
            with _status("fitting models and valuing customers", as_json):
                report, saved, written = Value().report(tx, None, plots=plots, **options)
        else:  # valued from the store: segments and CLV go to the profiles
            if mapping:
                raise _map_error("--map is only used with --transactions FILE")
            with Omotenashi(db, create=False) as om:
                with _status("fitting models and valuing customers", as_json):
                    report, saved, written = om.value.report(
                        save_scores=True, plots=plots, **options
                    )
    except OmotenashiError as exc:
        raise _fail(exc) from None
    result = report.to_dict(top=top)
    if written:
        result["plots"] = written
    if saved:
        result["scores_saved"] = saved
    if as_json:
        _json(result)
        return
    _console.print(_kv_table(f"value over {horizon_months} months ({model})", result["totals"]))
    if saved:
        _console.print(
            "RFM segment, CLV and P(alive) saved to the profiles (`omotenashi profile`)."
        )
    _console.print(_frame_table("RFM segments", report.segments, "segment"))
    cols = ["monetary", "p_alive", "expected_purchases", "clv", "rfm", "segment"]
    best = report.customers.sort_values("clv", ascending=False).head(top)[cols]
    _console.print(_frame_table(f"top {top} customers by CLV", best, "customer"))
    for note in result.get("notes", []):
        _console.print(f"[yellow]note:[/] {note}")


@value_app.command("lapse")
def lapse_command(
    transactions: TransactionsOpt = None,
    mapping: MapOpt = None,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    decimal: DecimalOpt = ".",
    columns: ColumnsOpt = None,
    time_format: TimeFormatOpt = None,
    negative: NegativeOpt = "error",
    db: DbOpt = None,
    kind: Annotated[str, typer.Option(help="Store activity: purchase or visit.")] = "purchase",
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="End of the test window (default: last activity day)."),
    ] = None,
    horizon_days: Annotated[
        float, typer.Option("--horizon-days", help="Inactivity that counts as a lapse.")
    ] = 90.0,
    as_json: JsonOpt = False,
) -> None:
    """Backtest lapse risk (visits, encounters, purchases) and report its calibration."""
    from omotenashi.services import Value

    try:
        tx, _ = _load(
            transactions,
            mapping,
            sep,
            columns,
            time_format,
            negative,
            db,
            kind=kind,
            encoding=encoding,
            decimal=decimal,
        )
        with _status("backtesting lapse risk", as_json):
            result = Value.lapse(tx, as_of, horizon_days)
    except OmotenashiError as exc:
        raise _fail(exc) from None
    if as_json:
        _json(result)
        return
    for name in ("supervised", "bgnbd"):
        scores = result[name]
        if scores is None:
            _console.print(f"[yellow]{name}:[/] {result['bgnbd_error']}")
            continue
        flat = {k: v for k, v in scores.items() if k not in ("calibration", "coef", "params")}
        _console.print(
            _kv_table(f"{name} lapse risk, test {result['test_start']} .. {result['as_of']}", flat)
        )
        import pandas as pd

        _console.print(
            _frame_table(f"{name} calibration", pd.DataFrame(scores["calibration"]), "bin")
        )


@app.command("segments", rich_help_panel="Customer value")
def segments_command(
    transactions: TransactionsOpt = None,
    mapping: MapOpt = None,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    decimal: DecimalOpt = ".",
    columns: ColumnsOpt = None,
    time_format: TimeFormatOpt = None,
    negative: NegativeOpt = "error",
    db: DbOpt = None,
    attributes: AttributesOpt = None,
    rule: RuleOpt = None,
    kmeans: Annotated[
        int,
        typer.Option(
            "--kmeans", help="Number of k-means segments on behaviour and attributes (0 = none)."
        ),
    ] = 4,
    features: Annotated[
        str | None,
        typer.Option(
            "--features",
            help="Comma-separated columns for k-means "
            "(default: recency, frequency, spend, tenure).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Customer segments: RFM segments, marketer rules and described k-means clusters."""
    from omotenashi.services import Value

    try:
        tx, store_attributes = _load(
            transactions,
            mapping,
            sep,
            columns,
            time_format,
            negative,
            db,
            encoding=encoding,
            decimal=decimal,
        )
        attrs = _read_attributes(attributes) if attributes is not None else store_attributes
        with _status("scoring customers", as_json):
            result = Value.segments(
                tx,
                attrs,
                rules=rule or (),
                kmeans=kmeans,
                features=[c.strip() for c in features.split(",")] if features else None,
            )
    except OmotenashiError as exc:
        raise _fail(exc) from None
    frames = result.pop("frames")
    rfm, profile = frames["rfm"], frames["kmeans"]
    if as_json:
        _json(result)
        return
    _console.print(_frame_table("RFM segments", rfm, "segment"))
    if "rule_segments" in result:
        import pandas as pd

        table = pd.DataFrame(result["rule_segments"]).set_index("segment")
        _console.print(_frame_table("rule segments", table, "segment"))
    if profile is not None:
        _console.print(
            _frame_table("k-means segments", profile[["size", "share", "description"]], "cluster")
        )
