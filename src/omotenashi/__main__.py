"""``python -m omotenashi`` runs the CLI."""

from omotenashi.cli import main

main()
