"""The ``cccd`` command: one entry point composing the command groups each package defines in its ``cli.py``.

A run builds only the group it is asked for: each group's package is imported when the group is registered, and
a terminal running ``cccd card read`` should not pay for the enrollment service's web stack (nor the fleet admin
for the camera stack). ``cccd --help`` and anything that names no known group get every group.
"""

# ruff: noqa: PLC0415 - the imports inside the registrars are the point: a group's package loads only when needed.

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable
from typing import Annotated

import typer

HELP = "Authenticate Vietnamese chip ID cards (CCCD) by chip and QR code, and report signed results."


def _hw(app: typer.Typer) -> None:
    import hw
    from agent import cross_check, parse_cccd_qr
    from hw import cli

    # ``cccd card read --qr-text``: the agent's CCCD QR parser and QR ↔ chip cross-check (the same function the
    # terminal's pipeline uses), handed to ``hw``, which may not import ``agent``.
    cli.register(app, qr=hw.QrSupport(parse=parse_cccd_qr, cross_check=cross_check))


def _agent(app: typer.Typer) -> None:
    from agent import cli

    cli.register(app)


def _provisioning(app: typer.Typer) -> None:
    from provisioning import cli

    cli.register(app)


def _server(app: typer.Typer) -> None:
    from server import cli

    cli.register(app)


def _demo(app: typer.Typer) -> None:
    from cccd import demo

    demo.register(app)


# Each group's name, and what registers it (in the order ``cccd --help`` lists them).
GROUPS: dict[str, Callable[[typer.Typer], None]] = {
    "card": _hw,
    "sim": _hw,
    "qr": _agent,
    "agent": _agent,
    "fleet": _provisioning,
    "server": _server,
    "demo": _demo,
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cccd-edge {importlib.metadata.version('cccd-edge')}")
        raise typer.Exit


def build_app(group: str | None = None) -> typer.Typer:
    """The ``cccd`` application with only ``group`` registered, or every group when it names none."""
    app = typer.Typer(
        name="cccd", help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
    )

    @app.callback()
    def root(
        version: Annotated[
            bool, typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_version)
        ] = False,
    ) -> None:
        # A callback keeps ``cccd`` a group even when one command is registered (``cccd demo`` stays ``demo``).
        pass

    registrars = [GROUPS[group]] if group in GROUPS else GROUPS.values()
    for register in dict.fromkeys(registrars):
        register(app)
    return app


def __getattr__(name: str) -> typer.Typer:
    # ``from cccd.cli import app``: the whole command, built on first use.
    if name == "app":
        whole = build_app()
        globals()["app"] = whole
        return whole
    raise AttributeError(name)


def main() -> None:
    first = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    build_app(first)()
