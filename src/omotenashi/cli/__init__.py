"""Command-line interface: a thin layer over the Python API (``omotenashi.Omotenashi``).

Each capability has its own module here; each module registers its commands on the shared Typer
apps of ``cli._apps``. No business logic lives in this package: commands parse options, call the
API and print (rich tables for people, ``--json`` for programs).
"""

from __future__ import annotations

import importlib

from omotenashi.cli._apps import app, evaluate_app

# Command modules, in the order their commands appear in --help.
_COMMAND_MODULES = (
    "_core",
    "_consent",
    "_rights",
    "_value",
    "_recommend",
    "_audit",
    "_decide",
    "_outreach",
    "_compose",
    "_care",
    "_scale",
    "_security",
    "_serve",
)

#: The top-level commands and groups each module registers, so that a command line loads (and
#: Typer builds) only the module of the command it runs; ``--help``, no command or an unknown one
#: load them all. tests/cli/test_startup.py checks this against what the modules register.
_COMMANDS = {
    "_core": (
        "demo",
        "init",
        "stats",
        "import",
        "import-items",
        "import-customers",
        "presets",
        "track",
        "identify",
        "alias",
        "merge",
        "profile",
        "timeline",
        "customers",
    ),
    "_consent": ("consent", "preferences"),
    "_rights": ("export", "erase"),
    "_value": ("segments", "value"),
    "_recommend": ("train", "recommend", "similar", "evaluate"),
    "_audit": ("audit",),
    "_decide": ("decide", "evaluate"),
    "_outreach": ("nba", "outreach"),
    "_compose": ("bundle", "plan", "message", "evaluate"),
    "_care": ("recalls", "care", "goals", "concierge"),
    "_security": ("access-log", "encryption"),
    "_serve": ("serve", "keys"),
    "_scale": ("export-events", "spark-train"),
}


def _modules_for(argv: list[str]) -> tuple[str, ...]:
    """The command modules a command line needs: all of them unless it starts with a command
    name this package knows (the top level takes no option but ``--help`` and completion)."""
    needed = tuple(m for m in _COMMAND_MODULES if argv and argv[0] in _COMMANDS[m])
    return needed or _COMMAND_MODULES


def _load_commands(argv: list[str] | None = None) -> None:
    """Register the commands (only those ``argv`` runs, when given: see :func:`_modules_for`)."""
    for name in _COMMAND_MODULES if argv is None else _modules_for(argv):
        module_name = f"omotenashi.cli.{name}"
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a capability not built yet
            if exc.name != module_name:
                raise


#: Environment variable: log level of the command line (DEBUG, INFO ...; default: no logs).
_LOG_LEVEL_ENV = "OMOTENASHI_LOG_LEVEL"


def _configure_logging() -> None:
    """Logs on stderr at ``$OMOTENASHI_LOG_LEVEL`` when set, API key secrets redacted."""
    import logging
    import os

    level = os.environ.get(_LOG_LEVEL_ENV, "").strip().upper()
    if not level:
        return
    from omotenashi.services import RedactSecrets

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: every error becomes one clear line on stderr, never a
    traceback; bad input (``DataError``, an unknown id or store, a usage error) exits with code
    2, anything else with code 1 (see ``cli._common.run``)."""
    import sys

    from omotenashi.cli._common import run

    argv = sys.argv[1:] if args is None else list(args)
    _configure_logging()
    _load_commands(argv)
    sys.exit(run(app, argv))


__all__ = ["app", "evaluate_app", "main"]
