"""``omotenashi audit``: the default model's recommendations checked for bias and
over-personalization (``om.audit``), with the limits a business sets.

Exit codes: 0 when every limit holds, 3 when one is crossed (the report lists which), 2 for bad
input (an unknown attribute, a bad thresholds file), 1 for other errors (no model trained).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from omotenashi.cli._apps import app
from omotenashi.cli._common import DbOpt, JsonOpt, fail
from omotenashi.errors import OmotenashiError

PANEL = "Recommendations"
#: The exit code when a limit is crossed (bad input is 2, other errors 1).
LIMIT_CROSSED = 3


def _limit(flag: str, text: str) -> Any:
    return typer.Option(flag, help=text, show_default=False)


@app.command(rich_help_panel=PANEL)
def audit(
    n: Annotated[int, typer.Option("-n", "--n", min=2, help="List length audited.")] = 10,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="Customer attribute to break figures down by (repeatable); NAME_band cuts a "
            "numeric NAME at --bands, e.g. age_band.",
        ),
    ] = None,
    bands: Annotated[
        str, typer.Option("--bands", help="Band edges for NAME_band attributes.")
    ] = "18,25,35,45,55",
    dissimilarity: Annotated[
        str,
        typer.Option(
            "--dissimilarity", help="ILD pairs: auto, categories (Jaccard) or cooccurrence."
        ),
    ] = "auto",
    windows: Annotated[
        int, typer.Option("--windows", min=1, help="History windows in the narrowing trend.")
    ] = 3,
    min_group_size: Annotated[
        int,
        typer.Option("--min-group-size", min=1, help="Smaller groups are left out of gaps."),
    ] = 10,
    max_gini: Annotated[float | None, _limit("--max-gini", "Limit: exposure Gini.")] = None,
    min_coverage: Annotated[
        float | None, _limit("--min-coverage", "Limit: catalogue coverage.")
    ] = None,
    max_popularity_lift: Annotated[
        float | None, _limit("--max-popularity-lift", "Limit: popularity lift.")
    ] = None,
    max_popularity_percentile: Annotated[
        float | None,
        _limit("--max-popularity-pct", "Limit: mean popularity percentile of lists."),
    ] = None,
    min_ild: Annotated[float | None, _limit("--min-ild", "Limit: intra-list diversity.")] = None,
    max_narrowing: Annotated[
        float | None, _limit("--max-narrowing", "Limit: mean narrowing.")
    ] = None,
    max_narrowed_share: Annotated[
        float | None, _limit("--max-narrowed-share", "Limit: share of people narrowed.")
    ] = None,
    max_gap: Annotated[
        list[str] | None,
        typer.Option("--max-gap", help="Limit on a gap between groups, FIGURE=MAX (repeatable)."),
    ] = None,
    max_gap_ratio: Annotated[
        list[str] | None,
        typer.Option("--max-gap-ratio", help="Limit on max/min between groups, FIGURE=MAX."),
    ] = None,
    thresholds: Annotated[
        Path | None,
        typer.Option("--thresholds", help="JSON or TOML file of limits (options win)."),
    ] = None,
    plots: Annotated[Path | None, typer.Option("--plots", help="Directory for PNG plots.")] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Model name (default: the one `train` chose).")
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Audit recommendations: coverage, exposure Gini, popularity bias, diversity, narrowing.

    Each customer's top-n list from the default model is compared with the
    catalogue and with the customers' histories, overall and per group
    (--by gender --by age_band), with the gaps between groups.

    Exits with 3 when a limit is crossed, e.g. omotenashi audit --by gender
    --max-gini 0.9 --min-coverage 0.1 --max-gap coverage=0.05 --plots audit/
    """
    from omotenashi.cli._common import console, emit_json, err_console
    from omotenashi.services import (
        Omotenashi,
        Thresholds,
        load_thresholds,
        parse_bands,
        parse_limits,
    )

    try:
        edges = parse_bands(bands)
        limits = Thresholds(
            max_gini=max_gini,
            min_coverage=min_coverage,
            max_popularity_lift=max_popularity_lift,
            max_popularity_percentile=max_popularity_percentile,
            min_ild=min_ild,
            max_narrowing=max_narrowing,
            max_narrowed_share=max_narrowed_share,
            max_gap=parse_limits(max_gap, "--max-gap"),
            max_gap_ratio=parse_limits(max_gap_ratio, "--max-gap-ratio"),
        )
        if thresholds is not None:
            limits = load_thresholds(thresholds).merged(limits)
        with Omotenashi(db, create=False) as om:
            with err_console.status("auditing recommendations"):
                report = om.audit.run(
                    n=n,
                    by=by or (),
                    bands=edges,
                    model=model,
                    dissimilarity=dissimilarity,
                    windows=windows,
                    min_group_size=min_group_size,
                    thresholds=limits,
                )
            written = om.audit.plots(report, plots) if plots is not None else []
    except OmotenashiError as exc:
        raise fail(exc) from None
    data = report.as_dict()
    data["plots"] = [str(p) for p in written]
    if json_out:
        emit_json(data)
    else:
        _print(console, data)
    if report.violations:
        if not json_out:
            for v in report.violations:
                err_console.print(f"[bold red]limit crossed:[/] {v['message']}", highlight=False)
        raise typer.Exit(code=LIMIT_CROSSED)


#: (figure, row title, format) of the tables.
_ROWS = (
    ("customers", "people", "{:d}"),
    ("coverage", "coverage", "{:.3f}"),
    ("coverage_at_equal_size", "cov. equal size", "{:.3f}"),
    ("gini", "exposure Gini", "{:.3f}"),
    ("popularity_percentile_recommended", "pop. pct lists", "{:.3f}"),
    ("popularity_percentile_history", "pop. pct hist.", "{:.3f}"),
    ("popularity_lift", "pop. lift", "{:+.3f}"),
    ("ild", "ILD", "{:.3f}"),
    ("narrowing", "narrowing", "{:+.3f}"),
    ("narrowed_share", "narrowed", "{:.1%}"),
)


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _print(console: Any, data: dict[str, Any]) -> None:
    """One narrow table per breakdown: figures as rows, groups as columns (fits 80 columns)."""
    from rich import box
    from rich.table import Table

    console.print(
        f"Audit of {data['model']}: top-{data['n']} lists, {data['catalogue_items']} catalogue "
        f"items, ILD by {data['dissimilarity']}"
    )
    overall = data["overall"]
    breakdowns = [("all", {"all": overall}, {})] + [
        (name, b["groups"], b["gaps"]) for name, b in data["by"].items()
    ]
    for name, groups, gaps in breakdowns:
        table = Table(
            title=None if name == "all" else f"by {name}", box=box.SIMPLE_HEAD, pad_edge=False
        )
        table.add_column("figure", no_wrap=True)
        for group in groups:
            table.add_column(str(group), justify="right")
        if gaps:
            table.add_column("gap", justify="right")
        for key, title, fmt in _ROWS:
            cells = [_cell(g.get(key), fmt) for g in groups.values()]
            if gaps:
                gap = gaps.get(key)
                cells.append("" if gap is None else _cell(gap["gap"], fmt))
            table.add_row(title, *cells)
        console.print(table)
    trajectory = overall.get("trajectory") or []
    if trajectory:
        steps = " -> ".join(f"{v:.3f}" for v in trajectory)
        console.print(
            f"ILD of each person's last {data['windows']} history windows, then their list "
            f"({overall['trajectory_customers']} people): {steps}"
        )
    for path in data.get("plots", []):
        console.print(f"plot: {path}")
    if not data["violations"] and data["thresholds"]:
        console.print("every limit holds")
