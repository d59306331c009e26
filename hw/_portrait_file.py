"""The portrait from DG2 in the file format a user asked for (``cccd card read --photo OUT``)."""

from __future__ import annotations

import io
import warnings

from PIL import Image

# What a suffix asks for, as Pillow's format name; any other suffix gets the image as the chip stores it.
_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".jp2": "JPEG2000", ".j2k": "JPEG2000"}
# A portrait is at most a few hundred pixels a side; anything larger from a card is not a portrait.
_MAX_PIXELS = 4_000_000


class PortraitConversionError(Exception):
    """The portrait could not be decoded to be written in another format."""


def portrait_file(image: bytes, suffix: str) -> bytes:
    """``image`` (JPEG or JPEG 2000 from DG2) in the format ``suffix`` names, converted only when it differs.

    The image comes from the card: it is decoded with a bound on its size, and a failure raises
    :class:`PortraitConversionError` (the caller may still write the bytes as they are).
    """
    wanted = _FORMATS.get(suffix.lower())
    stored = "JPEG" if image.startswith(b"\xff\xd8\xff") else "JPEG2000"
    if wanted is None or wanted == stored:
        return image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image)) as opened:
                width, height = opened.size
                if width * height > _MAX_PIXELS:
                    raise PortraitConversionError(f"{width}x{height} pixels is not a portrait")
                converted = opened.convert("L" if opened.mode in ("L", "I;16", "I") else "RGB")
    except PortraitConversionError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise PortraitConversionError(f"the portrait cannot be decoded ({type(exc).__name__})") from exc
    out = io.BytesIO()
    converted.save(out, format=wanted, **({"quality": 95} if wanted == "JPEG" else {}))
    return out.getvalue()
