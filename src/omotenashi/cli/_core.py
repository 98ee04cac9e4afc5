"""Foundation commands: init, import, import-items, import-customers, profile, timeline,
customers, stats, track, identify, alias, merge, presets, demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.columns import Columns
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from omotenashi.cli._apps import app
from omotenashi.cli._common import (
    DbOpt,
    DecimalOpt,
    EncodingOpt,
    JsonOpt,
    console,
    emit_json,
    frame_records,
    money,
    progress_bar,
    steps,
)
from omotenashi.errors import DataError
from omotenashi.services import PRESETS

if TYPE_CHECKING:  # the engine and its records load when a command runs, not for --help
    from omotenashi.services import ImportReport, Omotenashi, Profile, TimelinePage

SepOpt = Annotated[str | None, typer.Option("--sep", help="CSV separator (default: sniffed).")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Reference date for recency (default: the store's latest event)."),
]


def _engine(db: str | None, create: bool = True) -> Omotenashi:
    from omotenashi.services import Omotenashi

    return Omotenashi(db, create=create)


@app.command(rich_help_panel="Start here")
def demo(
    db: Annotated[
        str, typer.Option("--db", help="Store for the demo (kept apart from your own data).")
    ] = "omotenashi-demo.db",
    json_out: JsonOpt = False,
) -> None:
    """Create a store, import a bundled sample of real shop data (UCI Online Retail, CC BY 4.0)
    and show what omotenashi knows: top customers, one full profile, identity stitching."""
    from omotenashi.demo import is_demo_store, run_demo
    from omotenashi.services import Profile, TimelinePage, remove_store, store_file

    path = store_file(db)
    if path is not None and path.exists():
        with _engine(db) as om:
            if not is_demo_store(om):
                raise DataError(
                    f"{path} holds data other than the demo's; give the demo another --db"
                )
        remove_store(db)  # the demo store is rebuilt each time
    with _engine(db) as om:
        with progress_bar("importing the demo sample", None, enabled=not json_out) as advance:
            result = run_demo(om, progress=advance, phase=advance.phase)
    if json_out:
        emit_json(result)
        return
    console.rule("[bold]omotenashi demo[/] — one profile per person")
    report = result["import"]
    console.print(
        f"Imported [bold]{report['rows_read']:,}[/] invoice lines of a UK online gift shop "
        f"(UCI Online Retail sample, CC BY 4.0) into [bold]{result['store']}[/] "
        f"in {report['seconds']:.1f} s."
    )
    console.print(_stats_panel(result["stats"]))
    import pandas as pd

    console.print(
        _customers_table(pd.DataFrame(result["top_customers"]), "top 10 customers by value")
    )
    console.rule(f"profile of the best customer, {result['profile']['customer_id']}")
    console.print(_profile_view(Profile(**result["profile"]), TimelinePage(**result["recent"])))
    stitch = result["stitching"]
    console.rule("identity stitching")
    console.print(
        f"An anonymous visitor ([bold]{stitch['anonymous_id']}[/]) viewed "
        f"{stitch['anonymous_views']} products on the app, then logged in as customer "
        f"[bold]{stitch['customer_id']}[/]: views on the profile went from "
        f"{stitch['views_before']} to {stitch['views_after']}, channels now "
        f"{', '.join(stitch['channels_after'])}."
    )
    recs = result["recommendations"]
    table = Table(
        "#",
        "recommended item",
        "why",
        title=f"recommended for customer {recs['customer_id']} (model {recs['model']})",
    )
    for row in recs["recommendations"]:
        table.add_row(str(row["rank"]), str(row["title"])[:40], "\n".join(row["reasons"]))
    console.print(table)
    session = result["session"]
    seen = ", ".join(str(v["title"])[:28] for v in session["viewed"])
    table = Table(
        "#", "recommended item", "why", title=f"for an anonymous visit that viewed {seen}"
    )
    for row in session["recommendations"]:
        table.add_row(str(row["rank"]), str(row["title"])[:40], "\n".join(row["reasons"]))
    console.print(table)
    composed = result["compose"]
    console.rule(f"composed for customer {composed['message']['customer_id']}")
    message = composed["message"]
    console.print(message["text"], highlight=False)
    console.print(
        f"[dim]{message['emphasis']}/{message['tone']}: " + "; ".join(message["reasons"]) + "[/]",
        highlight=False,
    )
    gift = composed["bundle"]["bundles"][0]
    table = Table(
        "part",
        "price",
        "why",
        title=f"their gift box: {gift['price']:.2f} {composed['bundle']['currency']} "
        f"(best of the catalogue within {composed['bundle']['budget']:g}, solved exactly)",
    )
    for part in gift["parts"]:
        table.add_row(part["name"][:40], f"{part['price']:.2f}", "\n".join(part["reasons"]))
    console.print(table)
    console.print(
        f"\nExplore it: [bold]omotenashi profile {result['profile']['customer_id']} --db "
        f"{result['store']}[/], [bold]omotenashi customers --by frequency --db {result['store']}"
        "[/], or import the full data set with [bold]omotenashi import FILE --preset "
        "online-retail[/]."
    )


# -- init / stats ----------------------------------------------------------------------------
@app.command(rich_help_panel="Store")
def init(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Create an empty store (an embedded SQLite file) if there is none."""
    with _engine(db) as om:
        info = {"store": om.url, "events": om.stats()["events"]}
    if json_out:
        emit_json(info)
    else:
        console.print(f"Store ready: [bold]{info['store']}[/] ({info['events']:,} events)")


@app.command(rich_help_panel="Store")
def stats(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """What the store holds: events, people, items, orders, time range, value."""
    with _engine(db, create=False) as om:
        data = om.stats()
    if json_out:
        emit_json(data)
        return
    console.print(_stats_panel(data))


def _stats_panel(data: dict[str, Any]) -> Columns:
    main = Table(show_header=False, box=None)
    main.add_column(style="bold")
    main.add_column(justify="right")
    for label, key in (
        ("events", "events"),
        ("customers", "customers"),
        ("anonymous visitors", "anonymous_ids"),
        ("catalogue items", "items"),
        ("orders", "orders"),
    ):
        main.add_row(label, f"{data[key]:,}")
    main.add_row("purchases", money(data["purchase_value"]))
    main.add_row("returns", money(data["return_value"]))
    main.add_row("first event", str(data["first_event"]))
    main.add_row("last event", str(data["last_event"]))
    types = Table("type", "events", box=None)
    for name, count in data["events_by_type"].items():
        types.add_row(name, f"{count:,}")
    channels = Table("channel", "events", box=None)
    for name, count in data["events_by_channel"].items():
        channels.add_row(name, f"{count:,}")
    return Columns(
        [
            Panel(main, title=f"store {data['store']}"),
            Panel(types, title="by type"),
            Panel(channels, title="by channel"),
        ]
    )


# -- imports ---------------------------------------------------------------------------------
def _print_report(report: ImportReport, json_out: bool, kind: str = "events") -> None:
    """What an import did; a catalogue or customer import names only what it holds."""
    if json_out:
        emit_json(report.as_dict())
        return
    if kind == "events":
        counts = (
            f"{report.events_written:,} events written, {report.duplicates:,} already stored, "
            f"{report.identity_links:,} identity links, {report.items_written:,} items, "
            f"{report.customers_written:,} customers updated"
        )
    elif kind == "items":
        counts = f"{report.items_written:,} items created or changed"
    else:
        counts = f"{report.customers_written:,} customers created or changed"
    if report.columns_from_header:
        columns = ", ".join(f"{k}={c}" for k, c in report.columns_from_header.items())
        console.print(f"Columns named by the file's header: {escape(columns)}")
        if kind == "events" and "item" not in report.columns_from_header:
            console.print(
                "[yellow]No column of the header names the item[/]: these events name none, "
                "and recommendations learn nothing from them. If one column is the item, "
                "import again with --map (e.g. --map item=COLUMN,...).",
                soft_wrap=True,
            )
    console.print(
        f"[green]Imported[/] {report.source}: {report.rows_read:,} rows read, {counts} "
        f"in {report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s)"
    )
    if report.rejected:
        console.print(
            f"[yellow]{report.rejected:,} rows rejected[/], written with reasons to "
            f"[bold]{report.rejects_file}[/]"
        )
    if kind == "events" and report.date_order_source == "guessed":
        console.print(
            "Dates such as 01/12/2010 were read month first (12 January): no day above 12 "
            "showed the file's order. If the file writes the day first, import it with "
            "--date-order dmy into a new store.",
            soft_wrap=True,
        )
    if kind == "events" and report.custom_types:
        ranked = sorted(report.custom_types.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{name} ({rows:,} rows)" for name, rows in ranked[:8])
        more = f" and {len(ranked) - 8} more" if len(ranked) > 8 else ""
        console.print(
            f"Event types the engine does not know: {escape(shown)}{more}. They count like a "
            "view in recommendations. If one is a purchase, a cart or a return in the file's "
            f"own words, give it with --type-map (e.g. --type-map '{escape(ranked[0][0])}"
            "=purchase') when you import the file into a new store: imported again here, its "
            "rows would be new events beside these.",
            soft_wrap=True,
        )


@app.command("import", rich_help_panel="Data")
def import_events(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV, TSV, Parquet, JSON-lines or Excel (.xlsx) file (or a dataset folder "
            "with --preset)."
        ),
    ],
    mapping: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="Columns, KEY=COLUMN joined by commas. Keys: customer, anonymous, item, "
            "time, order, quantity, price, value, type, rating, channel, event_id, "
            "context.NAME (example below). Default: the columns the header names by a key "
            "or a synonym (customer_id, item_id, timestamp, event_type ...).",
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option("--preset", help=f"Known dataset layout: {', '.join(PRESETS)}."),
    ] = None,
    event_type: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="Event type for files without a type column "
            "(default: purchase with prices, rating with ratings, "
            "else view).",
        ),
    ] = None,
    type_map: Annotated[
        str | None,
        typer.Option(
            "--type-map",
            help="The file's own spellings of event types, SPELLING=TYPE joined by commas, "
            "e.g. 'bought it=purchase,basket=add_to_cart'. Common ones (transaction, "
            "addtocart, pageview, refund ...) are known without it; the report names the "
            "types left custom.",
        ),
    ] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="Channel for files without a channel column.")
    ] = None,
    cancel_prefix: Annotated[
        str | None,
        typer.Option(
            "--cancel-prefix",
            help="Order ids starting with this are cancellations (returns), e.g. C.",
        ),
    ] = None,
    default_time: Annotated[
        str | None,
        typer.Option(
            "--default-time",
            help="Time of every row of a file without a time column (ISO date/time or Unix "
            "seconds; naive is UTC), e.g. the export's date. One time for all: the file's "
            "order is not taken for time.",
        ),
    ] = None,
    date_order: Annotated[
        str | None,
        typer.Option(
            "--date-order",
            help="How the file writes dates like 01/12/2010: dmy (1 December) or mdy "
            "(12 January). Default: the order a day above 12 shows in the file; month first "
            "when none does (the report then says so).",
        ),
    ] = None,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    decimal: DecimalOpt = ".",
    sheet: Annotated[
        str | None,
        typer.Option(
            "--sheet",
            help="Sheet of an Excel workbook (.xlsx) to import (default: every sheet, which "
            "must share the first's columns).",
        ),
    ] = None,
    skip_bad_rows: Annotated[
        bool,
        typer.Option(
            "--skip-bad-rows",
            help="Import the good rows; write rejected rows and reasons to a side file.",
        ),
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Side file for rejected rows (default: FILE.rejected.csv)."),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Import events from a file. One transaction: a bad row stops the import with its line and
    field named and nothing written (unless --skip-bad-rows). Importing twice changes nothing.

    Example: omotenashi import retail.csv
    --map customer=CustomerID,item=StockCode,time=InvoiceDate

    Without --map, a header in omotenashi's terms is the map (customer_id, item_id, timestamp,
    event_type, ...; any case, spaces or underscores), e.g. export-events' Parquet files.
    """
    with _engine(db) as om:
        total = om.expected_rows(file, preset) if file.exists() else None
        with progress_bar(f"importing {file.name}", total, enabled=not json_out) as advance:
            report = om.import_events(
                file,
                mapping=mapping,
                preset=preset,
                type=event_type,
                type_map=type_map,
                channel=channel,
                cancel_prefix=cancel_prefix,
                default_time=default_time,
                date_order=date_order,
                sep=sep,
                encoding=encoding,
                decimal=decimal,
                sheet=sheet,
                skip_bad_rows=skip_bad_rows,
                rejects_path=rejects,
                progress=advance,
                phase=advance.phase,
            )
    _print_report(report, json_out)


@app.command("import-items", rich_help_panel="Data")
def import_items(
    file: Annotated[
        Path, typer.Argument(help="Catalogue file (CSV, TSV, Parquet, JSON lines, Excel .xlsx).")
    ],
    mapping: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="Columns, KEY=COLUMN joined by commas. Keys: item (required), title, "
            "description, price, categories, tags, attr.NAME. Default: the columns the "
            "header names (item_id, title, price ...).",
        ),
    ] = None,
    list_sep: Annotated[
        str, typer.Option("--list-sep", help="Separator inside categories/tags.")
    ] = "|",
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    decimal: DecimalOpt = ".",
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Import or update catalogue items (fields not in the file keep their stored value)."""
    with _engine(db) as om, steps(enabled=not json_out) as shown:
        report = om.import_items(
            file,
            mapping=mapping,
            list_sep=list_sep,
            sep=sep,
            encoding=encoding,
            decimal=decimal,
            phase=shown.phase,
        )
    _print_report(report, json_out, "items")


@app.command("import-customers", rich_help_panel="Data")
def import_customers(
    file: Annotated[
        Path, typer.Argument(help="Customer file (CSV, TSV, Parquet, JSON lines, Excel .xlsx).")
    ],
    mapping: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="customer=COLUMN, and attr.NAME=COLUMN (default: every other "
            "column is an attribute). Default: the customer column the header names "
            "(customer_id, CustomerID, id ...).",
        ),
    ] = None,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    decimal: DecimalOpt = ".",
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Import or update customer attributes (merged into what is stored)."""
    with _engine(db) as om, steps(enabled=not json_out) as shown:
        report = om.import_customers(
            file, mapping=mapping, sep=sep, encoding=encoding, decimal=decimal, phase=shown.phase
        )
    _print_report(report, json_out, "customers")


@app.command(rich_help_panel="Data")
def presets(json_out: JsonOpt = False) -> None:
    """List the dataset presets of `omotenashi import --preset`."""
    if json_out:
        emit_json([{"preset": k, "description": d} for k, (_, d) in PRESETS.items()])
        return
    table = Table("preset", "what it imports")
    for name, (_, description) in PRESETS.items():
        table.add_row(name, description)
    console.print(table)


# -- events and identities -------------------------------------------------------------------
@app.command(rich_help_panel="Data")
def track(
    event: Annotated[
        str | None,
        typer.Argument(help="Event as JSON; '-' or nothing reads JSON lines from stdin."),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record events (durable when acknowledged). Duplicated event_ids are ignored."""
    lines = [event] if event and event != "-" else [line for line in sys.stdin if line.strip()]
    with _engine(db) as om:
        records = []
        for number, line in enumerate(lines, start=1):
            try:
                payload = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"event {number}: not valid JSON ({exc.msg})") from exc
            except RecursionError:
                from omotenashi.events import MAX_CONTEXT_DEPTH

                raise DataError(
                    f"event {number}: context: nested too deep to read (at most "
                    f"{MAX_CONTEXT_DEPTH} levels)",
                    field="context",
                ) from None
            records.append(payload)
        results = om.track_many(records)
    if json_out:
        emit_json([r.as_dict() for r in results])
    else:
        stored = sum(r.stored for r in results)
        console.print(f"{stored} event(s) stored, {len(results) - stored} already known")


@app.command(rich_help_panel="Identity")
def identify(
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    anonymous: Annotated[
        str | None, typer.Option("--anonymous", help="Anonymous / device / cookie id.")
    ] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    loyalty: Annotated[str | None, typer.Option("--loyalty", help="Loyalty card id.")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Link identities to a customer; earlier anonymous history joins the profile."""
    with _engine(db) as om:
        result = om.identify(customer, anonymous, email=email, phone=phone, loyalty_id=loyalty)
    _print_links(result.as_dict(), json_out)


@app.command(rich_help_panel="Identity")
def alias(
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    identity: Annotated[str, typer.Argument(help="The other id.")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="anonymous, email, phone, loyalty, device, or customer (= merge)."
        ),
    ] = "anonymous",
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Link one identity to a customer."""
    with _engine(db) as om:
        result = om.alias(customer, identity, kind)
    _print_links(result.as_dict(), json_out)


@app.command(rich_help_panel="Identity")
def merge(
    into: Annotated[str, typer.Argument(help="The customer id that stays.")],
    other: Annotated[str, typer.Argument(help="The customer id joined into it.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Merge two customer ids that are one person (history, identities, attributes)."""
    with _engine(db, create=False) as om:
        result = om.merge(into, other)
    _print_links(result.as_dict(), json_out)


def _print_links(result: dict[str, Any], json_out: bool) -> None:
    if json_out:
        emit_json(result)
        return
    for link in result["linked"]:
        console.print(f"[green]linked[/] {link['kind']} {link['value']} → {result['customer_id']}")
    for link in result["already_linked"]:
        console.print(f"already linked: {link['kind']} {link['value']}")
    for conflict in result["conflicts"]:
        console.print(
            f"[yellow]not linked[/]: {conflict['kind']} {conflict['value']} already belongs to "
            f"{conflict['linked_to']} (use merge if they are one person)"
        )


# -- reading ---------------------------------------------------------------------------------
def _profile_view(profile: Profile, page: TimelinePage | None) -> Columns:
    rfm = profile.rfm
    facts = Table(show_header=False, box=None)
    facts.add_column(style="bold")
    facts.add_column()
    for key, value in profile.attributes.items():
        facts.add_row(key, str(value))
    facts.add_row("first seen", str(profile.first_seen))
    facts.add_row("last seen", str(profile.last_seen))
    facts.add_row("events", f"{profile.events:,}")
    facts.add_row("recency", "—" if rfm.recency_days is None else f"{rfm.recency_days} days")
    facts.add_row("frequency", f"{rfm.frequency} orders")
    facts.add_row("monetary", money(rfm.monetary))
    ids = ", ".join(f"{i.kind}:{i.value}" for i in profile.identities) or "—"
    facts.add_row("identities", ids)
    scores = profile.scores
    if "segment" in scores:
        facts.add_row("segment", f"{scores['segment']} (RFM {scores.get('rfm', '?')})")
    if "clv" in scores:
        facts.add_row("CLV (12 months)", money(scores["clv"]))
    if "p_alive" in scores:
        facts.add_row("P(alive)", f"{scores['p_alive']:.0%}")
    activity = Table("activity", "events", box=None)
    for name, count in profile.events_by_type.items():
        activity.add_row(name, f"{count:,}")
    for name, count in profile.events_by_channel.items():
        activity.add_row(f"[dim]channel[/] {name}", f"{count:,}")
    likes = Table("top category", "share", box=None)
    for share in profile.top_categories:
        likes.add_row(share.category, f"{share.share:.0%}")
    panels = [
        Panel(facts, title=f"customer {profile.customer_id}"),
        Panel(activity, title="activity"),
        Panel(likes, title="tastes"),
    ]
    if page is not None and page.events:
        recent = Table("when", "what", "item", "value", box=None)
        for entry in page.events:
            recent.add_row(
                entry.timestamp[:16].replace("T", " "),
                f"{entry.type} ({entry.channel or '?'})",
                (entry.item_title or entry.item_id or "")[:32],
                money(entry.value),
            )
        panels.append(Panel(recent, title="latest events"))
    return Columns(panels)


@app.command(rich_help_panel="People")
def profile(
    customer: Annotated[str, typer.Argument(help="Customer id (or any merged id).")],
    as_of: AsOfOpt = None,
    recent: Annotated[int, typer.Option("--recent", help="Latest events to show.")] = 8,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The unified profile of one customer: identities, activity by type and channel, RFM,
    top categories, latest events."""
    with _engine(db, create=False) as om:
        data = om.profile(customer, as_of=as_of)
        page = om.timeline(customer, limit=recent) if recent > 0 and not json_out else None
    if json_out:
        emit_json(data.model_dump())
        return
    console.print(_profile_view(data, page))


@app.command(rich_help_panel="People")
def timeline(
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="Events per page (max 1000).")] = 20,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="From a previous page's next_cursor.")
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A customer's events across channels, newest first, a page at a time."""
    with _engine(db, create=False) as om:
        page = om.timeline(customer, limit=limit, cursor=cursor)
    if json_out:
        emit_json(page.model_dump())
        return
    from omotenashi.cli._common import figure_tables

    rows = [
        [
            e.timestamp[:19].replace("T", " "),
            e.type,
            e.channel or "",
            (e.item_title or e.item_id or "")[:40],
            e.order_id or "",
            "" if e.quantity is None else f"{e.quantity:g}",
            money(e.value),
        ]
        for e in page.events
    ]
    headers = ["when", "type", "channel", "item", "order", "qty", "value"]
    numeric = [False, False, False, False, False, True, True]
    for table in figure_tables(f"timeline of {page.customer_id}", headers, rows, numeric=numeric):
        console.print(table)
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}")


@app.command(rich_help_panel="People")
def customers(
    top: Annotated[int, typer.Option("--top", "-n", min=1, help="How many customers.")] = 10,
    by: Annotated[str, typer.Option("--by", help="monetary, frequency or recency.")] = "monetary",
    as_of: AsOfOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The top customers by value, by number of orders, or by how recently they bought."""
    with _engine(db, create=False) as om:
        frame = om.top_customers(top, by, as_of=as_of)  # type: ignore[arg-type]
        as_of_text = frame.attrs.get("as_of")
    if json_out:
        emit_json(frame_records(frame))
        return
    console.print(_customers_table(frame, f"top {top} customers by {by} (as of {as_of_text})"))


def _customers_table(frame: Any, title: str) -> Any:
    """The customers as tables whose figures are never cut (``cli._common.figure_tables``)."""
    from rich.console import Group

    from omotenashi.cli._common import figure_tables

    headers = ["#", "customer", "recency (days)", "orders", "monetary", "events", "last seen"]
    rows = [
        [
            str(rank),
            str(row.customer_id),
            ""
            if row.recency_days is None or str(row.recency_days) == "<NA>"
            else str(row.recency_days),
            str(row.frequency),
            money(row.monetary),
            f"{row.events:,}",
            str(row.last_seen)[:10],
        ]
        for rank, row in enumerate(frame.itertuples(index=False), start=1)
    ]
    numeric = [True, False, True, True, True, True, False]
    return Group(*figure_tables(title, headers, rows, numeric=numeric))
