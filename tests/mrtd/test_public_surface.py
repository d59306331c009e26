"""The chip core's public surface, and the import rules of ARCHITECTURE.md §1 as the code actually follows them.

Other packages use ``mrtd`` through the names its ``__init__`` exports, never its private ``_modules``; and each
package imports only the packages its room allows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mrtd

ROOT = Path(__file__).resolve().parents[2]
OURS = {"mrtd", "hw", "agent", "wire", "provisioning", "server", "cccd"}
ALLOWED = {
    "mrtd": set(),
    "hw": {"mrtd"},
    "agent": {"mrtd", "hw", "wire", "provisioning"},
    "wire": set(),
    "provisioning": {"wire"},
    "server": {"mrtd", "wire", "provisioning"},
    "cccd": OURS - {"cccd"},
    "bench": OURS,
}


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every imported module name of ``path`` (``from x import y`` gives ``x``), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found.extend([(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names])
    return found


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_what_their_room_allows(package: str) -> None:
    wrong = []
    for path in _sources(package):
        for line, name in _imports(path):
            top = name.split(".")[0]
            if top in OURS and top != package and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert wrong == []


@pytest.mark.parametrize("package", sorted(set(ALLOWED) - {"mrtd"}))
def test_other_packages_use_only_the_public_names_of_mrtd(package: str) -> None:
    private = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _sources(package)
        for line, name in _imports(path)
        if name.startswith("mrtd._")
    ]
    assert private == []


def test_the_public_names_exist_and_are_listed_once() -> None:
    assert len(set(mrtd.__all__)) == len(mrtd.__all__)
    for name in mrtd.__all__:
        assert getattr(mrtd, name) is not None, name
    exported = {name for name in vars(mrtd) if not name.startswith("_")}
    modules = {name for name in exported if type(getattr(mrtd, name)).__name__ == "module"}
    assert exported - modules == set(mrtd.__all__)
