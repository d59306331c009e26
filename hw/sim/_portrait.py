"""A generated passport-style portrait (JPEG) for DG2: a drawn head and shoulders, never a real face."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter

WIDTH = 240
HEIGHT = 320
_SKIN = ((241, 206, 177), (224, 182, 148), (198, 152, 118), (170, 122, 90))
_HAIR = ((25, 20, 18), (45, 32, 25), (70, 55, 45), (150, 150, 150))
_SHIRT = ((240, 240, 240), (30, 40, 80), (120, 20, 30), (60, 90, 60))


def _draw(seed: int, *, female: bool) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", (WIDTH, HEIGHT), (250, 250, 252))
    draw = ImageDraw.Draw(image)
    skin = rng.choice(_SKIN)
    hair = rng.choice(_HAIR)
    # Background: the light blue-white of a Vietnamese ID photo, with a soft vertical gradient.
    for y in range(HEIGHT):
        shade = 236 + (y * 14) // HEIGHT
        draw.line([(0, y), (WIDTH, y)], fill=(shade - 10, shade - 4, shade))
    cx = WIDTH // 2 + rng.randint(-6, 6)
    draw.ellipse([cx - 95, 250, cx + 95, 400], fill=rng.choice(_SHIRT))  # shoulders
    draw.rectangle([cx - 22, 200, cx + 22, 262], fill=skin)  # neck
    if female:
        draw.ellipse([cx - 70, 55, cx + 70, 215], fill=hair)  # long hair behind the face
    draw.ellipse([cx - 58, 70, cx + 58, 225], fill=skin)  # face
    draw.chord([cx - 62, 52, cx + 62, 150], 180, 360, fill=hair)  # hairline
    eye_y = 140 + rng.randint(-4, 4)
    for dx in (-24, 24):
        draw.ellipse([cx + dx - 9, eye_y - 5, cx + dx + 9, eye_y + 5], fill=(250, 250, 250))
        draw.ellipse([cx + dx - 4, eye_y - 4, cx + dx + 4, eye_y + 4], fill=(40, 30, 25))
        draw.line([cx + dx - 12, eye_y - 14, cx + dx + 12, eye_y - 15], fill=hair, width=3)  # brows
    draw.line([cx, eye_y + 6, cx - 5, eye_y + 30, cx + 4, eye_y + 32], fill=tuple(c - 40 for c in skin), width=2)
    mouth_y = eye_y + 50
    draw.arc([cx - 18, mouth_y - 8, cx + 18, mouth_y + 8], 20, 160, fill=(150, 70, 70), width=3)
    # Sensor noise, so the JPEG has the texture (and size) of a photograph rather than flat cartoon areas.
    noise = Image.effect_noise((WIDTH, HEIGHT), 18).convert("RGB")
    return Image.blend(image, noise, 0.06).filter(ImageFilter.SMOOTH)


def portrait_jpeg(seed: int, *, female: bool = False, target_size: int | None = None) -> bytes:
    """A JPEG portrait. With ``target_size`` the file has exactly that many bytes (quality chosen below it, then a
    JPEG comment segment fills the rest), so benchmarks can ask for a DG2 of a given size.
    """
    image = _draw(seed, female=female)

    def encode(quality: int) -> bytes:
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality)
        return out.getvalue()

    if target_size is None:
        return encode(80)
    low, high = 5, 95
    if len(encode(low)) > target_size:
        raise ValueError(f"a portrait needs more than {target_size} bytes")
    best = low
    while low <= high:
        middle = (low + high) // 2
        if len(encode(middle)) <= target_size:
            best, low = middle, middle + 1
        else:
            high = middle - 1
    # A comment segment is at least 4 bytes; a gap of 1-3 bytes takes a slightly lower quality instead.
    while best > 1 and 0 < target_size - len(encode(best)) < 4:
        best -= 1
    return _pad_with_comments(encode(best), target_size)


def _pad_with_comments(jpeg: bytes, size: int) -> bytes:
    """Insert JPEG comment segments (``FF FE``, a length counting itself, zeros) after SOI to reach ``size``."""
    missing = size - len(jpeg)
    segments = bytearray()
    while missing > 0:
        chunk = min(missing, 65537)
        if 0 < missing - chunk < 4:
            chunk = missing - 4
        segments += b"\xff\xfe" + (chunk - 2).to_bytes(2, "big") + bytes(chunk - 4)
        missing -= chunk
    return jpeg[:2] + bytes(segments) + jpeg[2:]
