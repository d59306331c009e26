"""DG1 (ICAO 9303-10 §4.7.1): the machine readable zone, as ``61 { 5F1F <MRZ characters> }``."""

from __future__ import annotations

from dataclasses import dataclass

from mrtd._errors import ParseError
from mrtd._files import FileId
from mrtd._lds import unwrap
from mrtd._mrz import MRZ, parse_mrz
from mrtd._tlv import parse_all


@dataclass(frozen=True, slots=True)
class DG1:
    mrz: MRZ


def parse_dg1(data: bytes) -> DG1:
    """Decode DG1; the zone's check digits are verified (an :class:`~mrtd.MRZError` names the failing field)."""
    top = unwrap(data, FileId.DG1)
    element = next((child for child in parse_all(top.value) if child.tag == 0x5F1F), None)
    if element is None:
        raise ParseError("DG1 has no 5F1F data object (MRZ)")
    try:
        text = element.value.decode("ascii")
    except UnicodeDecodeError:
        raise ParseError("DG1 MRZ is not ASCII") from None
    if len(text) not in (90, 88):
        raise ParseError(f"DG1 MRZ has {len(text)} characters; TD1 has 90 and TD3 88")
    return DG1(parse_mrz(text))
