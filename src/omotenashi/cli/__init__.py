"""Command-line interface: a thin layer over the Python API (``omotenashi.Omotenashi``).

Each capability has its own module here; each module registers its commands on the shared Typer
apps of ``cli._apps``. No business logic lives in this package: commands parse options, call the
API and print (rich tables for people, ``--json`` for programs).
"""

from __future__ import annotations

import importlib

from omotenashi.cli._apps import app, evaluate_app

# Command modules, in the order their commands appear in --help.
_COMMAND_MODULES = ("_core", "_value", "_recommend", "_decide", "_serve")


def _load_commands() -> None:
    for name in _COMMAND_MODULES:
        module_name = f"omotenashi.cli.{name}"
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a capability not built yet
            if exc.name != module_name:
                raise


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: every error becomes one clear line on stderr, never a
    traceback; bad input (``DataError``, an unknown id or store, a usage error) exits with code
    2, anything else with code 1 (see ``cli._common.run``)."""
    import sys

    from omotenashi.cli._common import run

    argv = sys.argv[1:] if args is None else list(args)
    _load_commands()
    sys.exit(run(app, argv))


__all__ = ["app", "evaluate_app", "main"]
