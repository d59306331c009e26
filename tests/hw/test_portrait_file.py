"""The portrait written by ``cccd card read --photo``: in the format the file name asks for."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from hw._portrait_file import PortraitConversionError, portrait_file


def _face(format_name: str, size: tuple[int, int] = (120, 160)) -> bytes:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=format_name)
    return out.getvalue()


def test_a_jpeg_2000_portrait_becomes_the_jpeg_or_png_asked_for() -> None:
    jp2 = _face("JPEG2000")
    as_jpeg = portrait_file(jp2, ".jpg")
    assert as_jpeg[:3] == b"\xff\xd8\xff"
    assert portrait_file(jp2, ".PNG")[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(as_jpeg)) as opened:
        assert opened.size == (120, 160)


def test_a_portrait_already_in_the_format_asked_for_is_written_as_the_card_stores_it() -> None:
    jpeg, jp2 = _face("JPEG"), _face("JPEG2000")
    assert portrait_file(jpeg, ".jpeg") is jpeg
    assert portrait_file(jp2, ".jp2") is jp2
    assert portrait_file(jp2, ".bin") is jp2  # a name that asks for nothing in particular
    assert portrait_file(jpeg, ".jp2")[4:12] == b"jP  \r\n\x87\n"  # the JPEG 2000 signature box


def test_an_undecodable_or_oversized_portrait_is_refused_with_a_reason() -> None:
    with pytest.raises(PortraitConversionError, match="cannot be decoded"):
        portrait_file(b"\x00\x00\x00\x0cjP  \r\n\x87\nbroken", ".jpg")
    with pytest.raises(PortraitConversionError, match="not a portrait"):
        portrait_file(_face("JPEG2000", size=(2500, 2000)), ".png")


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([".jpg", ".png", ".jp2"]))
def test_hostile_portrait_bytes_give_our_error_or_an_image(data: bytes, suffix: str) -> None:
    try:
        out = portrait_file(data, suffix)
    except PortraitConversionError:
        return
    assert isinstance(out, bytes)
