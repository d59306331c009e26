"""Independent COSE implementations, each installed by the tests into a throw-away folder and run in a subprocess
(imported as ``cosekit``).

They share no code with ``wire`` and do not run in this interpreter: python-cwt and pycose pin cbor2 < 6 while this
project uses cbor2 6, so they are installed with ``pip install --target`` into a private folder that goes first on the
subprocess's ``sys.path``; cose-js is installed with npm and run by node. Every implementation runs the same job (a
script beside this file reads JSON on stdin and writes JSON on stdout):

``{"verify": [{"public_pem", "kid", "envelope"}], "sign": {"private_pem", "kid", "payload"}}`` ->
``{"verify": [{"ok", "payload" | "error"}], "signed"}``

A verifier accepts an envelope only if the signature holds *and* the protected ``kid`` is the key's. In CI (``CI``
set) an implementation that cannot be installed fails the test; elsewhere (no registry) it skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

HERE = Path(__file__).resolve().parent
INSTALL_TIMEOUT_S = 300


@dataclass(frozen=True, slots=True)
class Implementation:
    """How to install and run one COSE implementation."""

    name: str
    script: str
    python: tuple[str, ...] = ()
    npm: tuple[str, ...] = ()
    # Signs with RFC 6979 deterministic ECDSA, as we do: its envelope must then equal ours byte for byte.
    deterministic: bool = False


IMPLEMENTATIONS = (
    Implementation("python-cwt", "cose_interop_cwt.py", python=("cwt==3.3.0", "pyhpke>=0.5.3,<1", "cbor2>=5.4.2,<6")),
    Implementation(
        "pycose",
        "cose_interop_pycose.py",
        python=("pycose==1.1.0", "cbor2>=5.4.2,<6", "ecdsa>=0.18,<1", "attrs>=22"),
        deterministic=True,
    ),
    Implementation("cose-js", "cose_interop_cosejs.js", npm=("cose-js@0.9.0",), deterministic=True),
)


def _unavailable(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class Runner:
    """An installed implementation, ready to run jobs."""

    def __init__(self, implementation: Implementation, folder: Path) -> None:
        self.implementation = implementation
        self._folder = folder

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        script = str(HERE / self.implementation.script)
        if self.implementation.npm:
            node = shutil.which("node") or "node"
            command, env = [node, script], {**os.environ, "NODE_PATH": str(self._folder / "node_modules")}
        else:
            command, env = [sys.executable, script], {**os.environ, "PYTHONPATH": str(self._folder)}
        result = subprocess.run(
            command, input=json.dumps(job), capture_output=True, text=True, env=env, check=False, timeout=120
        )
        assert result.returncode == 0, result.stderr
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer


def install(implementation: Implementation, folder: Path) -> Runner:
    """Install ``implementation`` into ``folder`` (skips, or fails in CI, when that is impossible)."""
    if implementation.npm:
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            _unavailable(f"{implementation.name} needs node and npm")
        command = [npm or "npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--no-save"]
        command += ["--loglevel=error", *implementation.npm]
    else:
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
        command += ["--target", str(folder), *implementation.python]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _unavailable(f"installing {implementation.name} took more than {INSTALL_TIMEOUT_S} s")
    if result.returncode != 0:
        _unavailable(f"could not install {implementation.name} for the interop test: {result.stderr[-500:]}")
    return Runner(implementation, folder)
