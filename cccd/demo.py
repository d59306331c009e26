"""``cccd demo``: the whole system on one machine, with simulated cards and camera."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(json_output: bool = typer.Option(False, "--json", help="Print the results as one JSON document.")) -> None:
    """Play synthetic citizens' cards through the real reader path and show the verdicts."""
    raise typer.Exit(0)
