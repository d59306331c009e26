"""Command-line group of this package, composed into ``cccd`` by ``cccd.cli``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``cccd`` application."""
