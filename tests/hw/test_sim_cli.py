"""``cccd sim card`` and ``cccd sim population`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from smartcard.System import readers
from typer.testing import CliRunner

from agent._cccd_qr import parse_cccd_qr
from cccd.cli import app
from hw._reader_pcscd import PcscDaemon
from hw.sim import Citizen

CCCD = [str(Path(sys.executable).with_name("cccd"))]


def test_population_command_writes_consistent_json(tmp_path: Path) -> None:
    out = tmp_path / "people.json"
    result = CliRunner().invoke(app, ["sim", "population", "--count", "25", "--seed", "7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    people = [Citizen.from_json(item) for item in data["citizens"]]
    assert len(people) == 25
    ids = {p.id_number for p in people}
    assert all(h["head_id"] in ids for h in data["households"])


def test_unknown_fault_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["sim", "card", "--fault", "melted"])
    assert result.exit_code == 2
    assert "unknown fault" in result.output


@pytest.mark.parametrize("port", ["0", "65536", "99999"])
def test_a_port_outside_1_to_65535_is_a_usage_error(port: str) -> None:
    result = CliRunner().invoke(app, ["sim", "card", "--port", port])
    assert result.exit_code == 2
    assert "--port" in result.output


@pytest.mark.pcscd
def test_sim_card_plays_on_vpcd_and_writes_its_files(pcscd: PcscDaemon, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*CCCD, "sim", "card", "--seed", "4", "--port", "35964", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        reader = next(r for r in readers() if str(r) == "Virtual PCD 00 01")
        deadline = time.monotonic() + 10
        while True:
            connection = reader.createConnection()
            try:
                connection.connect()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        _, sw1, sw2 = connection.transmit(list(bytes.fromhex("00A4040C07A0000002471001")))
        assert (sw1, sw2) == (0x90, 0x00)
        _, sw1, sw2 = connection.transmit(list(bytes.fromhex("00A4020C020101")))
        assert (sw1, sw2) == (0x69, 0x82)  # DG1 needs access control first
        connection.disconnect()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    card = json.loads((tmp_path / "card.json").read_text(encoding="utf-8"))
    person = Citizen.from_json(json.loads((tmp_path / "citizen.json").read_text(encoding="utf-8")))
    assert card["can"] == person.id_number[-6:]
    assert (tmp_path / "csca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    qr = parse_cccd_qr(card["qr_text"])
    assert (qr.id_number, qr.full_name, qr.date_of_birth) == (person.id_number, person.full_name, person.date_of_birth)
    assert os.stat(tmp_path / "csca.pem").st_size > 300
