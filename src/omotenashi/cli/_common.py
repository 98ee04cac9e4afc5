"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

if TYPE_CHECKING:
    import pandas as pd

console = Console()
err_console = Console(stderr=True)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="OMOTENASHI_DB",
        help="Store: a file path or URL (sqlite:///file.db). Default: ./omotenashi.db.",
        show_envvar=True,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
#: How a text file is read, the same for every command that reads one (imports, evaluate,
#: value, segments, evaluate ope, decide train).
EncodingOpt = Annotated[
    str,
    typer.Option(
        "--encoding",
        help="Text encoding of a CSV/text file, e.g. utf-8, latin-1, cp1252, shift_jis.",
    ),
]
DecimalOpt = Annotated[
    str,
    typer.Option("--decimal", help="Decimal mark of numbers in a CSV/text file: . or , (3,5)."),
]


def _default(value: Any) -> Any:
    # numpy and pandas values exist only once those libraries are loaded: look them up instead
    # of importing them, so that printing JSON costs no start-up time
    np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
    if isinstance(value, datetime | date):  # pandas' Timestamp (and NaT) are datetimes
        return value.isoformat()
    if np is not None and isinstance(value, np.integer):
        return int(value)
    if np is not None and isinstance(value, np.floating):
        return None if math.isnan(value) else float(value)
    if np is not None and isinstance(value, np.ndarray):
        return value.tolist()
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return None
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return str(value)


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout (NaN becomes null)."""
    text = json.dumps(_clean(data), default=_default, ensure_ascii=False)
    sys.stdout.write(text + "\n")


def _clean(data: Any) -> Any:
    if isinstance(data, float) and math.isnan(data):
        return None
    if isinstance(data, dict):
        return {str(k): _clean(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_clean(v) for v in data]
    return data


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts (timestamps as ISO text, NA as None)."""
    import numpy as np
    import pandas as pd

    out = []
    for record in frame.to_dict("records"):
        clean = {}
        for key, value in record.items():
            if (
                value is pd.NA
                or value is pd.NaT
                or (isinstance(value, float) and math.isnan(value))
            ):
                clean[key] = None
            elif isinstance(value, pd.Timestamp):
                clean[key] = value.isoformat()
            else:
                clean[key] = _default(value) if isinstance(value, np.generic) else value
        out.append(clean)
    return out


try:  # typer >= 0.20 carries its own click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer on click
    from click.exceptions import ClickException  # type: ignore[assignment]


def one_line(text: object) -> str:
    """A message on one line (library messages may hold line breaks)."""
    return " ".join(str(text).split())


def exit_code(exc: BaseException) -> int:
    """2 for bad input (a value, a file, an option, an id or store that does not exist), 1 for
    anything else."""
    from omotenashi.errors import DataError, NotFound

    return 2 if isinstance(exc, DataError | NotFound) else 1


def print_error(message: object) -> None:
    """One line on stderr: ``error: what is wrong``."""
    err_console.print(
        f"[bold red]error:[/] {escape(one_line(message))}", highlight=False, soft_wrap=True
    )


def fail(exc: BaseException, code: int | None = None) -> typer.Exit:
    """Print ``exc`` as one error line; the ``typer.Exit`` to raise (``code``, else the code
    :func:`exit_code` gives)."""
    print_error(exc)
    return typer.Exit(code=exit_code(exc) if code is None else code)


def _reflow(text: str | None) -> str | None:
    """Help text whose paragraphs rewrap at any terminal width: line breaks inside a paragraph
    (those of a docstring's source lines) become spaces; paragraphs stay apart."""
    if not text:
        return text
    import inspect

    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split("\n")) for p in paragraphs)


def cli_command(app: Any, *, top_level_only: bool = False) -> Any:
    """The click command of a Typer app, every command's help text reflowed (see
    :func:`_reflow`), so that help fits any width without ragged source line breaks.

    ``top_level_only`` builds the commands and groups under the app as stand-ins without
    options (see :func:`_top_level_only`): enough for the app's own ``--help``, not to run one.
    """
    command = typer.main.get_command(_top_level_only(app) if top_level_only else app)
    stack = [command]
    while stack:
        current = stack.pop()
        current.help = _reflow(current.help)
        stack.extend(getattr(current, "commands", {}).values())
    return command


def _top_level_only(app: Any) -> Any:
    """A copy of a Typer app whose commands and groups are stand-ins: each keeps its name, help,
    panel and flags, loses its options and (for a group) its commands.

    ``omotenashi --help`` shows one line per command; building the real tree makes Typer read
    the signature of every one of the ~140 commands underneath, which cost a third of the
    help's CPU time. tests/cli/test_startup.py checks that both print the same help.
    """
    import copy

    def stand_in(callback: Any) -> Any:
        def command() -> None:  # pragma: no cover - a stand-in only shows help, never runs
            raise RuntimeError("a stand-in command only shows help")

        command.__name__, command.__doc__ = callback.__name__, callback.__doc__
        return command

    def shallow_command(info: Any) -> Any:
        info = copy.copy(info)
        info.callback = stand_in(info.callback)
        return info

    def shallow_group(info: Any) -> Any:
        info = copy.copy(info)
        info.typer_instance = copy.copy(info.typer_instance)
        info.typer_instance.registered_commands = []
        info.typer_instance.registered_groups = []
        return info

    shallow = copy.copy(app)
    shallow.registered_commands = [shallow_command(c) for c in app.registered_commands]
    shallow.registered_groups = [shallow_group(g) for g in app.registered_groups]
    return shallow


def _shows_top_level_help(args: list[str] | None) -> bool:
    """Whether a command line only asks for the app's own help: no arguments or ``--help``, and
    not a shell's completion request (which comes with no arguments and needs the whole tree)."""
    import os

    if any(key.endswith("_COMPLETE") for key in os.environ):
        return False
    return args is not None and args in ([], ["--help"])


def run(command: Any, args: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; every error becomes one line on stderr.

    Usage errors (an unknown option, a value that is not a number, a missing argument) exit
    with 2 like errors of omotenashi about bad input (``DataError``, an unknown id or store);
    other errors of omotenashi exit with 1. An unexpected exception is reported on one line
    too (``OMOTENASHI_DEBUG=1`` shows its traceback) and exits with 1.
    """
    from omotenashi.errors import OmotenashiError
    from omotenashi.services import CLI_KEY, act_as, reset_actor

    actor = act_as(CLI_KEY)  # the access log records the command line as "cli"
    try:
        return _run(command, args, OmotenashiError)
    finally:
        reset_actor(actor)


def _run(command: Any, args: list[str] | None, OmotenashiError: type[Exception]) -> int:
    import os

    try:
        built = cli_command(command, top_level_only=_shows_top_level_help(args))
        result = built.main(args=args, prog_name="omotenashi", standalone_mode=False)
    except ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group alone: its help is shown
            return int(exc.exit_code)
        where = getattr(getattr(exc, "ctx", None), "command_path", None)
        hint = f" (see {where} --help)" if where else ""
        print_error(f"{exc.format_message()}{hint}")
        return int(getattr(exc, "exit_code", 2))
    except OmotenashiError as exc:
        print_error(exc)
        return exit_code(exc)
    except (typer.Exit, SystemExit) as exc:
        code = exc.exit_code if isinstance(exc, typer.Exit) else exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except typer.Abort:
        print_error("aborted")
        return 1
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except Exception as exc:  # a bug: still one line, never a traceback
        if os.environ.get("OMOTENASHI_DEBUG"):
            raise
        print_error(
            f"unexpected {type(exc).__name__}: {exc} (a bug; OMOTENASHI_DEBUG=1 shows where)"
        )
        return 1
    return result if isinstance(result, int) else 0  # typer.Exit(code) comes back as its code


class _CountColumn(ProgressColumn):
    """``done/total unit`` for a counted step, ``done unit`` when the total is unknown, nothing
    for a step without a unit (a phase such as writing or saving)."""

    def render(self, task: Any) -> Any:
        from rich.text import Text

        unit = task.fields.get("unit")
        if not unit:
            return Text("")
        done = f"{int(task.completed):,}"
        if task.total is None:
            return Text(f"{done} {unit}", style="progress.download")
        return Text(f"{done}/{int(task.total):,} {unit}", style="progress.download")


class Steps:
    """What a command shows on stderr while a service works: a counted step (``advance(n)``,
    the service's ``progress`` callback) and named phases (``phase(text)``, the service's
    ``phase``/message callback), each line with its own elapsed time.

    When a phase starts, the previous step is closed at what was really done: a counted step
    whose total was an estimate (lines of a file) ends at the rows really read, never at a
    total that was not reached nor with a bar that fills before the work is done.
    """

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._task: Any = None
        self.started = time.perf_counter()

    def count(self, description: str, total: int | None, unit: str) -> None:
        """Start a counted step."""
        self._close()
        if self._progress is not None:
            self._task = self._progress.add_task(description, total=total, unit=unit)

    def __call__(self, n: int) -> None:
        """``n`` more units of the counted step are done."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def reach(self, n: int) -> None:
        """``n`` units of the counted step are done so far (for services that report totals)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=n)

    def phase(self, description: str, done: int | None = None, total: int | None = None) -> None:
        """Close the current step and start a phase: a line whose bar moves while the phase
        runs and fills when it ends.

        A service that numbers its steps calls ``phase(message, done, total)``: the steps are
        then one counted line (``done/total steps``) whose text is the current step's.
        """
        if done is not None and total is not None:
            current = self._current()
            if current is None or current.fields.get("unit") != "steps":
                self.count(description, total, "steps")
            if self._progress is not None and self._task is not None:
                self._progress.update(
                    self._task, description=description, completed=done, total=total
                )
            return
        self._close()
        if self._progress is not None:
            self._task = self._progress.add_task(description, total=None, unit=None)

    def _current(self) -> Any:
        if self._progress is None or self._task is None:
            return None
        return self._progress.tasks[[t.id for t in self._progress.tasks].index(self._task)]

    def _close(self) -> None:
        task = self._current()
        if task is None:
            return
        if task.fields.get("unit"):  # a counted step ends at what was really done
            self._progress.update(self._task, total=task.completed)
        else:
            self._progress.update(self._task, total=1, completed=1)
        self._task = None

    def done(self) -> None:
        self._close()

    def seconds(self) -> float:
        """Wall time since the steps began (what the user waited)."""
        return time.perf_counter() - self.started

    def discard(self) -> None:
        """Forget every line (an error follows; the user sees only its one line)."""
        if self._progress is None:
            return
        for task in list(self._progress.tasks):
            self._progress.remove_task(task.id)
        self._task = None
        self._progress.live.transient = True
        self._progress.live.stop()
        self._progress.disable = True  # no closing blank line either


@contextmanager
def steps(enabled: bool = True) -> Iterator[Steps]:
    """Progress lines on stderr (none when not ``enabled``, e.g. with ``--json``)."""
    if not enabled:
        yield Steps(None)
        return
    from rich.table import Column

    columns = [  # figures never cut: a long description folds onto a second line instead
        TextColumn("[bold]{task.description}", table_column=Column(overflow="fold")),
        BarColumn(bar_width=20),
        _CountColumn(table_column=Column(no_wrap=True)),
        TimeElapsedColumn(table_column=Column(no_wrap=True)),
    ]
    with Progress(*columns, console=err_console, transient=False) as progress:
        shown = Steps(progress)
        try:
            yield shown
        except BaseException:
            shown.discard()
            raise
        shown.done()


@contextmanager
def progress_bar(
    description: str, total: int | None, enabled: bool = True, unit: str = "rows"
) -> Iterator[Steps]:
    """One counted step on stderr; yields ``advance(n)`` (a :class:`Steps`, so the service may
    also announce phases with ``.phase(text)``)."""
    with steps(enabled) as shown:
        shown.count(description, total, unit)
        yield shown


def figure_tables(
    title: str | None,
    headers: list[str],
    rows: list[list[str]],
    *,
    numeric: list[bool] | None = None,
    width: int | None = None,
    show_header: bool = True,
) -> list[Any]:
    """Rich tables whose figures are never cut: at any width (80 columns included) a number is
    shown whole, on one line; text cells and headers wrap (``mean_value`` may become two
    lines) instead of ending in ``…``. When the columns cannot all fit, they are split over
    several tables, each repeating the first (key) column.

    ``numeric[i]`` marks a right-aligned figure column (default: every column after the
    first).
    """
    from rich.table import Table
    from rich.text import Text

    width = width or console.width
    numeric = numeric or [i > 0 for i in range(len(headers))]
    shown = [h.replace("_", " ") for h in headers]

    def widest(i: int) -> int:
        lines = [line for row in rows for line in str(row[i]).splitlines()]
        return max([len(line) for line in lines] + [len(shown[i])] * (not numeric[i]) + [1])

    def need(i: int) -> int:
        header = max([len(w) for w in shown[i].split()] or [1])  # a header wraps at spaces
        if numeric[i]:  # a figure stays on one line, whole
            return max(widest(i), header)
        return max(min(widest(i), 24), header)  # longer text wraps (or folds) past 24

    needs = [need(i) for i in range(len(headers))]
    parts: list[list[int]] = []
    current = [0]
    used = 1 + needs[0] + 3  # left border, key column, padding and separator
    for i in range(1, len(headers)):
        if used + needs[i] + 3 > width and len(current) > 1:
            parts.append(current)
            current = [0]
            used = 1 + needs[0] + 3
        current.append(i)
        used += needs[i] + 3
    parts.append(current)
    tables = []
    for n, columns in enumerate(parts):
        spare = width - (1 + sum(needs[i] + 3 for i in columns))
        for i in columns:  # room left: text columns grow toward their longest line
            if not numeric[i] and spare > 0:
                grow = min(spare, widest(i) - needs[i])
                if grow > 0:
                    needs[i] += grow
                    spare -= grow
        for i in columns:  # and headers of figures stay on one line when they can
            grow = min(spare, len(shown[i]) - needs[i])
            if grow > 0:
                needs[i] += grow
                spare -= grow
        label = title if len(parts) == 1 or title is None else f"{title} ({n + 1}/{len(parts)})"
        table = Table(title=None if label is None else Text(label), show_header=show_header)
        for i in columns:
            table.add_column(  # a fixed width: rich neither squeezes nor crops it
                shown[i], justify="right" if numeric[i] else "left", overflow="fold", width=needs[i]
            )
        for row in rows:  # plain text: an id such as "[vip]" is not read as markup
            table.add_row(*(Text(str(row[i])) for i in columns))
        tables.append(table)
    return tables


def money(value: float | None) -> str:
    return (
        "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.2f}"
    )
