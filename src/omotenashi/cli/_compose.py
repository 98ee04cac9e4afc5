"""``omotenashi bundle``, ``plan`` and ``message``: composed for one customer (``om.compose``);
``omotenashi evaluate messages``: the message policy judged offline on simulated logs.

Commands parse options, call the service and print: rich tables for people, ``--json`` for
programs. Bad input and infeasible constraints are one line naming what, exit code 2.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from omotenashi.cli._apps import app, evaluate_app
from omotenashi.cli._common import DbOpt, JsonOpt, console, emit_json, err_console

PANEL = "Compose"

CustomerArg = Annotated[str, typer.Argument(help="Customer id (or any merged id).")]
CatalogOpt = Annotated[
    str,
    typer.Option(
        "--catalog",
        help="Catalogue JSON file, or a bundled sample: sample:cafe, sample:gift, sample:travel.",
    ),
]


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}".strip()


@app.command(rich_help_panel=PANEL)
def bundle(
    customer: CustomerArg,
    catalog: CatalogOpt,
    budget: Annotated[
        float | None, typer.Option("--budget", min=0, help="Budget (default: the catalogue's).")
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=50, help="Distinct bundles.")] = 1,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The bundle of a catalogue's parts that suits one customer best.

    Groups (one drink, one main, up to two extras), incompatible pairs,
    required parts, stock and the budget hold; the utility of each part comes
    from the customer's history, category shares, segment and the
    recommendation model. Solved exactly (HiGHS); --top K gives the K best
    distinct bundles. Infeasible constraints are named.
    """
    from omotenashi.services import Omotenashi

    with Omotenashi(db, create=False) as om:
        data = om.compose.bundle(customer, catalog, budget=budget, top=top)
    if json_out:
        emit_json(data)
        return
    from rich.table import Table

    cur = data["currency"]
    for b in data["bundles"]:
        table = Table(
            title=f"Bundle {b['rank']}: {_money(b['price'], cur)}, utility {b['utility']:.3f}",
            title_justify="left",
        )
        table.add_column("part")
        table.add_column("group")
        table.add_column("price", justify="right")
        table.add_column("utility", justify="right")
        table.add_column("why")
        for p in b["parts"]:
            table.add_row(
                p["name"],
                p["group"],
                _money(p["price"], ""),
                f"{p['utility']:.2f}",
                "; ".join(p["reasons"]),
            )
        console.print(table)
    err_console.print(f"solved in {data['solve_ms']:.1f} ms", highlight=False)


@app.command(rich_help_panel=PANEL)
def plan(
    customer: CustomerArg,
    catalog: CatalogOpt,
    start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD.")],
    days: Annotated[int, typer.Option("--days", min=1, max=21, help="Days of the trip.")],
    budget: Annotated[float, typer.Option("--budget", min=0, help="Total budget.")],
    origin: Annotated[
        str | None, typer.Option("--from", help="First city (default: the first listed).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="City of the last day.")] = None,
    pace: Annotated[
        str | None,
        typer.Option("--pace", help="relaxed, moderate or packed (default: from history)."),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A day-by-day trip from a travel catalogue for one customer.

    Hotels, activities and transport within the budget and dates, fitting
    what the customer liked before (categories, price level, pace), each day's
    hours and the connections between cities; solved exactly, explained per
    item.
    """
    from omotenashi.services import Omotenashi

    with Omotenashi(db, create=False) as om:
        data = om.compose.plan(
            customer,
            catalog,
            start=start,
            days=days,
            budget=budget,
            origin=origin,
            end=end,
            pace=pace,
        )
    if json_out:
        emit_json(data)
        return
    from rich.table import Table

    cur = data["currency"]
    table = Table(
        title=f"Trip: {_money(data['price'], cur)} of {_money(data['budget'], cur)}, "
        f"up to {data['hours_per_day']:g} h a day",
        title_justify="left",
    )
    for col in ("day", "city", "item", "price", "why"):
        table.add_column(col, justify="right" if col == "price" else "left")
    city_of = {d["day"]: f"{d['date']} {d['city']}" for d in data["days"]}
    for item in data["items"]:
        table.add_row(
            str(item["day"]),
            city_of[item["day"]],
            f"{item['kind']}: {item['name']}",
            _money(item["price"], ""),
            "; ".join(item["reasons"]),
        )
    console.print(table)


@app.command(rich_help_panel=PANEL)
def message(
    customer: CustomerArg,
    topic: Annotated[str, typer.Option("--topic", help="What the message is about.")],
    channel: Annotated[
        str, typer.Option("--channel", help="email, sms, or call (talking points).")
    ] = "email",
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why you write, in plain words.")
    ] = None,
    offer: Annotated[str | None, typer.Option("--offer", help="An offer to include.")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A message from parts (greeting, reason, emphasis, offer, call to
    action) for one customer, or talking points for a call.

    The emphasis and tone are chosen per person through the logged
    message_style (or call_style) decision; every part says why.
    """
    from omotenashi.services import Omotenashi, message_dict

    with Omotenashi(db, create=False) as om:
        data = message_dict(
            om.compose.message(customer, topic, channel=channel, reason=reason, offer=offer)
        )
    if json_out:
        emit_json(data)
        return
    console.print(data["text"], highlight=False)
    console.print(
        f"\n[dim]{data['emphasis']}/{data['tone']} "
        f"(chance {data['decision']['propensity']:.0%}, {data['decision']['policy']}): "
        + "; ".join(data["reasons"])
        + "[/]",
        highlight=False,
    )


@evaluate_app.command("messages")
def evaluate_messages(
    rounds: Annotated[int, typer.Option("--rounds", min=100, help="Simulated messages.")] = 6000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulation.")] = 0,
    estimator: Annotated[
        list[str] | None,
        typer.Option("--estimator", help="ipw, snipw, dr, ... (repeatable; default ipw, snipw)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """The message-style policy judged offline: simulated logs of the
    starting rules, off-policy estimates of other policies, and the true
    values of the simulated audience to compare with."""
    from omotenashi.services import Compose

    kinds = tuple(estimator) if estimator else ("ipw", "snipw")
    data: dict[str, Any] = Compose.message_ope(rounds, seed=seed, estimators=kinds)
    if json_out:
        emit_json(data)
        return
    from rich.table import Table

    table = Table(
        title=f"Message policies on {data['evaluated_on']:,} logged messages", title_justify="left"
    )
    for col in ("policy", "true value", "estimator", "estimate", "95% interval"):
        table.add_column(col)
    for p in data["policies"]:
        for e in p["estimates"]:
            table.add_row(
                p["policy"],
                f"{p['true_value']:.4f}",
                e["estimator"],
                f"{e['value']:.4f}",
                f"{e['ci_low']:.4f} .. {e['ci_high']:.4f}",
            )
    console.print(table)
