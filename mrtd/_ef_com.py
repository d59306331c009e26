"""EF.COM (ICAO 9303-10 §4.6.1): LDS and Unicode versions, and the tags of the data groups present."""

from __future__ import annotations

from dataclasses import dataclass

from mrtd._errors import ParseError
from mrtd._files import FileId
from mrtd._lds import unwrap, version_text
from mrtd._tlv import parse_all


@dataclass(frozen=True, slots=True)
class EfCom:
    """``lds_version`` as ``"1.7"``, ``unicode_version`` as ``"4.0.0"``; ``data_groups`` in the order listed."""

    lds_version: str
    unicode_version: str
    data_groups: tuple[FileId, ...]
    unknown_tags: tuple[int, ...] = ()


def parse_ef_com(data: bytes) -> EfCom:
    """Decode EF.COM (tag ``60``): ``5F01`` LDS version, ``5F36`` Unicode version, ``5C`` tag list."""
    top = unwrap(data, FileId.COM)
    children = {child.tag: child.value for child in parse_all(top.value)}
    for tag in (0x5F01, 0x5F36, 0x5C):
        if tag not in children:
            raise ParseError(f"EF.COM has no {tag:X} data object")
    groups: list[FileId] = []
    unknown: list[int] = []
    for tag in children[0x5C]:
        file = FileId.by_tag(tag)
        if file is None or file.dg_number is None:
            unknown.append(tag)
        elif file not in groups:
            groups.append(file)
    return EfCom(
        lds_version=version_text(children[0x5F01], 4, "EF.COM LDS version"),
        unicode_version=version_text(children[0x5F36], 6, "EF.COM Unicode version"),
        data_groups=tuple(groups),
        unknown_tags=tuple(unknown),
    )
