"""The elementary files of the eMRTD application: file identifiers, short file identifiers and LDS tags."""

from __future__ import annotations

import enum

# The eMRTD application (ICAO 9303-10 §3.6.2).
EMRTD_AID = bytes.fromhex("A0000002471001")


class FileId(enum.Enum):
    """An EF with its FID, SFI and the tag its content starts with (None for files without an LDS tag)."""

    CARD_ACCESS = ("CardAccess", 0x011C, 0x1C, 0x31)
    CARD_SECURITY = ("CardSecurity", 0x011D, 0x1D, 0x77)
    DIR = ("DIR", 0x2F00, 0x1E, None)
    COM = ("COM", 0x011E, 0x1E, 0x60)
    SOD = ("SOD", 0x011D, 0x1D, 0x77)
    DG1 = ("DG1", 0x0101, 0x01, 0x61)
    DG2 = ("DG2", 0x0102, 0x02, 0x75)
    DG3 = ("DG3", 0x0103, 0x03, 0x63)
    DG4 = ("DG4", 0x0104, 0x04, 0x76)
    DG5 = ("DG5", 0x0105, 0x05, 0x65)
    DG6 = ("DG6", 0x0106, 0x06, 0x66)
    DG7 = ("DG7", 0x0107, 0x07, 0x67)
    DG8 = ("DG8", 0x0108, 0x08, 0x68)
    DG9 = ("DG9", 0x0109, 0x09, 0x69)
    DG10 = ("DG10", 0x010A, 0x0A, 0x6A)
    DG11 = ("DG11", 0x010B, 0x0B, 0x6B)
    DG12 = ("DG12", 0x010C, 0x0C, 0x6C)
    DG13 = ("DG13", 0x010D, 0x0D, 0x6D)
    DG14 = ("DG14", 0x010E, 0x0E, 0x6E)
    DG15 = ("DG15", 0x010F, 0x0F, 0x6F)
    DG16 = ("DG16", 0x0110, 0x10, 0x70)

    def __init__(self, label: str, fid: int, sfi: int, tag: int | None) -> None:
        self.label = label
        self.fid = fid
        self.sfi = sfi
        self.tag = tag

    @property
    def dg_number(self) -> int | None:
        """1..16 for a data group, None for the other files."""
        return int(self.label[2:]) if self.label.startswith("DG") else None

    @classmethod
    def data_group(cls, number: int) -> FileId:
        try:
            return cls[f"DG{number}"]
        except KeyError:
            raise ValueError(f"there is no data group {number}") from None

    @classmethod
    def by_tag(cls, tag: int) -> FileId | None:
        """The LDS file whose content starts with ``tag`` (EF.COM lists data groups by these tags)."""
        return next((f for f in cls if f.tag == tag and f not in (cls.CARD_ACCESS, cls.CARD_SECURITY)), None)
