"""``omotenashi nba`` and ``omotenashi outreach ...``: next-best-action for one customer and
the outreach queue for everyone (``om.outreach``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from omotenashi.cli._apps import app
from omotenashi.cli._common import DbOpt, JsonOpt, fail
from omotenashi.errors import OmotenashiError

PANEL = "Outreach"
outreach_app = typer.Typer(
    help="Outreach queue: contacts for a date under consent, caps, quiet hours and cool-downs.",
    no_args_is_help=True,
)
app.add_typer(outreach_app, name="outreach", rich_help_panel=PANEL)

DateOpt = Annotated[
    str | None, typer.Option("--date", help="Day of the contacts, YYYY-MM-DD (default: today).")
]
RemindersOpt = Annotated[
    Path | None,
    typer.Option(
        "--reminders",
        help="CSV of due reminders: customer_id, topic, rule, due, reason, priority.",
    ),
]
IdsArg = Annotated[
    list[str] | None,
    typer.Argument(help="Contact ids (default: all of --date).", show_default=False),
]


def _reminders(om: Any, path: Path | None) -> Any:
    from omotenashi.services import read_reminders

    return None if path is None else read_reminders(path)


@app.command(rich_help_panel=PANEL)
def nba(
    customer: Annotated[str, typer.Argument(help="Customer id (any id of the person).")],
    date: DateOpt = None,
    reminders: RemindersOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Next-best-action: a customer's actions ranked, with the reason for each.

    Actions come from `omotenashi outreach actions FILE` (a built-in set until
    then); each is checked against its rule, consent, channel caps, cool-down
    and open topics, e.g. omotenashi nba c42 --date 2026-06-01
    """
    from omotenashi.cli._common import console, emit_json
    from omotenashi.services import Omotenashi

    try:
        with Omotenashi(db, create=False) as om:
            answer = om.outreach.next_best_actions(
                customer, date=date, reminders=_reminders(om, reminders)
            )
    except OmotenashiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(answer)
        return
    from rich.table import Table

    table = Table(title=f"Next best actions for {answer['customer_id']} on {answer['date']}")
    for name in ("#", "action", "channel", "value", "p", "why"):
        table.add_column(name, overflow="fold")
    for r in answer["actions"]:
        ev = "-" if r["expected_value"] is None else f"{r['expected_value']:.2f}"
        mark = f"{r['rank']}*" if r["best"] else str(r["rank"])
        table.add_row(mark, r["action"], r["channel"], ev, f"{r['probability']:.2f}", r["reason"])
    console.print(table)


@outreach_app.command("actions")
def actions(
    file: Annotated[
        Path | None,
        typer.Argument(help="JSON: a list of actions or {actions, policy}.", show_default=False),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the declared actions and contact policy, or declare them from FILE."""
    from omotenashi.cli._common import console, emit_json
    from omotenashi.services import Omotenashi

    try:
        with Omotenashi(db, create=file is not None) as om:
            if file is not None:
                data = om.outreach.declare_file(file)
            else:
                data = {
                    "actions": [a.to_dict() for a in om.outreach.actions()],
                    "policy": om.outreach.policy().to_dict(),
                }
    except OmotenashiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(data)
        return
    for a in data["actions"]:
        rule = f" when {a['eligible']}" if a["eligible"] else ""
        console.print(f"{a['id']}: {a['kind']} by {a['channel']}{rule}", highlight=False)
    console.print(f"policy: {data['policy']}", highlight=False)


def _run(
    date: str | None,
    reminders: Path | None,
    db: str | None,
    json_out: bool,
    preview: bool,
    show: int,
) -> None:
    from omotenashi.cli._common import console, emit_json, frame_records, steps
    from omotenashi.services import Omotenashi

    try:
        with steps(not json_out) as shown, Omotenashi(db, create=False) as om:
            queue = om.outreach.run(
                date, preview=preview, reminders=_reminders(om, reminders), phase=shown.phase
            )
    except OmotenashiError as exc:
        raise fail(exc) from None
    counts = queue.groupby(["action", "channel"]).size() if len(queue) else None
    if json_out:
        emit_json(
            {
                "preview": preview,
                "contacts": len(queue),
                "by_action": {}
                if counts is None
                else {f"{a}/{c}": int(n) for (a, c), n in counts.items()},
                "rows": frame_records(queue.head(show).astype({"send_at": str})),
            }
        )
        return
    what = "would be proposed (preview)" if preview else "proposed"
    console.print(f"{len(queue):,} contacts {what}", highlight=False)
    if counts is not None:
        for (a, c), n in counts.items():
            console.print(f"  {a} by {c}: {n:,}", highlight=False)
        for r in queue.head(show).itertuples(index=False):
            console.print(
                f"{r.contact_id[:8]} {r.customer_id} {r.action} {r.local_time} "
                f"{r.time_zone}: {r.reasons}",
                highlight=False,
                soft_wrap=True,
            )


@outreach_app.command("run")
def run(
    date: DateOpt = None,
    reminders: RemindersOpt = None,
    show: Annotated[int, typer.Option("--show", min=0, help="Contacts to list.")] = 5,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Propose the contacts of a date for everyone (replaces the date's proposals)."""
    _run(date, reminders, db, json_out, False, show)


@outreach_app.command("preview")
def preview(
    date: DateOpt = None,
    reminders: RemindersOpt = None,
    show: Annotated[int, typer.Option("--show", min=0, help="Contacts to list.")] = 5,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Dry run: the contacts a run would propose, nothing stored."""
    _run(date, reminders, db, json_out, True, show)


def _move(
    verb: str, ids: list[str] | None, date: str | None, db: str | None, json_out: bool
) -> None:
    from omotenashi.cli._common import console, emit_json
    from omotenashi.services import Omotenashi

    try:
        with Omotenashi(db, create=False) as om:
            moved = getattr(om.outreach, verb)(ids or None, date=date)
    except OmotenashiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json({verb: moved, "count": len(moved)})
    else:
        console.print(f"{verb}: {len(moved):,} contacts", highlight=False)


@outreach_app.command("approve")
def approve(
    ids: IdsArg = None, date: DateOpt = None, db: DbOpt = None, json_out: JsonOpt = False
) -> None:
    """Approve proposed contacts (each is logged as a decision with its propensity)."""
    _move("approve", ids, date, db, json_out)


@outreach_app.command("skip")
def skip(
    ids: IdsArg = None, date: DateOpt = None, db: DbOpt = None, json_out: JsonOpt = False
) -> None:
    """Skip proposed or approved contacts."""
    _move("skip", ids, date, db, json_out)


@outreach_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    date: DateOpt = None,
    mark_sent: Annotated[
        bool, typer.Option("--mark-sent", help="Record the exported contacts as sent.")
    ] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write approved contacts as CSV for a mailing or call-centre tool."""
    from omotenashi.cli._common import console, emit_json
    from omotenashi.services import Omotenashi

    try:
        with Omotenashi(db, create=False) as om:
            frame = om.outreach.export(out, date=date, mark_sent=mark_sent)
    except OmotenashiError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise fail(exc, 2) from None
    if json_out:
        emit_json({"written": str(out), "contacts": len(frame), "marked_sent": mark_sent})
    else:
        console.print(f"{len(frame):,} contacts written to {out}", highlight=False)


@outreach_app.command("record")
def record(
    contact: Annotated[
        str | None, typer.Argument(help="Contact id (or --file).", show_default=False)
    ] = None,
    status: Annotated[str | None, typer.Option("--status", help="sent or failed.")] = None,
    outcome: Annotated[
        str | None,
        typer.Option("--outcome", help="What the customer did: responded, converted, ignored ..."),
    ] = None,
    value: Annotated[
        float | None, typer.Option("--value", help="Money the outcome brought.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="CSV: contact_id, status and/or outcome, value."),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record that contacts were sent and what each customer did next."""
    from omotenashi.cli._common import console, emit_json
    from omotenashi.errors import DataError
    from omotenashi.services import Omotenashi

    try:
        if (contact is None) == (file is None):
            raise DataError("record: give a contact id or --file, not both", field="contact")
        with Omotenashi(db, create=False) as om:
            if file is not None:
                data: dict[str, Any] = om.outreach.record_file(file)
            else:
                assert contact is not None
                row = om.outreach.record(contact, status=status, outcome=outcome, value=value)
                data = {k: row[k] for k in ("contact_id", "status", "outcome", "outcome_value")}
    except OmotenashiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(data)
    else:
        console.print(", ".join(f"{k}: {v}" for k, v in data.items()), highlight=False)


@outreach_app.command("list")
def list_contacts(
    date: DateOpt = None,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List stored contacts of a date (all dates without --date)."""
    from omotenashi.cli._common import console, emit_json, frame_records
    from omotenashi.errors import DataError
    from omotenashi.services import STATUSES, Omotenashi

    try:
        if status is not None and status not in STATUSES:
            raise DataError(f"--status: {status!r} is not one of {list(STATUSES)}", field="status")
        with Omotenashi(db, create=False) as om:
            frame = om.outreach.contacts(date, [status] if status else None)
    except OmotenashiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(frame_records(frame.astype({"send_at": str})))
        return
    for r in frame.itertuples(index=False):
        console.print(
            f"{r.contact_id} {r.run_date} {r.customer_id} {r.action} {r.status} {r.outcome or ''}",
            highlight=False,
        )
