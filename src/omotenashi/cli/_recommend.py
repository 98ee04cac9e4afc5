"""Recommendation CLI: train, recommend, similar, ``evaluate topn`` and ``evaluate sessions``.

Commands only parse options, call the services (``om.training``, ``om.recommendations``,
``Evaluation``) and print: rich tables for people, ``--json`` for programs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from omotenashi.cli._apps import app, evaluate_app
from omotenashi.cli._common import (
    DbOpt,
    DecimalOpt,
    EncodingOpt,
    JsonOpt,
    console,
    emit_json,
)
from omotenashi.errors import OmotenashiError

PANEL = "Recommendations"


def _fail(exc: Exception) -> typer.Exit:
    """One error line; exit code 2 (what these commands catch is bad input or a missing
    model/store)."""
    from omotenashi.cli._common import fail

    return fail(exc, code=2)


def _engine(db: str | None):
    from omotenashi.services import Omotenashi

    return Omotenashi(db, create=False)


def _rules(
    include_seen: bool,
    category: list[str] | None,
    exclude_category: list[str] | None,
    exclude: str | None,
    diversity: float,
    novelty: float,
    exclude_seen_default: bool = True,
):
    from omotenashi.services import make_rules

    return make_rules(
        include_seen=not exclude_seen_default or include_seen,
        categories=category,
        exclude_categories=exclude_category,
        exclude_items=exclude,
        diversity=diversity,
        novelty=novelty,
    )


def _rec_rows(recs: list[Any], titles: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "rank": r.rank,
            "item_id": r.item_id,
            "title": (titles or {}).get(r.item_id),
            "score": r.score,
            "reasons": [
                {"kind": x.kind, "text": x.text, "items": list(x.items), "weight": x.weight}
                for x in r.reasons
            ],
            "explained": r.explained,
            "why": why,
        }
        for r, why in zip(recs, _whys(recs), strict=True)
    ]


def _whys(recs: list[Any]) -> list[str]:
    """Plain-words why of each item (the answer's own, which names a missing consent)."""
    explain = getattr(recs, "why", None)
    return explain() if callable(explain) else [r.why for r in recs]


def _print_recs(title: str, rows: list[dict[str, Any]], explain: bool) -> None:
    from omotenashi.cli._common import figure_tables

    headers = ["#", "item", "score"] + (["why"] if explain else [])
    cells = []
    for row in rows:
        name = row["item_id"] + (f"  {row['title']}" if row.get("title") else "")
        line = [str(row["rank"]), name, f"{row['score']:.4g}"]
        if explain:
            line.append(row["why"])
        cells.append(line)
    numeric = [True, False, True] + ([False] if explain else [])
    for table in figure_tables(title, headers, cells, numeric=numeric):
        console.print(table)


NOpt = Annotated[int, typer.Option("-n", "--n", min=1, help="How many items.")]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="Model name (default: the one `train` chose).")
]
CategoryOpt = Annotated[
    list[str] | None, typer.Option("--category", help="Only items in this category (repeatable).")
]
ExcludeCategoryOpt = Annotated[
    list[str] | None, typer.Option("--exclude-category", help="Never items in this category.")
]


def _settings_text(params: dict[str, Any]) -> str:
    if {"components", "weights", "params"} <= set(params):  # a blend: each part and its weight
        parts = [
            f"{w:g} × {name} ({_settings_text(p) or 'defaults'})"
            for name, w, p in zip(
                params["components"], params["weights"], params["params"], strict=True
            )
        ]
        return " + ".join(parts) + f"; each scaled by its per-customer {params.get('scaling')}"
    return ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


@app.command(rich_help_panel=PANEL)
def train(
    model: ModelOpt = None,
    tune: Annotated[
        bool,
        typer.Option("--tune", help="With --model: tune it on a validation split first."),
    ] = False,
    budget: Annotated[
        float,
        typer.Option(
            "--budget",
            help="Seconds for tuning the recommender, and as many again for the session "
            "model's own search (0: defaults only).",
        ),
    ] = 120.0,
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="Event weights, e.g. view=1,add_to_cart=3,purchase=5."),
    ] = None,
    rating_threshold: Annotated[
        float | None,
        typer.Option(
            "--rating-threshold",
            help="Ratings below this are not liked: not learnt from, and never offered back "
            "to the customer who gave them (default: 4 on five stars, as far up any other "
            "scale: 7.75 on 1-10, 0.75 on 0-1).",
        ),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Train the recommender on the store's events and save a versioned model artefact.

    Without --model each candidate is tuned on a validation split of your
    data (the last 20 % of each customer's interactions) within --budget
    seconds; the best by NDCG@10 becomes the default, or the blend of the
    best (the two best, and more while they help) when it scores higher
    on that split. A session model for anonymous visits is trained
    alongside; it tunes itself on your latest visits within the same
    --budget.
    """
    from omotenashi.cli._common import steps
    from omotenashi.services import parse_weights

    try:
        event_weights = parse_weights(weights)
        # each step the service announces is a line with its own time (loading the events,
        # validating the candidates, fitting, the session model); the total is what was waited
        with steps(enabled=not json_out) as shown, _engine(db) as om:
            shown.phase("loading the events")
            info = om.training.train(
                model,
                tune=tune,
                budget=budget,
                weights=event_weights,
                progress=shown.phase,
                rating_threshold=rating_threshold,
            )
            shown.done()
            total_s = shown.seconds()
    except (OmotenashiError, ValueError) as exc:
        raise _fail(exc) from exc
    if json_out:
        emit_json(info)
        return
    console.print(
        f"Trained [bold]{info['model']}[/] v{info['version']} in {total_s:.2f} s "
        f"(fitting the chosen model on all data: {info['fit_s']:.2f} s) → {info['path']}",
        soft_wrap=True,
    )
    if info.get("selection"):
        tuning = info.get("tuning") or {}
        table = Table(title="Validation split of your data (tuned settings)")
        folds = (tuning.get("validation") or {}).get("folds", 1)
        folded = folds > 1 and all("folds_ndcg@10" in row for row in info["selection"])
        columns = ["model", "settings", "ndcg@10", "untuned", "recall@20"]
        for col in columns + ([f"ndcg@10, {folds} folds"] if folded else []):
            table.add_column(col, overflow="fold")
        for row in info["selection"]:
            table.add_row(
                row["model"],
                _settings_text(row["params"]),
                f"{row['ndcg@10']:.4f}",
                f"{row['default_ndcg@10']:.4f}",
                f"{row['recall@20']:.4f}",
                *([f"{row['folds_ndcg@10']:.4f}"] if folded else []),
            )
        console.print(table)
        if folded:
            console.print(
                f"No time signal: the models were ranked and blended on {folds} validation "
                "splits (the last fifth of each customer's events, and random fifths); the "
                "last column is what decided.",
                soft_wrap=True,
            )
        recency = tuning.get("recency") or {}
        if recency.get("signal"):
            console.print(f"Recency signal: yes (t = {recency['t']:.1f}); recency weighting tuned.")
        else:
            why = recency.get("reason") or f"t = {recency.get('t', 0.0):.1f}"
            console.print(f"Recency signal: no ({why}); recency weighting not used.")
        for name, reason in (tuning.get("skipped") or {}).items():
            console.print(f"Left out: {name} ({reason}).")
        if tuning.get("budget_exhausted"):
            console.print(
                f"The tuning budget ({tuning['budget_s']:g} s) ran out; "
                "--budget gives it more time."
            )
    scale = info.get("rating_range")
    if scale and scale[1] != 5:  # not five stars: is the threshold where the user draws it?
        console.print(
            f"Ratings run from {scale[0]:g} to {scale[1]:g}: those below "
            f"{info['rating_threshold']:g} count as not liked, and one of "
            f"{info['rating_threshold'] + info.get('rating_unit', 1.0):g} weighs twice one at it "
            "(--rating-threshold sets where liking starts on your scale).",
            soft_wrap=True,
        )
    unliked = info.get("unliked_pairs")
    if unliked:
        console.print(
            f"Seen but not liked: {unliked:,} (customer, item) pairs, rated below "
            f"{info['rating_threshold']:g} or returned, are not learnt from and never offered "
            "back.",
            soft_wrap=True,
        )
    session = info.get("session")
    if session:
        console.print(_session_text(session), soft_wrap=True)


def _session_text(session: dict) -> str:
    """One line on the session model: what its own search chose, on how much, in what time."""
    if session.get("model") is None:
        return f"No session model: {session['skipped']}."
    head = (
        f"Session model for anonymous visits: {session['model']} on "
        f"{session['sessions']:,} sessions in {session['fit_s']:.2f} s"
    )
    tuning = session.get("tuning")
    if not tuning:
        return head + " (its default settings)."
    line = (
        f"{head}; tuned on {tuning['validation_sessions']:,} held-out sessions "
        f"({tuning['settings_tried']} settings, HR@20 + MRR@20 {tuning['validation']:.4f}): "
        f"{_settings_text({k: 'off' if v is None else v for k, v in session['tuned'].items()})}."
    )
    if tuning.get("budget_exhausted"):
        line += f" Its search ran out of time ({tuning['budget_s']:g} s); --budget gives it more."
    return line


@app.command(rich_help_panel=PANEL)
def recommend(
    customer: Annotated[str | None, typer.Argument(help="Customer id.")] = None,
    n: NOpt = 10,
    session: Annotated[
        str | None,
        typer.Option("--session", help="Anonymous visit: the items seen so far, ITEM,ITEM,..."),
    ] = None,
    all_customers: Annotated[
        bool, typer.Option("--all-customers", help="Batch: every customer, written to --out.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="CSV for --all-customers (columns customer_id, rank, item_id, score)."
        ),
    ] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show the reasons.")] = False,
    include_seen: Annotated[
        bool, typer.Option("--include-seen", help="Allow items the customer already has.")
    ] = False,
    category: CategoryOpt = None,
    exclude_category: ExcludeCategoryOpt = None,
    exclude: Annotated[str | None, typer.Option("--exclude", help="Items never to show.")] = None,
    diversity: Annotated[
        float, typer.Option("--diversity", min=0.0, max=0.99, help="MMR diversity, 0..0.99.")
    ] = 0.0,
    novelty: Annotated[
        float, typer.Option("--novelty", min=0.0, help="Popularity penalty (0 = none).")
    ] = 0.0,
    model: ModelOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recommend items for a customer, an anonymous session, or every customer.

    Examples: `omotenashi recommend C42 -n 10 --explain`; `omotenashi recommend --session
    A12,B7 -n 10`; `omotenashi recommend --all-customers -n 20 --out recs.csv`.
    """
    modes = sum([customer is not None, session is not None, all_customers])
    if modes != 1:
        raise _fail(ValueError("give exactly one of CUSTOMER, --session or --all-customers"))
    try:
        with _engine(db) as om:
            if all_customers:
                from omotenashi.cli._common import steps

                rules = _rules(include_seen, category, exclude_category, exclude, 0.0, novelty)
                with steps(enabled=not json_out) as shown:
                    shown.phase("loading the model and the customers")
                    frame = om.recommendations.for_all_customers(
                        n,
                        rules=rules,
                        model=model,
                        progress=shown,
                        total=lambda count: shown.count("recommending", count, "customers"),
                    )
                    shown.phase(f"writing {(out or Path('recs.csv')).name}")
                    target = out or Path("recs.csv")
                    frame.to_csv(target, index=False)
                info = {
                    "out": str(target),
                    "customers": int(frame["customer_id"].nunique()),
                    "rows": len(frame),
                }
                if json_out:
                    emit_json(info)
                else:
                    console.print(
                        f"Wrote {info['rows']:,} rows for {info['customers']:,} customers "
                        f"to {target}"
                    )
                return
            titles = om.recommendations.titles()
            if session is not None:
                items = [s.strip() for s in session.split(",") if s.strip()]
                if not items:
                    from omotenashi.errors import DataError

                    raise DataError("--session names no item (ITEM,ITEM,...)", field="session")
                rules = _rules(
                    include_seen, category, exclude_category, exclude, diversity, novelty
                )
                recs = om.recommendations.for_session(items, n, rules=rules)
                title = f"For this visit ({len(items)} items seen)"
            else:
                rules = _rules(
                    include_seen, category, exclude_category, exclude, diversity, novelty
                )
                recs = om.recommendations.for_customer(customer, n, rules=rules, model=model)
                title = f"For customer {customer}"
    except (OmotenashiError, ValueError) as exc:
        raise _fail(exc) from exc
    rows = _rec_rows(recs, titles)
    personal = {
        "personalized": getattr(recs, "personalized", True),
        "personalization": {
            "mode": getattr(recs, "mode", "full"),
            "reason": getattr(recs, "reason", None),
        },
    }
    if json_out:
        emit_json(
            {"customer_id": customer, "session": session, **personal, "recommendations": rows}
        )
    else:
        if not personal["personalized"] or personal["personalization"]["mode"] == "light":
            title += f" ({personal['personalization']['mode']}: {recs.reason})"
        _print_recs(title, rows, explain)


@app.command(rich_help_panel=PANEL)
def similar(
    item: Annotated[str, typer.Argument(help="Item id.")],
    n: NOpt = 10,
    category: CategoryOpt = None,
    exclude_category: ExcludeCategoryOpt = None,
    model: ModelOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Items similar to ITEM, according to the trained model."""
    try:
        with _engine(db) as om:
            rules = _rules(False, category, exclude_category, None, 0.0, 0.0)
            recs = om.recommendations.similar(item, n, rules=rules, model=model)
            titles = om.recommendations.titles()
    except (OmotenashiError, ValueError) as exc:
        raise _fail(exc) from exc
    rows = _rec_rows(recs, titles)
    if json_out:
        emit_json({"item_id": item, "similar": rows})
    else:
        _print_recs(f"Similar to {item}", rows, explain=False)


# -- evaluation --------------------------------------------------------------------------------
MapOpt = Annotated[
    str,
    typer.Option(
        "--map",
        help="Columns, KEY=COLUMN joined by commas (names, or 0-based positions for files "
        "without a header); the default is in the text above.",
        show_default=False,
    ),
]
ModelsOpt = Annotated[
    str,
    typer.Option("--models", help="Our models to run next to the peers (comma-separated names)."),
]
PeersOpt = Annotated[bool, typer.Option("--peers/--no-peers", help="Run the peer models.")]


def _emit_row(json_out: bool):
    def show(row: dict[str, Any]) -> None:
        if json_out:
            emit_json(row)
        else:
            metrics = "  ".join(
                f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                for k, v in row.items()
                if k not in ("model", "params")
            )
            console.print(f"[bold]{row['model']}[/] {row['params']}\n    {metrics}")

    return show


@evaluate_app.command("topn")
def evaluate_topn_command(
    data: Annotated[Path, typer.Option("--data", help="Ratings or interactions file.")],
    mapping: MapOpt = "user=user_id,item=item_id,rating=rating,time=timestamp",
    min_rating: Annotated[
        float | None,
        typer.Option(
            "--min-rating",
            help="Ratings at or above are positives (default: where train draws liking, 4 on "
            "five stars, as far up any other scale).",
        ),
    ] = None,
    models: ModelsOpt = "recent_ease",
    peers: PeersOpt = True,
    tune: Annotated[
        bool,
        typer.Option(
            "--tune",
            help="Also run our models with the settings train would choose, tuned on a "
            "validation split of the training part.",
        ),
    ] = False,
    budget: Annotated[
        float,
        typer.Option("--budget", help="With --tune: seconds of search per model."),
    ] = 60.0,
    encoding: EncodingOpt = "utf-8",
    decimal: DecimalOpt = ".",
    json_out: JsonOpt = False,
) -> None:
    """Protocol P1: per-user temporal 80/20 split, NDCG@10 and Recall@20, one line per model.

    Map keys: user (or customer), item, rating, time; default --map
    user=user_id,item=item_id,rating=rating,time=timestamp.

    Positives are ratings >= --min-rating (all rows without ratings); users with < 5 positives
    are dropped; the last 20% of each user's positives by time are the test set; every item is
    ranked, the user's train items excluded. Peers: popularity, EASE (λ 100/300/1000),
    implicit ALS (4 settings), implicit BM25 item-kNN.
    """
    from omotenashi.cli._common import steps
    from omotenashi.services import Evaluation

    try:
        with steps(enabled=not json_out) as shown:
            shown.phase(f"reading {data.name}" + (", tuning on a validation split" if tune else ""))
            split, candidates = Evaluation.topn_candidates(
                data,
                mapping,
                min_rating=min_rating,
                models=[m.strip() for m in models.split(",") if m.strip()],
                peers=peers,
                tune=tune,
                budget=budget,
                encoding=encoding,
                decimal=decimal,
            )
            shown.count("models", len(candidates), "models")
            show = _emit_row(json_out)

            def on_result(row: dict[str, Any]) -> None:
                show(row)
                shown(1)

            Evaluation.topn(split, candidates, on_result=on_result)
    except (OmotenashiError, ValueError) as exc:
        raise _fail(exc) from exc


@evaluate_app.command("sessions")
def evaluate_sessions_command(
    mapping: MapOpt = "session=session_id,item=item_id,time=timestamp",
    train_file: Annotated[
        Path | None, typer.Option("--train", help="Training clicks (with --test).")
    ] = None,
    test_file: Annotated[Path | None, typer.Option("--test", help="Test clicks.")] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="One click file: the last 20% of sessions by day go to test."),
    ] = None,
    models: ModelsOpt = "sknn",
    peers: PeersOpt = True,
    encoding: EncodingOpt = "utf-8",
    decimal: DecimalOpt = ".",
    json_out: JsonOpt = False,
) -> None:
    """Protocol S1: next-click prediction in sessions, HR@20 and MRR@20, one line per model.

    Test items unseen in train are dropped, then sessions shorter than 2; at every position the
    model sees the clicks so far and returns 20 items. Map keys: session, item, time
    (customer, offset_ms optional); default --map session=session_id,item=item_id,time=timestamp.
    Peers: popularity, EASE (λ 100/300/1000), ALS, BM25 kNN.
    """
    from omotenashi.cli._common import steps
    from omotenashi.services import Evaluation

    files = ", ".join(f.name for f in (data, train_file, test_file) if f is not None)
    try:
        with steps(enabled=not json_out) as shown:
            shown.phase(f"reading {files or 'the clicks'}")
            split, candidates = Evaluation.sessions_candidates(
                mapping,
                data=data,
                train=train_file,
                test=test_file,
                models=[m.strip() for m in models.split(",") if m.strip()],
                peers=peers,
                encoding=encoding,
                decimal=decimal,
            )
            shown.count("models", len(candidates), "models")
            show = _emit_row(json_out)

            def on_result(row: dict[str, Any]) -> None:
                show(row)
                shown(1)

            Evaluation.sessions(split, candidates, on_result=on_result)
    except (OmotenashiError, ValueError) as exc:
        raise _fail(exc) from exc
