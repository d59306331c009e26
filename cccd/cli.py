"""The ``cccd`` command: one entry point composing the command groups each package defines in its ``cli.py``."""

from __future__ import annotations

import typer

import hw
from agent import cli as agent_cli
from agent import cross_check, parse_cccd_qr
from cccd import demo
from hw import cli as hw_cli
from provisioning import cli as provisioning_cli
from server import cli as server_cli

app = typer.Typer(
    name="cccd",
    help="Authenticate Vietnamese chip ID cards (CCCD) by chip and QR code, and report signed results.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# ``cccd card read --qr-text``: the agent's CCCD QR parser and QR ↔ chip cross-check (the same function the terminal's
# pipeline uses), handed to ``hw``, which may not import ``agent``.
hw_cli.register(app, qr=hw.QrSupport(parse=parse_cccd_qr, cross_check=cross_check))
agent_cli.register(app)
provisioning_cli.register(app)
server_cli.register(app)
demo.register(app)


def main() -> None:
    app()
