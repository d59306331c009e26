"""The ``cccd`` command: one entry point composing the command groups each package defines in its ``cli.py``."""

from __future__ import annotations

import typer

from agent import cli as agent_cli
from agent._cccd_qr import parse_cccd_qr
from cccd import demo
from hw import cli as hw_cli
from hw._reader_session import QrKeys
from provisioning import cli as provisioning_cli
from server import cli as server_cli

app = typer.Typer(
    name="cccd",
    help="Authenticate Vietnamese chip ID cards (CCCD) by chip and QR code, and report signed results.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _qr_keys(text: str) -> QrKeys:
    """``cccd card read --qr-text``: the agent's CCCD QR parser, handed to ``hw`` (which may not import ``agent``)."""
    qr = parse_cccd_qr(text)
    return QrKeys(qr.id_number, qr.date_of_birth, qr.date_of_issue)


hw_cli.register(app, qr_parser=_qr_keys)
agent_cli.register(app)
provisioning_cli.register(app)
server_cli.register(app)
demo.register(app)


def main() -> None:
    app()
