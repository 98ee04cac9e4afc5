"""Data rights: ``omotenashi export`` (everything held about a person, as one JSON document)
and ``omotenashi erase`` (every row, identity link, decision and model trace, with a receipt)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from omotenashi.cli._apps import app
from omotenashi.cli._common import DbOpt, JsonOpt, console, emit_json, steps
from omotenashi.errors import DataError

PANEL = "People"


@app.command(rich_help_panel=PANEL)
def export(
    customer: Annotated[str, typer.Argument(help="Customer id (or any id of the person).")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the document to this file (default: stdout)."),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Everything held about a person (events, profile, identities, attributes, scores,
    decisions and rewards ...) as one JSON document."""
    from omotenashi.services import Omotenashi

    if output is not None and output.is_dir():
        raise DataError(f"--output: {str(output)!r} is a folder, not a file", field="output")
    with Omotenashi(db, create=False) as om:
        document = om.rights.export(customer)
    text = json.dumps(document, ensure_ascii=False, indent=1, default=str)
    if output is None:
        sys.stdout.write(text + "\n")
        return
    if not output.parent.is_dir():
        raise DataError(f"--output: the folder {str(output.parent)!r} does not exist")
    output.write_text(text + "\n", encoding="utf-8")
    counts = {table: len(rows) for table, rows in document["tables"].items()}
    if json_out:
        emit_json({"output": str(output), "customer_id": document["customer_id"], "rows": counts})
        return
    listed = ", ".join(f"{table} {n}" for table, n in counts.items() if n)
    console.print(f"wrote {output}: {listed} rows", highlight=False)


@app.command(rich_help_panel=PANEL)
def erase(
    customer: Annotated[str, typer.Argument(help="Customer id (or any id of the person).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    no_retrain: Annotated[
        bool,
        typer.Option("--no-retrain", help="Leave the saved models as they are (not advised)."),
    ] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Erase a person: every row in every table, identity links, decisions, and their
    traces in the saved models (fitted again without them). Prints a receipt that names the
    person only by a salted hash."""
    from omotenashi.services import Omotenashi

    if not yes:
        if not sys.stdin.isatty():
            raise DataError("erase: pass --yes to erase without a question (no terminal)")
        typer.confirm(
            f"Erase everything held about {customer!r}? This cannot be undone", abort=True
        )
    with Omotenashi(db, create=False) as om, steps(not json_out) as shown:
        erasure = om.rights.erase(customer, retrain=not no_retrain, step=shown.phase)
    receipt = erasure.receipt
    if json_out:
        emit_json(receipt)
        return
    rows = ", ".join(f"{table} {n}" for table, n in receipt["rows"].items())
    console.print(f"erased rows: {rows}", highlight=False)
    for model in receipt["models"]:
        fitted = f"v{model['version']}" if model["version"] is not None else "deleted (no data)"
        console.print(
            f"model {model['model']}: {fitted}, {model['removed_versions']} older version(s) "
            "removed",
            highlight=False,
        )
    console.print(f"receipt {receipt['receipt_id']} ({receipt['seconds']} s)", highlight=False)
