"""``cccd fleet ...``: options, environment variables, outputs and exit codes."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import typer
from provkit import PASSPHRASE, free_port, run_cli

from provisioning import Fleet, Site, make_csr
from provisioning._pki import build_crl, crl_pem, generate_key
from provisioning.cli import parse_duration, parse_listen

HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CCCD_FLEET_DIR": str(tmp_path / "fleet"), "CCCD_FLEET_PASSPHRASE": PASSPHRASE.decode()}


@pytest.fixture
def fleet(env: dict[str, str]) -> Fleet:
    code, _, stderr = run_cli("fleet", "init", env=env)
    assert code == 0, stderr
    return Fleet.open(Path(env["CCCD_FLEET_DIR"]))


def test_init_prints_the_root_fingerprint(tmp_path: Path) -> None:
    passphrase = tmp_path / "pass"
    passphrase.write_bytes(PASSPHRASE + b"\n")
    code, stdout, stderr = run_cli(
        "fleet", "init", "--fleet-dir", str(tmp_path / "f"), "--passphrase-file", str(passphrase)
    )
    assert code == 0, stderr
    assert HEX64.match(stdout.strip())
    assert stdout.strip() == Fleet.open(tmp_path / "f").root_fingerprint
    assert "fingerprint" in stderr
    # The passphrase in the file, without its newline, is the one that unlocks.
    Fleet.open(tmp_path / "f").unlock(PASSPHRASE)


def test_paths_are_printed_as_they_are(tmp_path: Path) -> None:
    """Output is rich markup: a folder named like a closing tag must be printed, not parsed (or crash)."""
    fleet_dir = tmp_path / "fleet[/x]"
    code, stdout, stderr = run_cli(
        "fleet", "init", "--fleet-dir", str(fleet_dir), env={"CCCD_FLEET_PASSPHRASE": PASSPHRASE.decode()}
    )
    assert code == 0, stderr
    assert str(fleet_dir) in stderr.replace("\n", "")
    assert stdout.strip() == Fleet.open(fleet_dir).root_fingerprint


def test_init_json_and_refusing_to_overwrite(env: dict[str, str], fleet: Fleet) -> None:
    code, _, stderr = run_cli("fleet", "init", env=env)
    assert code == 1
    assert "already" in stderr
    other = {**env, "CCCD_FLEET_DIR": env["CCCD_FLEET_DIR"] + "-2"}
    code, stdout, _ = run_cli("fleet", "init", "--json", env=other)
    assert code == 0
    assert HEX64.match(json.loads(stdout)["root_fingerprint"])


def test_init_sets_the_lifetime_of_terminal_certificates(env: dict[str, str]) -> None:
    code, stdout, stderr = run_cli("fleet", "init", "--device-lifetime", "2d", "--json", env=env)
    assert code == 0, stderr
    assert json.loads(stdout)["device_lifetime_s"] == 2 * 86400
    fleet = Fleet.open(Path(env["CCCD_FLEET_DIR"]))
    issued = fleet.create_token(Site.parse("79/760"), ttl=dt.timedelta(hours=1))
    grant = fleet.enroll(fleet.unlock(PASSPHRASE), token=issued.token, csr_pem=make_csr(generate_key()).decode())
    certificate = grant.certificate
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    # Issued a few minutes in the past for terminals whose clocks lag.
    assert dt.timedelta(days=2) <= lifetime <= dt.timedelta(days=2, hours=1)


@pytest.mark.parametrize("value", ["30m", "400d", "soon"])
def test_init_refuses_a_device_lifetime_out_of_range(env: dict[str, str], value: str) -> None:
    code, _, stderr = run_cli("fleet", "init", "--device-lifetime", value, env=env)
    assert code == 2
    assert "--device-lifetime" in stderr
    assert not Path(env["CCCD_FLEET_DIR"]).exists()


def test_init_records_the_crl_url(env: dict[str, str]) -> None:
    code, stdout, stderr = run_cli("fleet", "init", "--crl-url", "http://crl.example:8080/v1/crl", "--json", env=env)
    assert code == 0, stderr
    assert json.loads(stdout)["crl_url"] == "http://crl.example:8080/v1/crl"
    assert Fleet.open(Path(env["CCCD_FLEET_DIR"])).crl_url == "http://crl.example:8080/v1/crl"


@pytest.mark.parametrize("url", ["https://crl.example/v1/crl", "http://crl.example", "crl.example/v1/crl"])
def test_init_refuses_a_crl_url_that_is_not_plain_http_with_a_path(env: dict[str, str], url: str) -> None:
    code, _, stderr = run_cli("fleet", "init", "--crl-url", url, env=env)
    assert code == 2
    assert "--crl-url" in stderr
    assert not Path(env["CCCD_FLEET_DIR"]).exists()


def test_crl_url_names_the_distribution_point_of_an_existing_fleet(env: dict[str, str], fleet: Fleet) -> None:
    code, _, stderr = run_cli("fleet", "crl-url", "https://crl.example/v1/crl", env=env)
    assert code == 2
    assert "URL" in stderr
    code, _, stderr = run_cli("fleet", "crl-url", "http://crl.example:8080/v1/crl", env=env)
    assert code == 0, stderr
    assert Fleet.open(Path(env["CCCD_FLEET_DIR"])).crl_url == "http://crl.example:8080/v1/crl"
    code, _, stderr = run_cli("fleet", "crl-url", "http://other.example/v1/crl", env=env)
    assert code == 1
    assert "already name" in stderr


def test_serve_cannot_publish_a_crl_the_fleet_has_no_url_for(env: dict[str, str], fleet: Fleet) -> None:
    listen, crl_listen = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    code, _, stderr = run_cli("fleet", "serve", "--listen", listen, "--crl-listen", crl_listen, env=env)
    assert code == 3
    assert "no CRL URL" in stderr


def test_no_passphrase_without_a_terminal_is_a_usage_error(tmp_path: Path) -> None:
    code, _, stderr = run_cli("fleet", "init", "--fleet-dir", str(tmp_path / "f"), env={"CCCD_FLEET_PASSPHRASE": ""})
    assert code == 2
    assert "CCCD_FLEET_PASSPHRASE" in stderr


def test_token_create_prints_the_token_once(env: dict[str, str], fleet: Fleet) -> None:
    code, stdout, _ = run_cli("fleet", "token", "create", "--site", "79/760/team-3", "--ttl", "2h", "--json", env=env)
    assert code == 0
    document = json.loads(stdout)
    assert set(document) == {"token", "expires", "site"}
    assert document["site"] == "79/760/team-3"
    expires = dt.datetime.fromisoformat(document["expires"])
    assert dt.timedelta(hours=1, minutes=59) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=2)
    authority = fleet.unlock(PASSPHRASE)
    assert fleet.enroll(authority, token=document["token"], csr_pem=make_csr(generate_key())).site == "79/760/team-3"
    code, stdout, stderr = run_cli("fleet", "token", "create", "--site", "79/760", env=env)
    assert code == 0
    assert stdout.strip().startswith("cccd-enroll-")
    assert stdout.strip() not in stderr
    # The list never shows a token again.
    code, listing, _ = run_cli("fleet", "list", "--json", env=env)
    assert stdout.strip() not in listing
    assert document["token"] not in listing


def test_token_options_are_validated(env: dict[str, str], fleet: Fleet) -> None:
    assert run_cli("fleet", "token", "create", "--site", "79/760", "--ttl", "soon", env=env)[0] == 2
    code, _, stderr = run_cli("fleet", "token", "create", "--site", "nowhere", env=env)
    assert code == 1
    assert "PROVINCE/COMMUNE" in stderr
    assert run_cli("fleet", "token", "create", env=env)[0] == 2


def test_list_shows_terminals(env: dict[str, str], fleet: Fleet) -> None:
    _, stdout, _ = run_cli("fleet", "token", "create", "--site", "79/760", "--json", env=env)
    grant = fleet.enroll(fleet.unlock(PASSPHRASE), token=json.loads(stdout)["token"], csr_pem=make_csr(generate_key()))
    code, stdout, _ = run_cli("fleet", "list", "--json", env=env)
    assert code == 0
    document = json.loads(stdout)
    [device] = document["devices"]
    assert device["device_id"] == grant.device_id
    assert device["state"] == "active"
    assert device["site"] == "79/760"
    assert document["root_fingerprint"] == fleet.root_fingerprint
    assert document["crl_next_update"] is not None
    assert document["crl_state"] == "current"
    code, human, stderr = run_cli("fleet", "list", env=env)
    assert code == 0
    assert grant.device_id in human
    assert "warning" not in stderr


def test_list_warns_of_a_crl_past_its_next_update(env: dict[str, str], fleet: Fleet) -> None:
    """Past nextUpdate mosquitto refuses every terminal: the operator looking at the fleet must be told."""
    stale = build_crl(fleet.unlock(PASSPHRASE), [], number=99, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=31))
    fleet.crl_path.write_bytes(crl_pem(stale))
    code, stdout, _ = run_cli("fleet", "list", "--json", env=env)
    assert code == 0
    assert json.loads(stdout)["crl_state"] == "expired"
    code, _, stderr = run_cli("fleet", "list", env=env)
    assert code == 0
    assert "refuse EVERY terminal" in stderr


def test_revoke(env: dict[str, str], fleet: Fleet) -> None:
    _, stdout, _ = run_cli("fleet", "token", "create", "--site", "79/760", "--json", env=env)
    grant = fleet.enroll(fleet.unlock(PASSPHRASE), token=json.loads(stdout)["token"], csr_pem=make_csr(generate_key()))
    code, stdout, stderr = run_cli("fleet", "revoke", grant.device_id, "--json", env=env)
    assert code == 0, stderr
    assert json.loads(stdout)["serials"] == [format(grant.certificate.serial_number, "x")]
    crl = fleet.current_crl()
    assert crl is not None
    assert crl.get_revoked_certificate_by_serial_number(grant.certificate.serial_number) is not None
    code, _, stderr = run_cli("fleet", "revoke", "t-nosuchdevice0000", env=env)
    assert code == 1
    assert "no device" in stderr


def test_wrong_passphrase_and_missing_fleet(env: dict[str, str], fleet: Fleet, tmp_path: Path) -> None:
    code, _, stderr = run_cli("fleet", "revoke", "t-x", env={**env, "CCCD_FLEET_PASSPHRASE": "wrong-passphrase"})
    assert code == 1
    assert "passphrase" in stderr
    code, _, stderr = run_cli("fleet", "list", "--fleet-dir", str(tmp_path / "nothing"))
    assert code == 3
    assert "cccd fleet init" in stderr


@pytest.mark.parametrize(
    "command", [[], ["init"], ["token", "create"], ["serve"], ["broker-config"], ["list"], ["revoke"]]
)
def test_every_command_has_help(command: list[str]) -> None:
    code, stdout, _ = run_cli("fleet", *command, "--help")
    assert code == 0
    assert "Usage" in stdout


def test_durations_and_listen_addresses() -> None:
    assert parse_duration("1h") == dt.timedelta(hours=1)
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert parse_duration("7d") == dt.timedelta(days=7)
    assert parse_duration("45s") == dt.timedelta(seconds=45)
    for bad in ("", "1", "h", "1w", "1h x"):
        with pytest.raises(typer.BadParameter):
            parse_duration(bad)
    assert parse_listen("127.0.0.1:8443") == ("127.0.0.1", 8443)
    assert parse_listen(":8443") == ("0.0.0.0", 8443)
    assert parse_listen("[::1]:8443") == ("::1", 8443)
    for bad in ("8443", "host:", "host:99999", "host:x"):
        with pytest.raises(typer.BadParameter):
            parse_listen(bad)
