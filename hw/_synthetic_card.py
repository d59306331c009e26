"""Synthetic camera images of a CCCD card with its QR code, and the synthetic citizens printed on them.

A scene is a frozen description (QR text, frame size, QR size, pose, optics and lighting); :func:`render_card` turns
it into a grayscale frame, deterministically from the scene's seed. :func:`random_scene` draws a plausible degraded
capture, and :func:`synthetic_citizen` a fictitious holder whose ID number is structurally valid (real province code,
century/sex digit and birth year that agree with the date of birth and sex). The ID rule is ``mrtd``'s, and the names,
places, address format and QR text are the synthetic population's (:mod:`hw.sim`); what is added here is the variety
a QR corpus needs (the 6-, 7- and 11-field forms, minority names with apostrophes and hyphens, long addresses).
Nothing here is a real person.
"""

from __future__ import annotations

import datetime as dt
import enum
import io
import math
import random
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import segno
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from hw.sim._population import (
    GIVEN_NAMES,
    MIDDLE_NAMES,
    PROVINCES,
    SURNAMES,
    add_years,
    cmnd_number,
    format_qr_text,
    random_date,
    residence_address,
)
from mrtd import Sex, cccd_id_number

GrayImage = npt.NDArray[np.uint8]
_FloatImage = npt.NDArray[np.float32]

# ID-1 card, 85.60 x 53.98 mm.
CARD_ASPECT: Final = 53.98 / 85.60
MAX_FRAME_PIXELS: Final = 4096 * 4096


class CardLayout(enum.StrEnum):
    """Where the QR sits: front top-right on 2021 CCCD cards, back top-left (18 mm) on 2024 thẻ Căn cước."""

    FRONT_2021 = "front-2021"
    BACK_2024 = "back-2024"


@dataclass(frozen=True, slots=True)
class CardScene:
    """One capture of a card. Sizes are output pixels; strengths are 0 (none) to about 1 (severe).

    ``qr_px`` is the side of the QR symbol (without quiet zone) before perspective. ``perspective`` is the relative
    shortening of the far edge, ``lighting`` the depth of an uneven-illumination gradient, ``glare`` the peak of a
    specular highlight (1 saturates its centre), ``contrast`` the share of the dynamic range the scene uses. ``eci``
    adds a UTF-8 ECI header to the symbol (some encoders do; real cards are read either way).
    """

    text: str
    frame_size: tuple[int, int] = (1280, 720)
    layout: CardLayout = CardLayout.FRONT_2021
    qr_px: float = 220.0
    center: tuple[float, float] = (0.5, 0.5)
    angle_deg: float = 0.0
    perspective: float = 0.0
    perspective_direction_deg: float = 0.0
    blur_sigma: float = 0.0
    motion_blur_px: float = 0.0
    motion_angle_deg: float = 0.0
    noise_sigma: float = 0.0
    glare: float = 0.0
    glare_center: tuple[float, float] = (0.5, 0.5)
    glare_radius: float = 0.15
    lighting: float = 0.0
    lighting_direction_deg: float = 0.0
    brightness: float = 1.0
    contrast: float = 1.0
    jpeg_quality: int | None = None
    ec_level: Literal["L", "M", "Q", "H"] = "M"
    eci: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        width, height = self.frame_size
        if width < 64 or height < 64 or width * height > MAX_FRAME_PIXELS:
            raise ValueError("frame size out of range")
        if not 16 <= self.qr_px <= 4 * max(width, height):
            raise ValueError("QR size out of range")
        if not 0.0 <= self.perspective < 0.9:
            raise ValueError("perspective must be in [0, 0.9)")
        if self.contrast <= 0 or self.brightness <= 0:
            raise ValueError("contrast and brightness must be positive")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ValueError("JPEG quality must be 1..100")


# ---------------------------------------------------------------------------------------------------------------
# Synthetic citizens


@dataclass(frozen=True, slots=True)
class SyntheticCitizen:
    """A fictitious holder, with what a CCCD QR of the given field count would print."""

    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: dt.date
    sex: Sex
    place_of_residence: str
    date_of_issue: dt.date
    field_count: Literal[6, 7, 11] = 7
    extra_fields: tuple[str, ...] = field(default=())

    def qr_text(self) -> str:
        return format_qr_text(self, field_count=self.field_count, extra_fields=self.extra_fields)


# Ethnic-minority names, written with the apostrophes and hyphens the QR validator must accept.
_MINORITY_NAMES: Final = (("H'Hen Niê", "F"), ("Y-Moan Êban", "M"), ("Kpă Thị Hờ", "F"), ("Siu Y Kơr", "M"))


def synthetic_citizen(
    seed: int, *, field_count: Literal[6, 7, 11] = 7, long_address: bool | None = None
) -> SyntheticCitizen:
    """A fictitious citizen, deterministic from ``seed``; 11-field cards are issued from 2024-07-01."""
    rng = random.Random(seed)
    province = rng.choice(PROVINCES)
    if long_address is None:
        long_address = rng.random() < 0.5
    minority = rng.random() < 0.08
    if field_count == 11:
        date_of_issue = random_date(rng, dt.date(2024, 7, 1), dt.date(2025, 12, 31))
        date_of_birth = random_date(rng, dt.date(1945, 1, 1), date_of_issue - dt.timedelta(days=400))
    else:
        date_of_issue = random_date(rng, dt.date(2021, 1, 15), dt.date(2024, 6, 30))
        date_of_birth = random_date(rng, dt.date(1935, 1, 1), add_years(date_of_issue, -14))
    surnames = SURNAMES["Kinh"]
    if minority:
        full_name, sex_text = rng.choice(_MINORITY_NAMES)
        sex: Sex = "M" if sex_text == "M" else "F"
    else:
        sex = "M" if rng.random() < 0.5 else "F"
        words = [rng.choice(surnames), rng.choice(MIDDLE_NAMES[sex])]
        if rng.random() < 0.35:
            words.append(rng.choice(MIDDLE_NAMES[sex]))
        words.append(rng.choice(GIVEN_NAMES[sex]))
        full_name = " ".join(words)
    id_number = cccd_id_number(province.code, date_of_birth, sex, rng.randint(0, 999_999))
    old_id_number = None
    if date_of_birth.year < 2000 and rng.random() < 0.7 and field_count != 6:
        old_id_number = cmnd_number(rng)
    extras: tuple[str, ...] = ()
    if field_count == 11 and rng.random() < 0.3:
        father = f"{full_name.split()[0]} {rng.choice(MIDDLE_NAMES['M'])} {rng.choice(GIVEN_NAMES['M'])}"
        mother = f"{rng.choice(surnames)} {rng.choice(MIDDLE_NAMES['F'])} {rng.choice(GIVEN_NAMES['F'])}"
        extras = ("", "", father, mother)
    return SyntheticCitizen(
        id_number=id_number,
        old_id_number=old_id_number,
        full_name=full_name,
        date_of_birth=date_of_birth,
        sex=sex,
        place_of_residence=residence_address(rng, province, long=long_address),
        date_of_issue=date_of_issue,
        field_count=field_count,
        extra_fields=extras,
    )


# ---------------------------------------------------------------------------------------------------------------
# Random scenes


class Degradation(enum.StrEnum):
    """The kinds of trouble a capture can have; :func:`random_scene` makes one of them dominant."""

    CLEAN = "clean"
    SMALL = "small"
    ANGLE = "angle"
    PERSPECTIVE = "perspective"
    BLUR = "blur"
    MOTION = "motion"
    NOISE = "noise"
    GLARE = "glare"
    LIGHTING = "lighting"
    LOW_CONTRAST = "low_contrast"
    JPEG = "jpeg"


def random_scene(
    seed: int,
    text: str,
    *,
    frame_size: tuple[int, int] = (1280, 720),
    layout: CardLayout | None = None,
    dominant: Degradation | None = None,
) -> CardScene:
    """A plausible hand-held capture of a card, deterministic from ``seed``.

    Every scene has mild pose, lighting and noise; ``dominant`` (random when None) pushes one degradation towards
    the hard end of what a phone or USB camera produces when the operator is not careful.
    """
    rng = random.Random(seed)
    width, height = frame_size
    if layout is None:
        layout = rng.choice(list(CardLayout))
    if dominant is None:
        dominant = rng.choice(list(Degradation))
    modules = qr_modules(text)
    # Comfortable size: about 4 px per module, bounded by the frame.
    qr_px = min(rng.uniform(3.6, 6.0) * modules, 0.55 * min(width, height))
    scene = CardScene(
        text=text,
        frame_size=frame_size,
        layout=layout,
        qr_px=qr_px,
        center=(rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6)),
        angle_deg=rng.uniform(-12, 12),
        perspective=rng.uniform(0.0, 0.12),
        perspective_direction_deg=rng.uniform(0, 360),
        blur_sigma=rng.uniform(0.0, 0.6),
        noise_sigma=rng.uniform(0.0, 4.0),
        lighting=rng.uniform(0.0, 0.25),
        lighting_direction_deg=rng.uniform(0, 360),
        brightness=rng.uniform(0.85, 1.05),
        contrast=rng.uniform(0.75, 1.0),
        ec_level=rng.choice(("L", "M", "M", "M", "Q")),
        eci=rng.random() < 0.2,
        seed=seed,
    )
    match dominant:
        case Degradation.CLEAN:
            scene = replace(scene, blur_sigma=0.0, noise_sigma=0.0, lighting=0.0, perspective=0.0, angle_deg=0.0)
        case Degradation.SMALL:
            scene = replace(scene, qr_px=rng.uniform(2.0, 2.8) * modules)
        case Degradation.ANGLE:
            scene = replace(scene, angle_deg=rng.uniform(-180, 180))
        case Degradation.PERSPECTIVE:
            scene = replace(scene, perspective=rng.uniform(0.25, 0.45))
        case Degradation.BLUR:
            scene = replace(scene, blur_sigma=rng.uniform(0.25, 0.4) * scene.qr_px / modules)
        case Degradation.MOTION:
            scene = replace(
                scene,
                motion_blur_px=rng.uniform(0.6, 1.0) * scene.qr_px / modules,
                motion_angle_deg=rng.uniform(0, 180),
            )
        case Degradation.NOISE:
            scene = replace(scene, noise_sigma=rng.uniform(15.0, 30.0))
        case Degradation.GLARE:
            scene = replace(
                scene,
                glare=rng.uniform(0.5, 0.85),
                # Mostly on or next to the QR: that is where the operator holds the card towards the lamp.
                glare_center=(scene.center[0] + rng.uniform(-0.2, 0.2), scene.center[1] + rng.uniform(-0.2, 0.2)),
                glare_radius=rng.uniform(0.05, 0.12),
            )
        case Degradation.LIGHTING:
            scene = replace(scene, lighting=rng.uniform(0.6, 0.85), brightness=rng.uniform(0.6, 1.0))
        case Degradation.LOW_CONTRAST:
            scene = replace(scene, contrast=rng.uniform(0.12, 0.3), brightness=rng.uniform(0.6, 1.1))
        case Degradation.JPEG:
            scene = replace(scene, jpeg_quality=rng.randint(12, 40))
    return scene


# ---------------------------------------------------------------------------------------------------------------
# Rendering


def render_card(scene: CardScene) -> GrayImage:
    """Render the scene as a 2-D uint8 grayscale frame of ``scene.frame_size`` (width, height)."""
    rng = np.random.default_rng(scene.seed)
    width, height = scene.frame_size
    card, qr_box = _card_canvas(scene, rng)
    card_w_full, card_h_full = card.size
    scale = scene.qr_px / (qr_box[2] - qr_box[0])
    out_w, out_h = card_w_full * scale, card_h_full * scale
    # Resample the card close to its final size first, so the perspective warp does not alias the modules.
    target = (max(8, round(out_w)), max(8, round(out_h)))
    card = card.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    card_w, card_h = card.size

    src = [(0.0, 0.0), (float(card_w), 0.0), (float(card_w), float(card_h)), (0.0, float(card_h))]
    centred = _card_corners(scene, out_w, out_h)
    # Place the card so that the QR's centre, not the card's, lands on ``scene.center``: close-ups crop the card.
    forward = _perspective_coefficients(src, centred)
    qr_cx = (qr_box[0] + qr_box[2]) / 2 * card_w / card_w_full
    qr_cy = (qr_box[1] + qr_box[3]) / 2 * card_h / card_h_full
    px, py = _apply_homography(forward, qr_cx, qr_cy)
    shift_x, shift_y = scene.center[0] * width - px, scene.center[1] * height - py
    corners = [(x + shift_x, y + shift_y) for x, y in centred]
    coeffs = _perspective_coefficients(corners, src)
    warped = card.transform((width, height), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
    mask = Image.new("L", card.size, 255).transform(
        (width, height), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
    )
    frame = Image.composite(warped, _background(scene, rng), mask)
    pixels = np.asarray(frame, dtype=np.float32)

    pixels = _apply_lighting(pixels, scene)
    if scene.glare > 0:
        pixels = _apply_glare(pixels, scene)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if scene.blur_sigma > 0:
        image = image.filter(ImageFilter.GaussianBlur(scene.blur_sigma))
    pixels = np.asarray(image, dtype=np.float32)
    if scene.motion_blur_px > 0:
        pixels = _motion_blur(pixels, scene.motion_blur_px, scene.motion_angle_deg)
    # Contrast squeezes the range around mid-grey, brightness moves it; then the sensor adds noise.
    pixels = (pixels - 128.0) * scene.contrast + 128.0 * scene.brightness
    if scene.noise_sigma > 0:
        pixels = pixels + scene.noise_sigma * rng.standard_normal(pixels.shape, dtype=np.float32)
    out = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    if scene.jpeg_quality is not None:
        buffer = io.BytesIO()
        Image.fromarray(out).save(buffer, format="JPEG", quality=scene.jpeg_quality)
        buffer.seek(0)
        with Image.open(buffer) as jpeg:
            out = np.asarray(jpeg.convert("L"), dtype=np.uint8)
    return np.ascontiguousarray(out)


@lru_cache(maxsize=64)
def _qr_matrix(text: str, ec_level: str, *, eci: bool = False) -> npt.NDArray[np.bool_]:
    """The QR's modules, True = dark, without quiet zone.

    Byte mode with the UTF-8 bytes and, by default, no ECI header: that is what phone apps read from real cards,
    and what every decoder handles (OpenCV's rejects the ECI header that zxing-cpp's writer adds).
    """
    symbol = segno.make_qr(text, error=ec_level.lower(), boost_error=False, eci=eci, encoding="utf-8")
    matrix = np.asarray(symbol.matrix, dtype=np.uint8) > 0
    matrix.setflags(write=False)
    return matrix


def qr_modules(text: str, *, ec_level: Literal["L", "M", "Q", "H"] = "M") -> int:
    """How many modules per side the QR of ``text`` has."""
    return int(_qr_matrix(text, ec_level).shape[0])


def _card_canvas(scene: CardScene, rng: np.random.Generator) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The flat card with its QR; returns the image and the QR's box (without quiet zone) on it."""
    matrix = _qr_matrix(scene.text, scene.ec_level, eci=scene.eci)
    modules = matrix.shape[0]
    # Render at 3 px/module, and 1.2x the final size, or more, so the later resize has detail to average.
    module_px = max(3, math.ceil(1.2 * scene.qr_px / modules))
    qr_side = modules * module_px
    qr_fraction = 0.21 if scene.layout is CardLayout.BACK_2024 else 0.19
    card_w = round(qr_side / qr_fraction)
    card_h = round(card_w * CARD_ASPECT)

    # Background print at a quarter of the resolution (it is smooth), then enlarged.
    low_w, low_h = max(8, card_w // 4), max(8, card_h // 4)
    xx = np.arange(low_w, dtype=np.float32)[None, :] / low_w
    yy = np.arange(low_h, dtype=np.float32)[:, None] / low_h
    base = 222.0 + 12.0 * xx - 8.0 * yy
    # Guilloche-like security print: faint interfering waves.
    waves = float(rng.uniform(25, 40))
    base = base + 5.0 * np.sin(xx * waves * 6.0 + 3.0 * np.sin(yy * waves * 2.2))
    low = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    card = low.resize((card_w, card_h), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(card)

    margin = round(0.045 * card_w)
    if scene.layout is CardLayout.BACK_2024:
        qr_x, qr_y = margin, margin
    else:
        qr_x, qr_y = card_w - margin - qr_side, margin
    quiet = 2 * module_px
    draw.rectangle((qr_x - quiet, qr_y - quiet, qr_x + qr_side + quiet, qr_y + qr_side + quiet), fill=246)

    font_size = max(8, round(card_h * 0.045))
    font = _font(font_size)
    dark = int(rng.integers(20, 60))
    if scene.layout is CardLayout.FRONT_2021:
        photo = (margin, round(card_h * 0.38), margin + round(card_w * 0.22), round(card_h * 0.88))
        draw.rectangle(photo, fill=int(rng.integers(140, 190)))
        face_w = (photo[2] - photo[0]) * 0.6
        cx, cy = (photo[0] + photo[2]) / 2, (photo[1] + photo[3]) / 2 - face_w * 0.1
        draw.ellipse((cx - face_w / 2, cy - face_w * 0.65, cx + face_w / 2, cy + face_w * 0.65), fill=105)
        draw.text((margin, margin), "SOCIALIST REPUBLIC OF VIET NAM", fill=dark, font=font)
        draw.text((margin, margin + font_size * 1.4), "Independence - Freedom - Happiness", fill=dark, font=font)
        draw.text(
            (margin + card_w * 0.25, card_h * 0.25), "CITIZEN IDENTITY CARD", fill=dark, font=_font(font_size + 4)
        )
        text_x = photo[2] + margin
        for row in range(6):
            y = card_h * 0.38 + row * font_size * 1.55
            words = " ".join("X" * int(rng.integers(2, 8)) for _ in range(int(rng.integers(2, 6))))
            draw.text((text_x, y), f"Field {row + 1}: {words}", fill=dark, font=font)
    else:
        text_x = qr_x + qr_side + quiet + margin
        for row in range(5):
            y = margin + row * font_size * 1.6
            words = " ".join("x" * int(rng.integers(2, 9)) for _ in range(int(rng.integers(2, 5))))
            draw.text((text_x, y), f"Line {row + 1}: {words}", fill=dark, font=font)
        # MRZ band at the bottom of the back side.
        mrz_font = _font(max(8, round(card_h * 0.06)))
        for row in range(3):
            y = card_h * 0.66 + row * card_h * 0.095
            draw.text((margin, y), "IDVNM" + "<" * 9 + "0123456789" + "<" * 6, fill=25, font=mrz_font)

    # The symbol itself: printed dark modules on white.
    ink = int(rng.integers(10, 45))
    qr = np.where(np.kron(matrix, np.ones((module_px, module_px), dtype=bool)), ink, 246).astype(np.uint8)
    card.paste(Image.fromarray(qr), (qr_x, qr_y))
    return card, (qr_x, qr_y, qr_x + qr_side, qr_y + qr_side)


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _card_corners(scene: CardScene, out_w: float, out_h: float) -> list[tuple[float, float]]:
    """Where the card's corners land relative to its centre: foreshortened for perspective, then rotated."""
    half = [(-out_w / 2, -out_h / 2), (out_w / 2, -out_h / 2), (out_w / 2, out_h / 2), (-out_w / 2, out_h / 2)]
    # Perspective: the card tilts about an axis; the half-plane away from the camera shrinks.
    theta = math.radians(scene.perspective_direction_deg)
    direction = (math.cos(theta), math.sin(theta))
    reach = abs(direction[0]) * out_w / 2 + abs(direction[1]) * out_h / 2
    tilted = []
    for x, y in half:
        along = (x * direction[0] + y * direction[1]) / reach  # -1 .. 1
        factor = 1.0 - scene.perspective * (along + 1.0) / 2.0
        tilted.append((x * factor, y * factor))
    phi = math.radians(scene.angle_deg)
    cos_phi, sin_phi = math.cos(phi), math.sin(phi)
    return [(x * cos_phi - y * sin_phi, x * sin_phi + y * cos_phi) for x, y in tilted]


def _apply_homography(
    coeffs: tuple[float, float, float, float, float, float, float, float], x: float, y: float
) -> tuple[float, float]:
    a, b, c, d, e, f, g, h = coeffs
    w = g * x + h * y + 1.0
    return (a * x + b * y + c) / w, (d * x + e * y + f) / w


def _perspective_coefficients(
    dst: list[tuple[float, float]], src: list[tuple[float, float]]
) -> tuple[float, float, float, float, float, float, float, float]:
    """PIL's PERSPECTIVE coefficients mapping output points ``dst`` to input points ``src``."""
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    solution = np.linalg.solve(np.asarray(rows, dtype=np.float64), np.asarray(rhs, dtype=np.float64))
    a, b, c, d, e, f, g, h = (float(value) for value in solution)
    return a, b, c, d, e, f, g, h


def _background(scene: CardScene, rng: np.random.Generator) -> Image.Image:
    """A desk: low-frequency texture with a few hard edges, darker or lighter than the card."""
    width, height = scene.frame_size
    coarse = rng.uniform(0, 1, (9, 16)).astype(np.float32)
    level = float(rng.uniform(50, 170))
    texture = Image.fromarray((coarse * 255).astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
    pixels = level + (np.asarray(texture, dtype=np.float32) - 128.0) * 0.25
    pixels += 3.0 * rng.standard_normal((height, width), dtype=np.float32)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(0, 4))):
        x0, y0 = float(rng.uniform(0, width)), float(rng.uniform(0, height))
        draw.line(
            (x0, y0, x0 + float(rng.uniform(-width, width)), y0 + float(rng.uniform(-height, height))),
            fill=int(rng.integers(0, 255)),
            width=int(rng.integers(1, 6)),
        )
    return image


def _apply_lighting(pixels: _FloatImage, scene: CardScene) -> _FloatImage:
    if scene.lighting <= 0:
        return pixels
    height, width = pixels.shape
    theta = math.radians(scene.lighting_direction_deg)
    xx = np.arange(width, dtype=np.float32)[None, :]
    yy = np.arange(height, dtype=np.float32)[:, None]
    ramp = (xx / width - 0.5) * math.cos(theta) + (yy / height - 0.5) * math.sin(theta)
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    gain = 1.0 - scene.lighting * ramp
    return np.asarray(pixels * gain, dtype=np.float32)


def _apply_glare(pixels: _FloatImage, scene: CardScene) -> _FloatImage:
    height, width = pixels.shape
    gx, gy = scene.glare_center[0] * width, scene.glare_center[1] * height
    sigma = max(2.0, scene.glare_radius * min(width, height))
    xx = np.arange(width, dtype=np.float32)[None, :]
    yy = np.arange(height, dtype=np.float32)[:, None]
    # An elongated highlight, as a lamp reflected by the laminate.
    r2 = ((xx - gx) / 1.6) ** 2 + (yy - gy) ** 2
    spot = np.exp(-r2 / (2 * sigma * sigma)).astype(np.float32)
    # Specular light adds to dark and bright print alike; at full strength the centre saturates and washes out.
    return np.asarray(pixels + scene.glare * 300.0 * spot, dtype=np.float32)


def _motion_blur(pixels: _FloatImage, length: float, angle_deg: float) -> _FloatImage:
    steps = max(2, math.ceil(length))
    theta = math.radians(angle_deg)
    dx, dy = math.cos(theta), math.sin(theta)
    pad = math.ceil(length / 2) + 1
    padded = np.pad(pixels, pad, mode="edge")
    height, width = pixels.shape
    total = np.zeros_like(pixels)
    for step in range(steps):
        t = (step / (steps - 1) - 0.5) * length
        ox, oy = round(t * dx), round(t * dy)
        total += padded[pad + oy : pad + oy + height, pad + ox : pad + ox + width]
    return (total / steps).astype(np.float32)
