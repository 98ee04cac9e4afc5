"""``omotenashi recalls``, ``care score``, ``goals ...``, ``concierge ...``: care and
named-person commands.

Thin: parse options, call ``om.care`` / ``om.concierge``, print a table or ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from omotenashi.cli._apps import app
from omotenashi.cli._common import DbOpt, JsonOpt, console, emit_json, figure_tables, steps
from omotenashi.errors import OmotenashiError

goals_app = typer.Typer(
    help="Goals customers hold: add, list, progress and nudges.", no_args_is_help=True
)
concierge_app = typer.Typer(
    help="Named-person care: select, assign agents, briefs, contact KPIs.", no_args_is_help=True
)
care_app = typer.Typer(help="Clinic care: save the patients' lapse risk.", no_args_is_help=True)
app.add_typer(care_app, name="care", rich_help_panel="Care")
app.add_typer(goals_app, name="goals", rich_help_panel="Care")
app.add_typer(concierge_app, name="concierge", rich_help_panel="Care")

AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Day to work out (YYYY-MM-DD); default: last event.")
]
RuleOpt = Annotated[
    list[str] | None,
    typer.Option("--rule", help="Selection rule 'NAME: EXPRESSION' (repeatable); default set."),
]


def _om(db: str | None) -> Any:
    from omotenashi.services import Omotenashi

    return Omotenashi(db, create=False)


def _fail(exc: Exception) -> typer.Exit:
    from omotenashi.cli._common import fail

    return fail(exc)


def _print(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        console.print(f"{title}: none")
        return
    body = [[str(r.get(c, "") if r.get(c) is not None else "") for c in columns] for r in rows]
    for table in figure_tables(
        title, columns, body, numeric=[c in ("priority", "need") for c in columns]
    ):
        console.print(table)


@app.command("recalls", rich_help_panel="Care")
def recalls_command(
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    lead_days: Annotated[
        int, typer.Option("--lead-days", min=0, help="Also list recalls due within N days.")
    ] = 30,
    customer: Annotated[str | None, typer.Option("--customer", help="Only this patient.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows shown in the table.")] = 30,
    json_out: JsonOpt = False,
) -> None:
    """Clinic recalls due (wellness, vaccines, follow-ups, care plans), most urgent first."""
    try:
        with steps(not json_out) as shown, _om(db) as om:
            shown.phase("working out recalls")
            rows = om.care.recalls(as_of, lead_days=lead_days, customer_id=customer)
    except OmotenashiError as exc:
        raise _fail(exc) from exc
    if json_out:
        emit_json(rows)
        return
    _print(
        f"Recalls ({len(rows)})", rows[:limit], ["customer_id", "rule", "due", "priority", "reason"]
    )


@care_app.command("score")
def care_score(
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Fit every patient's lapse risk (no visit in the next year) and save it as scores.

    One patient's recalls, brief and next best actions read these scores instead of fitting on
    every patient; a server's background training saves them too."""
    try:
        with steps(not json_out) as shown, _om(db) as om:
            shown.phase("fitting lapse risk on every patient's visits")
            result = om.care.score_lapse_risk(as_of)
    except OmotenashiError as exc:
        raise _fail(exc) from exc
    if json_out:
        emit_json(result)
        return
    console.print(
        f"lapse risk of {result['patients_scored']} patients saved "
        f"(as of {result['as_of']}, scores '{result['source']}')"
    )


@goals_app.command("add")
def goals_add(
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    name: Annotated[str, typer.Option("--name", help="Short name, e.g. 'checkup'.")],
    event_type: Annotated[str, typer.Option("--type", help="Event type that counts, e.g. visit.")],
    target: Annotated[int, typer.Option("--target", help="Events needed per period.")] = 1,
    period_days: Annotated[int, typer.Option("--period-days", help="Period length in days.")] = 182,
    start: Annotated[
        str | None, typer.Option("--start", help="First day (YYYY-MM-DD); default today.")
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", help="Rule over event columns, e.g. \"channel == 'app'\"."),
    ] = None,
    escalate_after: Annotated[
        int, typer.Option("--escalate-after", help="Missed periods before a person takes over.")
    ] = 3,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Give a customer a goal: TARGET events of TYPE every PERIOD-DAYS."""
    try:
        with _om(db) as om:
            goal = om.care.add_goal(
                customer,
                name,
                event_type,
                target,
                period_days,
                start,
                filter=filter_,
                escalate_after=escalate_after,
            )
    except OmotenashiError as exc:
        raise _fail(exc) from exc
    if json_out:
        emit_json(goal)
        return
    console.print(f"goal {goal['goal_id']} for {goal['customer_id']}: {goal['name']}")


@goals_app.command("status")
def goals_status(
    db: DbOpt = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day (YYYY-MM-DD); default today.")
    ] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="Only this customer.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Progress, streaks, lapses and the next nudge of every goal."""
    try:
        with _om(db) as om:
            rows = om.care.goal_statuses(as_of, customer_id=customer)
    except OmotenashiError as exc:
        raise _fail(exc) from exc
    if json_out:
        emit_json(rows)
        return
    shown = [
        {
            "customer_id": r["goal"]["customer_id"],
            "goal": r["goal"]["name"],
            "done": f"{r['done']}/{r['goal']['target']}",
            "streak": r["streak"],
            "nudge_at": r["nudge_at"] or "",
            "reason": r["reason"],
        }
        for r in rows
    ]
    _print("Goals", shown, ["customer_id", "goal", "done", "streak", "nudge_at", "reason"])


@goals_app.command("reminders")
def goals_reminders(
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Reminder rows (recalls and goal nudges) for the outreach queue."""
    try:
        with _om(db) as om:
            rows = om.care.reminders(as_of)
    except OmotenashiError as exc:
        raise _fail(exc) from exc
    if json_out:
        emit_json(rows)
        return
    _print(
        f"Reminders ({len(rows)})", rows[:30], ["customer_id", "topic", "due", "priority", "reason"]
    )


@concierge_app.command("assign")
def concierge_assign(
    agent: Annotated[
        list[str], typer.Option("--agent", help="Agent and capacity NAME=N (repeatable).")
    ],
    rule: RuleOpt = None,
    as_of: AsOfOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, do not save.")] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Pick who needs a named person and assign agents (same agent as last time)."""
    from omotenashi.services import Concierge, parse_agents

    try:
        pool = parse_agents(agent)
        rules = Concierge.parse_selection(rule)
        with _om(db) as om:
            rows = om.concierge.assign(pool, rules, as_of, dry_run=dry_run)
    except OmotenashiError as exc:
        raise _fail(exc) from exc
    if json_out:
        emit_json(rows)
        return
    _print(f"Assignments ({len(rows)})", rows, ["customer_id", "agent", "need", "reason"])


@concierge_app.command("brief")
def concierge_brief(
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    as_of: AsOfOpt = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a printable HTML page here.")
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One-page brief for a call: profile, recent events, needs, talking points."""
    try:
        with _om(db) as om:
            brief = om.concierge.brief(customer, as_of)
            if html is not None:
                from omotenashi.services import Concierge

                html.write_text(Concierge.render_html(brief), encoding="utf-8")
    except OmotenashiError as exc:
        raise _fail(exc) from exc
    if json_out:
        emit_json(brief)
        return
    console.print(f"[bold]{brief['customer_id']}[/] agent: {brief['agent'] or 'none'}")
    for point in brief["talking_points"]:
        console.print(f"  - {point}", markup=False)
    for action in brief["actions"]:
        console.print(f"  > {action}", markup=False)


@concierge_app.command("kpis")
def concierge_kpis(
    window_days: Annotated[
        int, typer.Option("--window-days", min=1, help="Days before/after assignment.")
    ] = 90,
    repeat_days: Annotated[
        int, typer.Option("--repeat-days", min=1, help="A repeat is within N days.")
    ] = 7,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Contact-centre KPIs with 95% intervals, before and after assignment."""
    try:
        with _om(db) as om:
            result = om.concierge.kpis(window_days, repeat_days)
    except OmotenashiError as exc:
        raise _fail(exc) from exc
    if json_out:
        emit_json(result)
        return
    rows = []
    for name in ("fcr", "repeat_rate", "contacts_per_customer", "aht_seconds", "csat", "nps"):
        cells = [name]
        for side in ("all", "before", "after"):
            k = result[side][name]
            low, high = k["ci"]
            cells.append(
                "" if k["value"] is None else f"{k['value']:g} [{low:g}, {high:g}] n={k['n']}"
            )
        rows.append(cells)
    for table in figure_tables("Contact KPIs (95% CI)", ["kpi", "all", "before", "after"], rows):
        console.print(table)
