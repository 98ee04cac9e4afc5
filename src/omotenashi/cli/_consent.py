"""``omotenashi consent ...`` and ``omotenashi preferences ...``: a customer's consent per purpose
(with its history) and preference centre, through ``om.consent`` and ``om.preferences``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omotenashi.cli._apps import app
from omotenashi.cli._common import DbOpt, JsonOpt, console, emit_json
from omotenashi.errors import DataError

if TYPE_CHECKING:
    from omotenashi.services import Omotenashi

PANEL = "People"

consent_app = typer.Typer(
    help="Consent per purpose (personalization, marketing, analytics ...) and its history.",
    no_args_is_help=True,
)
preferences_app = typer.Typer(
    help="Preference centre: interests, dislikes, level, channels, quiet hours.",
    no_args_is_help=True,
)
app.add_typer(consent_app, name="consent", rich_help_panel=PANEL)
app.add_typer(preferences_app, name="preferences", rich_help_panel=PANEL)

CustomerArg = Annotated[str, typer.Argument(help="Customer id (or any merged id).")]


def _engine(db: str | None) -> Omotenashi:
    from omotenashi.services import Omotenashi

    return Omotenashi(db, create=False)


def _print_status(status: dict[str, Any], history: list[dict[str, Any]] | None) -> None:
    from rich.table import Table

    table = Table(title=f"consent of {status['customer_id']} (model: {status['model']})")
    for column in ("purpose", "allowed", "answered", "at", "source"):
        table.add_column(column)
    for purpose, row in status["purposes"].items():
        table.add_row(
            purpose,
            "yes" if row["granted"] else "no",
            "yes" if row["answered"] else "no (default)",
            (row["at"] or "")[:19].replace("T", " "),
            row["source"] or "",
        )
    console.print(table)
    if history:
        changes = Table(title="history")
        for column in ("at", "purpose", "answer", "source", "key"):
            changes.add_column(column)
        for row in history:
            changes.add_row(
                row["at"][:19].replace("T", " "),
                row["purpose"],
                "granted" if row["granted"] else "withdrawn",
                row["source"],
                row["key_id"] or "",
            )
        console.print(changes)


@consent_app.command("show")
def show(
    customer: CustomerArg,
    history: Annotated[bool, typer.Option("--history", help="Also list every change.")] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A customer's consent now: per purpose, allowed or not, and whether they answered."""
    with _engine(db) as om:
        status = om.consent.status(customer)
        changes = om.consent.history(customer) if history or json_out else None
    if json_out:
        emit_json(status | {"history": changes})
        return
    _print_status(status, changes)


@consent_app.command("set")
def set_consent(
    customer: CustomerArg,
    grant: Annotated[
        list[str] | None, typer.Option("--grant", help="Purpose to grant (repeatable).")
    ] = None,
    withdraw: Annotated[
        list[str] | None, typer.Option("--withdraw", help="Purpose to withdraw (repeatable).")
    ] = None,
    source: Annotated[str, typer.Option("--source", help="Where the answer came from.")] = "cli",
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record a customer's answers: --grant marketing --withdraw analytics."""
    changes = dict.fromkeys(grant or (), True) | dict.fromkeys(withdraw or (), False)
    both = set(grant or ()) & set(withdraw or ())
    if both:
        raise DataError(f"--grant and --withdraw both name {', '.join(sorted(both))}")
    if not changes:
        raise DataError("give --grant PURPOSE and/or --withdraw PURPOSE", field="--grant")
    with _engine(db) as om:
        status = om.consent.set(customer, changes, source=source)
    if json_out:
        emit_json(status)
        return
    _print_status(status, None)


@consent_app.command("import")
def import_consent(
    file: Annotated[
        Path, typer.Argument(help="CSV (customer_id,purpose,granted[,source]) or JSON Lines.")
    ],
    source: Annotated[
        str, typer.Option("--source", help="Source of rows that name none.")
    ] = "import",
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record many answers from a file, all or nothing (a bad line names file, line, field)."""
    with _engine(db) as om:
        report = om.consent.import_file(file, source=source)
    if json_out:
        emit_json(report)
        return
    console.print(f"recorded {report['rows']:,} answers of {report['customers']:,} customers")


@consent_app.command("purposes")
def purposes(
    add: Annotated[str | None, typer.Option("--add", help="Add a purpose (a name).")] = None,
    description: Annotated[
        str, typer.Option("--description", help="What the added purpose allows.")
    ] = "",
    default: Annotated[
        str | None,
        typer.Option("--default", help="Of the added purpose: granted or withheld."),
    ] = None,
    remove: Annotated[
        str | None, typer.Option("--remove", help="Remove a purpose you added.")
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The workspace's purposes and their defaults; --add or --remove your own."""
    if default not in (None, "granted", "withheld"):
        raise DataError(f"--default: expected granted or withheld, got {default!r}")
    granted_by_default = None if default is None else default == "granted"
    with _engine(db) as om:
        if add:
            om.consent.add_purpose(add, description, granted_by_default=granted_by_default)
        if remove:
            om.consent.remove_purpose(remove)
        found = om.consent.purposes()
    if json_out:
        emit_json(found)
        return
    for name, spec in found.items():
        default = "allowed" if spec["granted_by_default"] else "not allowed"
        console.print(f"{name}: {spec['description']} (before an answer: {default})")


@consent_app.command("model")
def model(
    choice: Annotated[
        str | None, typer.Argument(help="opt-out (default) or opt-in; none: show it.")
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """What applies before a customer answers: opt-out (allowed) or opt-in (not allowed)."""
    with _engine(db) as om:
        current = om.consent.set_model(choice) if choice else om.consent.model()
    if json_out:
        emit_json({"model": current})
        return
    console.print(f"consent model: {current}")


@consent_app.command("without")
def without(
    purpose: Annotated[str, typer.Argument(help="A purpose, e.g. marketing.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Customers whose data may not be used for a purpose (withdrawn, or never granted under
    opt-in)."""
    with _engine(db) as om:
        people = sorted(om.consent.customers_without(purpose))
    if json_out:
        emit_json({"purpose": purpose, "customers": people})
        return
    console.print(f"{len(people):,} customers without {purpose}")
    for person in people[:50]:
        console.print(f"  {person}")
    if len(people) > 50:
        console.print(f"  ... and {len(people) - 50:,} more (--json lists all)")


# -- preferences ------------------------------------------------------------------------------
def _pairs(values: list[str] | None, option: str, kind: type) -> dict[str, Any]:
    """``name=value`` options as a dict (``on``/``off`` for booleans)."""
    out: dict[str, Any] = {}
    for text in values or ():
        name, sep, value = text.partition("=")
        name, value = name.strip(), value.strip().lower()
        try:
            if not sep or not name:
                raise ValueError
            if kind is bool:
                if value not in ("on", "off", "true", "false", "yes", "no"):
                    raise ValueError
                out[name] = value in ("on", "true", "yes")
            else:
                out[name] = int(value)
        except ValueError:
            example = "email=on" if kind is bool else "email=2"
            raise DataError(f"{option}: expected NAME=VALUE like {example}, got {text!r}") from None
    return out


def _hours(text: str | None) -> list[int] | None:
    if text is None:
        return None
    start, sep, end = text.partition("-")
    try:
        if not sep:
            raise ValueError
        return [int(start), int(end)]
    except ValueError:
        raise DataError(
            f"--quiet-hours: expected START-END in local hours, like 22-7, got {text!r}"
        ) from None


@preferences_app.command("show")
def show_preferences(customer: CustomerArg, db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """A customer's preferences (the defaults when they never set any)."""
    with _engine(db) as om:
        prefs = om.preferences.get(customer).as_dict()
    if json_out:
        emit_json(prefs)
        return
    for name, value in prefs.items():
        console.print(f"{name}: {value}")


@preferences_app.command("set")
def set_preferences(
    customer: CustomerArg,
    level: Annotated[
        str | None, typer.Option("--level", help="off, light (interests + visit) or full.")
    ] = None,
    like_item: Annotated[
        list[str] | None, typer.Option("--like-item", help="More like this item (repeatable).")
    ] = None,
    like_category: Annotated[
        list[str] | None, typer.Option("--like-category", help="An interest (repeatable).")
    ] = None,
    dislike_item: Annotated[
        list[str] | None, typer.Option("--dislike-item", help="Not interested (repeatable).")
    ] = None,
    dislike_category: Annotated[
        list[str] | None,
        typer.Option("--dislike-category", help="Never this category (repeatable)."),
    ] = None,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Channel allowed, email=on|off.")
    ] = None,
    frequency: Annotated[
        list[str] | None, typer.Option("--frequency", help="Most contacts a week, email=2.")
    ] = None,
    quiet_hours: Annotated[
        str | None, typer.Option("--quiet-hours", help="No contact then, local: 22-7.")
    ] = None,
    time_zone: Annotated[
        str | None, typer.Option("--time-zone", help="IANA zone, e.g. Europe/Paris.")
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Start from the defaults, not the stored ones.")
    ] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a customer's preferences; what is not given is kept (unless --clear)."""
    data: dict[str, Any] = {}
    if level is not None:
        data["level"] = level
    channels = _pairs(channel, "--channel", bool)
    limits = _pairs(frequency, "--frequency", int)
    hours = _hours(quiet_hours)
    if time_zone is not None:
        data["time_zone"] = time_zone
    if hours is not None:
        data["quiet_hours"] = hours
    likes = {"items": like_item or [], "categories": like_category or []}
    dislikes = {"items": dislike_item or [], "categories": dislike_category or []}
    with _engine(db) as om:
        centre = om.preferences
        base = {} if clear else centre.get(customer).as_dict()
        if channels:
            data["channels"] = {**base.get("channels", {}), **channels}
        if limits:
            data["frequency"] = {**base.get("frequency", {}), **limits}
        if clear:
            centre.set(customer, {})
        add = {"interests": likes, "dislikes": dislikes}
        remove = {"interests": dislikes, "dislikes": likes}  # a like undoes a dislike
        prefs = centre.update(customer, data | {"add": add, "remove": remove})
    if json_out:
        emit_json(prefs.as_dict())
        return
    for name, value in prefs.as_dict().items():
        console.print(f"{name}: {value}")


__all__ = ["consent_app", "preferences_app"]
