"""The Typer applications every CLI module attaches its commands to.

Kept apart from ``cli/__init__`` so that command modules can import the shared groups without
importing each other.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="omotenashi",
    help="omotenashi: one-to-one personalization — profiles, recommendations, decisions, value.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

evaluate_app = typer.Typer(
    help="Offline evaluation: top-N recommenders, off-policy evaluation of decision policies.",
    no_args_is_help=True,
)
app.add_typer(evaluate_app, name="evaluate", rich_help_panel="Evaluation")
