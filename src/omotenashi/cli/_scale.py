"""Scale CLI: ``export-events`` (the event log to partitioned Parquet) and ``spark-train``.

Commands parse options, call ``om.scale`` and print; Spark starts only inside ``spark-train``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from omotenashi.cli._apps import app
from omotenashi.cli._common import DbOpt, JsonOpt, console, emit_json
from omotenashi.errors import OmotenashiError

PANEL = "Scale"


def _fail(exc: Exception) -> typer.Exit:
    from omotenashi.cli._common import fail

    return fail(exc, code=2)


def _engine(db: str | None):
    from omotenashi.services import Omotenashi

    return Omotenashi(db, create=False)


@app.command("export-events", rich_help_panel=PANEL)
def export_events(
    directory: Annotated[Path, typer.Argument(help="Export folder (created when missing).")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export the events stored since the last export to Parquet, by day.

    Files go to DIR/events/dt=YYYY-MM-DD/; DIR/_manifest.json keeps the
    watermark (the last exported event seq) and lists the committed files.
    Run it again to add only what is new. See docs/scale.md.
    """
    from omotenashi.cli._common import progress_bar

    try:
        with _engine(db) as om, progress_bar("exporting events", None, not json_out) as bar:
            info = om.scale.export_events(directory, progress=bar.reach)
    except (OmotenashiError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    if json_out:
        emit_json(info)
        return
    console.print(
        f"Exported {info['rows']:,} new events (seq {info['after_seq']} → "
        f"{info['watermark_seq']}) into {len(info['files'])} file(s) over "
        f"{len(info['partitions'])} day(s); {info['total_rows']:,} events in {directory}",
        soft_wrap=True,
    )


@app.command("spark-train", rich_help_panel=PANEL)
def spark_train(
    events_dir: Annotated[Path, typer.Argument(help="A folder written by export-events.")],
    master: Annotated[
        str, typer.Option(help="Spark master: local[2], spark://host:7077, yarn, k8s://...")
    ] = "local[2]",
    factors: Annotated[int, typer.Option(help="ALS latent factors.", min=1)] = 64,
    iterations: Annotated[int, typer.Option(help="ALS iterations.", min=1)] = 15,
    regularization: Annotated[float, typer.Option(help="ALS regularisation.", min=0)] = 0.05,
    alpha: Annotated[float, typer.Option(help="ALS confidence scaling.", min=0)] = 2.0,
    conf: Annotated[
        list[str] | None,
        typer.Option("--conf", help="Spark setting KEY=VALUE (repeatable)."),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Train with Spark on exported events; save models the server loads.

    Computes RFM features (saved as the store's 'rfm' scores), similar
    items (cosine co-occurrence), bought together (orders) and ALS factors
    (Spark MLlib), and saves them as new model versions of the --db store;
    a running server swaps them in. Needs the 'spark' extra.
    """
    from omotenashi.cli._common import steps

    settings: dict[str, str] = {}
    for entry in conf or []:
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise _fail(ValueError(f"--conf {entry!r}: expected KEY=VALUE"))
        settings[key.strip()] = value.strip()
    try:
        with steps(enabled=not json_out) as shown, _engine(db) as om:
            info = om.scale.spark_train(
                events_dir,
                master=master,
                factors=factors,
                iterations=iterations,
                regularization=regularization,
                alpha=alpha,
                spark_conf=settings,
                phase=shown.phase,
            )
            shown.done()
    except (OmotenashiError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    if json_out:
        emit_json(info)
        return
    saved = ", ".join(f"{name} v{version}" for name, version in info["models"].items())
    console.print(
        f"Spark ({master}) trained {saved} from {info['interactions']:,} interactions; "
        f"default: {info['default']}; RFM scores for {info['customers']:,} customers",
        soft_wrap=True,
    )
