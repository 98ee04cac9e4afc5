"""``omotenashi evaluate ope`` and ``omotenashi decide simulate|train``: decision-policy commands.

Commands parse options, call the services (``Decisions``, ``Evaluation``) and print: a rich
table for people, JSON lines with ``--json`` for programs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from omotenashi.cli._apps import app, evaluate_app
from omotenashi.cli._common import DecimalOpt, EncodingOpt, console, emit_json, progress_bar
from omotenashi.errors import OmotenashiError

decide_app = typer.Typer(
    help="Decisions: contextual-bandit policies for per-person variants (simulate, train).",
    no_args_is_help=True,
)
app.add_typer(decide_app, name="decide", rich_help_panel="Decisions")

LogsOpt = Annotated[
    str,
    typer.Option(
        "--logs",
        help="Logged decisions: an OBD campaign CSV (--preset obd), a decision-log SQLite file, "
        "a PostgreSQL store URL or a CSV/parquet export (--preset decisions), or any "
        "CSV/parquet with --map.",
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="Column of a role, ROLE=COLUMN (repeatable): action, reward, pscore (required) and "
        "context (comma-separated columns or patterns such as user_feature_*).",
    ),
]
PresetOpt = Annotated[
    str | None, typer.Option("--preset", help="Known log layout: obd or decisions.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON lines for programs.")]


def _fail(exc: Exception) -> typer.Exit:
    from omotenashi.cli._common import fail

    return fail(exc)


def _mapping(items: list[str] | None) -> str | None:
    """The ``--map`` options as one column map; the one ``--map`` parser reads it with the logs."""
    return ";".join(items) if items else None


def _policy(spec: str) -> Any:
    from omotenashi.services import Decisions

    found = Decisions.policy(spec)
    if found is not None:
        return found
    raise typer.BadParameter(
        f"{spec!r}: use 'uniform' or the path of a saved learner (.npz from 'decide train')",
        param_hint="--policy",
    )


@evaluate_app.command("ope")
def ope_command(
    logs: LogsOpt,
    policy: Annotated[
        str,
        typer.Option("--policy", help="'uniform' or a saved learner file (from decide train)."),
    ],
    mapping: MapOpt = None,
    preset: PresetOpt = None,
    estimators: Annotated[
        str, typer.Option("--estimators", help="Comma-separated: ipw,snipw,dm,dr,switch-dr,sndr.")
    ] = "ipw,snipw,dm,dr,switch-dr,sndr",
    n_bootstrap: Annotated[int, typer.Option("--n-bootstrap", help="Bootstrap resamples.")] = 1000,
    alpha: Annotated[float, typer.Option("--alpha", help="Interval level is 1 - alpha.")] = 0.05,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth-logs",
            help="On-policy logs of the evaluated policy (same layout): adds the observed mean "
            "reward and each estimator's relative error.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of folds and bootstrap.")] = 0,
    encoding: EncodingOpt = "utf-8",
    decimal: DecimalOpt = ".",
    as_json: JsonOpt = False,
) -> None:
    """Estimate a policy's value from logs of another policy (off-policy evaluation).

    Prints one row (or JSON line) per estimator: estimator, value, ci_low, ci_high, ess.

    Example: omotenashi evaluate ope --logs ../shared/datasets/obd/bts/men/men.csv
    --preset obd --policy uniform --json
    """
    from omotenashi.cli._common import steps
    from omotenashi.services import Evaluation

    try:
        read: dict[str, Any] = {
            "preset": preset,
            "mapping": _mapping(mapping),
            "encoding": encoding,
            "decimal": decimal,
        }
        with steps(enabled=not as_json) as shown:
            shown.phase(f"reading {Path(logs).name}")
            requests = Evaluation.read_logs(logs, **read)
            pol = _policy(policy)
            log = requests.log
            truth_requests = None
            if truth is not None:
                shown.phase(f"reading {truth.name}")
                truth_requests = Evaluation.read_logs(truth, **read)
            if not (pol.kind == "uniform" and requests.eligible is None):  # else closed form
                shown.count("scoring rounds", log.n_rounds, "rounds")
            results = Evaluation.ope(
                requests,
                pol,
                estimators=[e.strip() for e in estimators.split(",") if e.strip()],
                n_bootstrap=n_bootstrap,
                alpha=alpha,
                seed=seed,
                truth=truth_requests,
                progress=shown.reach,
                phase=shown.phase,
            )
    except OmotenashiError as exc:
        raise _fail(exc) from None
    rows = [{**row, "policy": policy} for row in results]
    observed = rows[0]["truth"] if rows and "truth" in rows[0] else None
    if as_json:
        for row in rows:
            emit_json(row)
        return
    from omotenashi.cli._common import figure_tables

    source = Path(logs).name
    headers = ["estimator", "value", f"{1 - alpha:.0%} interval", "ESS"]
    if observed is not None:
        headers.append("rel. error")
    cells = []
    for row in rows:
        line = [
            row["estimator"],
            f"{row['value']:.5g}",
            f"[{row['ci_low']:.5g}, {row['ci_high']:.5g}]",
            f"{row['ess']:.0f}",
        ]
        if observed is not None:
            line.append(f"{row['rel_error']:.1%}" + ("" if row["covered"] else " (outside)"))
        cells.append(line)
    title = f"Off-policy value of {policy!r} from {source} ({log.n_rounds:,} rounds)"
    for table in figure_tables(title, headers, cells):
        console.print(table)
    if observed is not None:
        console.print(f"observed on-policy mean reward: {observed:.5g}")


@decide_app.command("simulate")
def simulate_command(
    policies: Annotated[
        str,
        typer.Option(
            "--policies",
            help="Comma-separated: uniform, epsilon-greedy, linucb, linear-ts, logistic-ts, vw.",
        ),
    ] = "epsilon-greedy,linucb,linear-ts",
    rounds: Annotated[int, typer.Option("--rounds", help="Requests per policy.")] = 10_000,
    delay: Annotated[int, typer.Option("--delay", help="Rewards arrive N rounds later.")] = 0,
    floor: Annotated[
        float, typer.Option("--exploration-floor", help="Uniform share mixed into every policy.")
    ] = 0.02,
    seed: Annotated[int, typer.Option("--seed", help="Seed of people and requests.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Run policies on the synthetic artwork environment and report cumulative regret."""
    from omotenashi.services import Decisions

    rows = []
    try:
        for kind in [p.strip() for p in policies.split(",") if p.strip()]:
            with progress_bar(kind, rounds, enabled=not as_json, unit="rounds") as advance:
                rows.append(  # the simulator reports the rounds done so far
                    Decisions.simulate(
                        kind, rounds, delay=delay, floor=floor, seed=seed, progress=advance.reach
                    )
                )
    except OmotenashiError as exc:
        raise _fail(exc) from None
    if as_json:
        for row in rows:
            emit_json(row)
        return
    from omotenashi.cli._common import figure_tables

    headers = ["policy", "regret vs oracle", "best fixed variant's regret", "decisions/s"]
    cells = [
        [
            r["policy"],
            f"{r['regret_vs_oracle']:.1f}",
            f"{r['best_fixed_regret_vs_oracle']:.1f} ({r['best_fixed_variant']})",
            f"{r['decisions_per_second']:,.0f}",
        ]
        for r in rows
    ]
    title = f"Cumulative regret after {rounds:,} rounds (artwork simulator)"
    for table in figure_tables(title, headers, cells):
        console.print(table)


@decide_app.command("train")
def train_command(
    logs: LogsOpt,
    out: Annotated[Path, typer.Option("--out", help="Where to save the learner (.npz).")],
    policy: Annotated[
        str, typer.Option("--policy", help="epsilon-greedy, linucb, linear-ts, logistic-ts or vw.")
    ] = "linucb",
    params: Annotated[
        str, typer.Option("--params", help='Hyperparameters as JSON, e.g. {"alpha": 0.3}.')
    ] = "{}",
    mapping: MapOpt = None,
    preset: PresetOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the learner.")] = 0,
    encoding: EncodingOpt = "utf-8",
    decimal: DecimalOpt = ".",
    as_json: JsonOpt = False,
) -> None:
    """Warm-start a learner from logged decisions and save it (evaluate it with evaluate ope)."""
    from omotenashi.cli._common import steps
    from omotenashi.services import Decisions

    try:
        try:
            hyper = json.loads(params)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"not JSON ({exc})", param_hint="--params") from None
        learner = Decisions.learner(policy, hyper, seed)
        with steps(enabled=not as_json) as shown:
            shown.phase(f"reading {Path(logs).name}")
            requests = Decisions.read_logs(
                logs, preset=preset, mapping=_mapping(mapping), encoding=encoding, decimal=decimal
            )
            shown.count("learning", requests.log.n_rounds, "rounds")
            summary = {
                **Decisions.train(learner, requests, out, progress=shown.reach),
                "policy": policy,
            }
    except OmotenashiError as exc:
        raise _fail(exc) from None
    if as_json:
        emit_json(summary)
    else:
        console.print(f"learned from {summary['updates']:,} rewarded rounds; saved to {out}")
