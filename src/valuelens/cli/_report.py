"""Placeholder: this stage's subcommands are being written (see the open issues)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's subcommands to the main app."""
