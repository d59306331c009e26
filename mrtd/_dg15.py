"""DG15 (ICAO 9303-10 §4.7.15): the active-authentication public key, RSA or EC, as a SubjectPublicKeyInfo."""

from __future__ import annotations

from dataclasses import dataclass

from mrtd._files import FileId
from mrtd._keys import PublicKey, load_public_key
from mrtd._lds import unwrap


@dataclass(frozen=True, slots=True)
class DG15:
    public_key: PublicKey


def parse_dg15(data: bytes) -> DG15:
    """Decode DG15: tag ``6F`` around a DER SubjectPublicKeyInfo (EC keys may carry explicit curve parameters)."""
    top = unwrap(data, FileId.DG15)
    return DG15(load_public_key(top.value))
