"""Security commands: ``access-log`` (who read or changed whose data) and ``encryption``
(personal attributes encrypted at rest: status, fields, a new key, rotation).

Thin: each command calls one service (``om.access``, ``om.encryption``) and prints.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from omotenashi.cli._apps import app
from omotenashi.cli._common import DbOpt, JsonOpt, console, emit_json

PANEL = "Security"

encryption_app = typer.Typer(
    help="Personal customer attributes encrypted at rest (keys in OMOTENASHI_ENCRYPTION_KEYS).",
    no_args_is_help=True,
)
app.add_typer(encryption_app, name="encryption", rich_help_panel=PANEL)

_COLUMNS = ("at", "key_id", "action", "customer_id", "workspace")


def _engine(db: str | None):
    from omotenashi.services import Omotenashi

    return Omotenashi(db, create=False)


@app.command("access-log", rich_help_panel=PANEL)
def access_log(
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only this person (any of their ids).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this time (ISO date or time), included.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Up to this time, excluded.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the newest N entries.", min=1)] = None,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Write the entries to this CSV file.")
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Who read or changed a person's data: key, time, action, customer id (never the values).

    Example: omotenashi access-log --customer c42 --since 2025-01-01 --csv access.csv
    """
    with _engine(db) as om:
        rows = om.access.entries(customer, since=since, until=until, limit=limit)
    if csv_out is not None:
        with open(csv_out, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    if json_out:
        emit_json({"entries": rows, "csv": str(csv_out) if csv_out else None})
        return
    if csv_out is not None:
        console.print(f"{len(rows):,} entries written to {csv_out}")
        return
    table = Table(*_COLUMNS, title=f"access log ({len(rows):,} entries)")
    for row in rows:
        table.add_row(*(str(row[c] if row[c] is not None else "(anonymised)") for c in _COLUMNS))
    console.print(table)


@encryption_app.command("status")
def encryption_status(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Personal attribute names, keys set, records encrypted and records still in the clear."""
    with _engine(db) as om:
        state = om.encryption.status()
    if json_out:
        emit_json(state)
        return
    console.print(
        f"personal attributes: {', '.join(state['personal_fields'])}\n"
        f"keys set: {state['keys']}  records encrypted: {state['records_sealed']:,}  "
        f"records with personal values in the clear: "
        f"{state['records_with_clear_personal_values']:,}"
    )


@encryption_app.command("fields")
def encryption_fields(
    names: Annotated[list[str], typer.Argument(help="Attribute names (e.g. email phone name).")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Set which customer attributes are personal in this store (then run rotate)."""
    with _engine(db) as om:
        fields = om.encryption.set_personal_fields([n for v in names for n in v.split(",")])
    if json_out:
        emit_json({"personal_fields": list(fields)})
    else:
        console.print(f"personal attributes: {', '.join(fields)}")


@encryption_app.command("new-key")
def encryption_new_key(json_out: JsonOpt = False) -> None:
    """Print a fresh Fernet key (put it first in OMOTENASHI_ENCRYPTION_KEYS)."""
    from omotenashi.services import Encryption

    key = Encryption.new_key()
    if json_out:
        emit_json({"key": key})
    else:
        typer.echo(key)


@encryption_app.command("rotate")
def encryption_rotate(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Re-encrypt every customer record with the first key of OMOTENASHI_ENCRYPTION_KEYS.

    Older keys after the first still decrypt; once this ran they can be removed. Personal
    values still in the clear (encryption switched on later) are encrypted too.
    """
    with _engine(db) as om:
        changed = om.encryption.rotate()
    if json_out:
        emit_json({"records_changed": changed})
    else:
        console.print(f"{changed:,} customer records re-encrypted with the first key")
