"""The ``cccd`` entry point loads only the command group it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from cccd.cli import main
sys.argv = ["cccd", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
heavy = ("fastapi", "uvicorn", "provisioning", "hw", "zxingcpp", "smartcard")
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}), file=sys.stderr)
"""


def _run(*args: str) -> tuple[dict[str, object], str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60, check=False)
    return json.loads(done.stderr.strip().splitlines()[-1]), done.stdout


@pytest.mark.parametrize(
    ("group", "absent"),
    [("card", {"fastapi", "uvicorn", "provisioning"}), ("fleet", {"hw", "zxingcpp", "smartcard"})],
)
def test_a_group_runs_without_the_others_packages(group: str, absent: set[str]) -> None:
    result, out = _run(group, "--help")
    assert result["code"] == 0
    assert group in out
    assert not absent & set(result["loaded"])  # type: ignore[arg-type]


def test_the_top_level_help_lists_every_group() -> None:
    result, out = _run("--help")
    assert result["code"] == 0
    for group in ("card", "sim", "qr", "agent", "fleet", "demo"):
        assert group in out


def test_an_unknown_group_is_a_usage_error() -> None:
    result, _ = _run("crad", "read")
    assert result["code"] == 2


def test_the_version_is_printed() -> None:
    result, out = _run("--version")
    assert result["code"] == 0
    assert out.startswith("cccd-edge ")
