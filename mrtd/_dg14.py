"""DG14 (ICAO 9303-10 §4.7.14): the SecurityInfos for chip authentication and EC active authentication."""

from __future__ import annotations

from dataclasses import dataclass

from mrtd._files import FileId
from mrtd._lds import unwrap
from mrtd._security_infos import SecurityInfos, parse_security_infos


@dataclass(frozen=True, slots=True)
class DG14:
    security_infos: SecurityInfos


def parse_dg14(data: bytes) -> DG14:
    """Decode DG14: tag ``6E`` around a DER ``SET OF SecurityInfo``."""
    top = unwrap(data, FileId.DG14)
    return DG14(parse_security_infos(top.value))
