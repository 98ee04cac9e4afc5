"""Running the CLI in-process exactly as the console script does (``omotenashi.cli.main``:
one error line, exit codes), and the tree of its commands."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, columns: int = 80, stdin: str = "") -> Ran:
    """``omotenashi ARGS`` in this process at a terminal width of ``columns``."""
    import sys

    from omotenashi.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = {key: os.environ.get(key) for key in ("COLUMNS", "LINES")}
    os.environ["COLUMNS"] = str(columns)
    os.environ["LINES"] = "50"
    real_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin = real_stdin
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return Ran(code, out.getvalue(), err.getvalue())


def command_tree() -> Iterator[tuple[tuple[str, ...], object]]:
    """Every group and command of the CLI as (path, click command), the root first."""
    from omotenashi.cli import _load_commands, app
    from omotenashi.cli._common import cli_command

    _load_commands()

    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], object]]:
        yield path, command
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, (*path, name))

    yield from walk(cli_command(app), ())


def leaf_commands() -> list[tuple[str, ...]]:
    """The paths of the commands that do something (not the groups)."""
    return [path for path, command in command_tree() if not hasattr(command, "commands")]
