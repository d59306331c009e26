"""Machine readable zone (ICAO Doc 9303-3, -5, -4): check digits, TD1 and TD3 layouts, the CCCD conventions."""

from __future__ import annotations

from mrtd._errors import MRZError

_WEIGHTS = (7, 3, 1)


def _char_value(char: str) -> int:
    if char.isdigit():
        return ord(char) - ord("0")
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    raise MRZError(f"character {char!r} is not allowed in a machine readable zone")


def check_digit(field: str) -> str:
    """The ICAO 9303-3 check digit (weights 7, 3, 1; ``<`` counts 0, ``A``..``Z`` 10..35)."""
    total = sum(_char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(field))
    return str(total % 10)
