"""DG2 (ICAO 9303-10 §4.7.2): the portrait, an ISO/IEC 19794-5 face record inside the biometric templates.

``75 { 7F61 { 02 count, 7F60 { A1 header, 5F2E record } ... } }``. The record (``FAC\\0``, version ``010\\0``) holds a
facial information block, feature points, an image information block and the JPEG or JPEG 2000 image; its declared
type must agree with the image's own magic bytes. A ``7F2E`` block (ISO/IEC 39794-5, TLV-encoded) is accepted by
locating the image inside it; only the image and its size are read from that newer format.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from mrtd._errors import ParseError
from mrtd._files import FileId
from mrtd._lds import unwrap
from mrtd._tlv import TLV, parse_all

_JPEG_MAGIC = b"\xff\xd8\xff"
_JP2_MAGIC = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_MAGIC = b"\xff\x4f\xff\x51"
_FACE_HEADER = struct.Struct(">4s4sIH")
_FACE_INFO = struct.Struct(">IHBBB3sH3s3s")
_IMAGE_INFO = struct.Struct(">BBHHBBHH")
_FEATURE_POINT_SIZE = 8
# A facial image count or a feature point count beyond these is hostile, not a portrait.
_MAX_FACES = 16
_MAX_FEATURE_POINTS = 256


class ImageType(enum.Enum):
    JPEG = "jpeg"
    JPEG2000 = "jpeg2000"


@dataclass(frozen=True, slots=True)
class FaceImage:
    """One portrait: the image bytes and what the record says about them (None where the record is silent)."""

    image_type: ImageType
    width: int
    height: int
    image: bytes
    gender: int | None = None
    eye_colour: int | None = None
    hair_colour: int | None = None
    expression: int | None = None
    face_image_type: int | None = None
    feature_points: int = 0


@dataclass(frozen=True, slots=True)
class DG2:
    faces: tuple[FaceImage, ...]

    @property
    def portrait(self) -> FaceImage:
        return self.faces[0]


def _magic_type(image: bytes) -> ImageType | None:
    if image.startswith(_JPEG_MAGIC):
        return ImageType.JPEG
    if image.startswith((_JP2_MAGIC, _J2K_MAGIC)):
        return ImageType.JPEG2000
    return None


def _jpeg_size(image: bytes) -> tuple[int, int] | None:
    """Width and height from the first SOFn segment of a JPEG."""
    pos = 2
    while pos + 4 <= len(image):
        if image[pos] != 0xFF:
            return None
        marker = image[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = int.from_bytes(image[pos + 2 : pos + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > len(image):
                return None
            height, width = struct.unpack(">HH", image[pos + 5 : pos + 9])
            return width, height
        if length < 2:
            return None
        pos += 2 + length
    return None


def _jp2_size(image: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG 2000 codestream's SIZ marker (found in a JP2 file's codestream box too)."""
    at = image.find(b"\xff\x51")
    # SIZ: marker, Lsiz, Rsiz, then Xsiz, Ysiz, XOsiz, YOsiz (4 bytes each).
    if at < 0 or at + 22 > len(image):
        return None
    xsiz, ysiz, xosiz, yosiz = struct.unpack_from(">IIII", image, at + 6)
    if xsiz <= xosiz or ysiz <= yosiz:
        return None
    return xsiz - xosiz, ysiz - yosiz


def image_size(image: bytes, image_type: ImageType) -> tuple[int, int] | None:
    return _jpeg_size(image) if image_type is ImageType.JPEG else _jp2_size(image)


def parse_face_record(record: bytes) -> tuple[FaceImage, ...]:
    """Decode an ISO/IEC 19794-5:2005 facial record (format ``FAC``, version ``010``)."""
    if len(record) < _FACE_HEADER.size:
        raise ParseError("face record is shorter than its header")
    magic, version, length, count = _FACE_HEADER.unpack_from(record)
    if magic != b"FAC\x00":
        raise ParseError("biometric data block is not an ISO/IEC 19794-5 face record (no FAC header)")
    if version != b"010\x00":
        raise ParseError(f"ISO/IEC 19794-5 version {version!r} is not supported (only 010)")
    if length > len(record) or length < _FACE_HEADER.size:
        raise ParseError(f"face record claims {length} bytes, {len(record)} present")
    if not 1 <= count <= _MAX_FACES:
        raise ParseError(f"face record claims {count} images")
    faces: list[FaceImage] = []
    pos = _FACE_HEADER.size
    for _ in range(count):
        if pos + _FACE_INFO.size > length:
            raise ParseError("facial information block is truncated")
        block_length, points, gender, eyes, hair, _mask, expression, _pose, _uncertainty = _FACE_INFO.unpack_from(
            record, pos
        )
        end = pos + block_length
        if points > _MAX_FEATURE_POINTS:
            raise ParseError(f"face record claims {points} feature points")
        info_at = pos + _FACE_INFO.size + points * _FEATURE_POINT_SIZE
        image_at = info_at + _IMAGE_INFO.size
        if end > length or image_at >= end:
            raise ParseError("facial record data length does not fit the record")
        face_type, data_type, width, height, _space, _source, _device, _quality = _IMAGE_INFO.unpack_from(
            record, info_at
        )
        image = record[image_at:end]
        declared = {0: ImageType.JPEG, 1: ImageType.JPEG2000}.get(data_type)
        if declared is None:
            raise ParseError(f"face image data type {data_type} is neither JPEG (0) nor JPEG 2000 (1)")
        if _magic_type(image) is not declared:
            raise ParseError(f"face image is declared {declared.value} but its bytes are not")
        faces.append(
            FaceImage(
                image_type=declared,
                width=width,
                height=height,
                image=image,
                gender=gender,
                eye_colour=eyes,
                hair_colour=hair,
                expression=expression,
                face_image_type=face_type,
                feature_points=points,
            )
        )
        pos = end
    return tuple(faces)


def _find_image(tlvs: list[TLV], depth: int = 0) -> bytes | None:
    if depth > 16:
        return None
    for tlv in tlvs:
        if tlv.constructed:
            found = _find_image(tlv.children(), depth + 1)
            if found is not None:
                return found
        elif _magic_type(tlv.value) is not None:
            return tlv.value
    return None


def _faces_from_39794(block: TLV) -> tuple[FaceImage, ...]:
    image = _find_image(block.children())
    if image is None:
        raise ParseError("ISO/IEC 39794-5 face block holds no JPEG or JPEG 2000 image")
    kind = _magic_type(image)
    assert kind is not None
    width, height = image_size(image, kind) or (0, 0)
    return (FaceImage(image_type=kind, width=width, height=height, image=image),)


def _parse_instance(template: TLV) -> tuple[FaceImage, ...]:
    if template.tag != 0x7F60:
        raise ParseError(f"DG2 holds tag {template.tag:X} where a biometric template (7F60) belongs")
    children = template.children()
    block = next((c for c in children if c.tag in (0x5F2E, 0x7F2E)), None)
    if block is None:
        raise ParseError("DG2 biometric template has no biometric data block (5F2E or 7F2E)")
    if block.tag == 0x7F2E:
        return _faces_from_39794(block)
    return parse_face_record(block.value)


def parse_dg2(data: bytes) -> DG2:
    """Decode DG2 down to each portrait image."""
    top = unwrap(data, FileId.DG2)
    groups = parse_all(top.value)
    group = next((g for g in groups if g.tag == 0x7F61), None)
    if group is None:
        raise ParseError("DG2 has no biometric information group template (7F61)")
    children = group.children()
    templates = [c for c in children if c.tag != 0x02]
    count_tlv = next((c for c in children if c.tag == 0x02), None)
    if count_tlv is not None and int.from_bytes(count_tlv.value, "big") != len(templates):
        raise ParseError(f"DG2 announces {int.from_bytes(count_tlv.value, 'big')} templates and holds {len(templates)}")
    if not templates:
        raise ParseError("DG2 holds no biometric template")
    faces: list[FaceImage] = []
    for template in templates:
        faces.extend(_parse_instance(template))
    return DG2(tuple(faces))
