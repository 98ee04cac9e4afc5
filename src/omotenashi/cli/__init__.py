"""Command-line interface: a thin layer over the Python API (``omotenashi.Omotenashi``).

Each capability has its own module here; each module registers its commands on the shared Typer
apps of ``cli._apps``. No business logic lives in this package: commands parse options, call the
API and print (rich tables for people, ``--json`` for programs).
"""

from __future__ import annotations

import importlib

from omotenashi.cli._apps import app, evaluate_app

# Command modules, in the order their commands appear in --help.
_COMMAND_MODULES = ("_core", "_value", "_recommend", "_audit", "_decide", "_serve")


def _load_commands() -> None:
    for name in _COMMAND_MODULES:
        module_name = f"omotenashi.cli.{name}"
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a capability not built yet
            if exc.name != module_name:
                raise


def main() -> None:
    """Console-script entry point: errors of omotenashi become one clear line; bad input
    (``DataError``: a file, a value, an option) exits with code 2, like a usage error, anything
    else with code 1."""
    import sys

    from omotenashi.errors import DataError, OmotenashiError

    _load_commands()
    try:
        app()
    except OmotenashiError as exc:
        from omotenashi.cli._common import err_console

        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2 if isinstance(exc, DataError) else 1)


__all__ = ["app", "evaluate_app", "main"]
