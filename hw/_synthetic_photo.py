"""Synthetic still photos of a CCCD card, as a phone or a webcam takes them and saves them as JPEG files.

:class:`PhotoScene` and :func:`render_photo` describe and render the card face as printed (headings,
portrait, fields, guilloche, the QR at its real size and place: front top-right on 2021 cards, back top-left on 2024
ones) seen through a pinhole camera at any roll and tilt, in a scene (desk, cloth, fingers) at phone resolutions, with
linear light (shadow, glare with the laminate's streaks, vignetting), optics (lens softness, defocus disk, camera
shake), a sensor (shot and read noise, gain), a phone's processing (denoise, sharpening, moiré) and a JPEG file at
the end (chroma subsampling, EXIF orientation, an app's downscale and second compression). :func:`random_photo` draws
one, pushing one :class:`PhotoFamily` of trouble hard.
"""

from __future__ import annotations

import enum
import io
import math
import random
import unicodedata
from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from hw._synthetic_card import CardLayout, _FloatImage, _font, _motion_blur, _qr_matrix, qr_modules

# ID-1 card in millimetres, and its corner radius.
CARD_MM: Final = (85.60, 53.98)
_CARD_CORNER_MM: Final = 3.18
# What phones, webcams and messaging apps save: 2 to 12 megapixels, landscape and portrait, and app downscales.
PHOTO_SIZES: Final[tuple[tuple[int, int], ...]] = (
    (1024, 768),
    (1280, 960),
    (1600, 1200),
    (1920, 1080),
    (2048, 1536),
    (2592, 1944),
    (3264, 2448),
    (3024, 4032),
    (4032, 3024),
    (4000, 3000),
)
MAX_PHOTO_PIXELS: Final = 13_000_000


class PhotoFamily(enum.StrEnum):
    """What makes a card photo hard; :func:`random_photo` pushes one of them (``MIXED``: several at once)."""

    CLEAN = "clean"
    SMALL = "small"
    CLOSE_UP = "close_up"
    ROTATION = "rotation"
    PERSPECTIVE = "perspective"
    DEFOCUS = "defocus"
    MOTION = "motion"
    LOW_LIGHT = "low_light"
    EXPOSURE = "exposure"
    GLARE = "glare"
    SHADOW = "shadow"
    MOIRE = "moire"
    OCCLUSION = "occlusion"
    TEXTURE = "texture"
    COMPRESSION = "compression"
    MIXED = "mixed"


@dataclass(frozen=True, slots=True)
class Finger:
    """A finger over the card: its tip in card fractions (0..1 across, 0..1 down) and the direction it points."""

    tip: tuple[float, float]
    angle_deg: float
    width: float = 0.17  # card widths


@dataclass(frozen=True, slots=True)
class PhotoScene:
    """One photo of a card, physically described; :func:`render_photo` turns it into a JPEG file's bytes.

    Geometry: the card (85.6 x 54 mm, its QR ``qr_mm`` wide at its real place) is ``card_px`` pixels wide when seen
    face-on in the camera's image, centred at ``center`` (fractions of the frame), turned by ``roll_deg`` in the image
    plane and tilted by ``tilt_deg`` about an axis at ``tilt_axis_deg``, through a pinhole of ``fov_deg`` horizontal
    field of view. The camera's image is ``capture_scale`` times ``size``; a messaging app downscales it to ``size``.
    Lengths in pixels (blur, motion, moiré period) are in the camera's image. Light is linear: ``light`` scales the
    scene (the camera's gain restores it, and amplifies the sensor noise), ``exposure_ev`` is the camera's error,
    ``glare`` the peak of a specular highlight in units of white, ``shadow`` the share of light a shadow takes away.
    ``qr_texture`` is how much of the card's background print shows through the QR's light modules (0: a clean
    white box, 1: the full guilloche). ``exif_rotation`` stores the pixels turned, with the EXIF tag that turns them
    back (what phones do).
    """

    text: str
    size: tuple[int, int] = (1600, 1200)
    layout: CardLayout = CardLayout.FRONT_2021
    qr_mm: float = 17.0
    card_px: float = 900.0
    center: tuple[float, float] = (0.5, 0.5)
    roll_deg: float = 0.0
    tilt_deg: float = 0.0
    tilt_axis_deg: float = 0.0
    fov_deg: float = 68.0
    capture_scale: float = 1.0
    lens_blur_px: float = 0.6
    defocus_px: float = 0.0
    motion_px: float = 0.0
    motion_angle_deg: float = 0.0
    light: float = 1.0
    exposure_ev: float = 0.0
    flare: float = 0.0
    lighting: float = 0.1
    lighting_direction_deg: float = 0.0
    vignetting: float = 0.2
    glare: float = 0.0
    glare_center: tuple[float, float] = (0.8, 0.25)
    glare_size: float = 0.12
    glare_elongation: float = 2.0
    glare_angle_deg: float = 0.0
    shadow: float = 0.0
    shadow_angle_deg: float = 0.0
    shadow_offset: float = 0.0
    shadow_softness: float = 0.02
    moire: float = 0.0
    moire_period_px: float = 5.0
    moire_angle_deg: float = 20.0
    fingers: tuple[Finger, ...] = ()
    qr_texture: float = 0.3
    guilloche: float = 0.5
    laminate: float = 0.3
    ink: float = 0.05
    read_noise: float = 0.003
    denoise: float = 0.0
    sharpen: float = 80.0
    jpeg_quality: int = 90
    first_jpeg_quality: int | None = None
    color: bool = True
    exif_rotation: Literal[0, 90, 180, 270] = 0
    background: int = 0
    ec_level: Literal["L", "M", "Q", "H"] = "M"
    seed: int = 0

    def __post_init__(self) -> None:
        width, height = self.size
        capture = self.capture_size
        if width < 64 or height < 64 or capture[0] * capture[1] > MAX_PHOTO_PIXELS:
            raise ValueError("photo size out of range")
        if self.capture_scale < 1.0:
            raise ValueError("capture_scale must be at least 1")
        if not 8.0 <= self.qr_mm <= 30.0 or self.card_px < 32:
            raise ValueError("card or QR size out of range")
        if not 0.0 <= self.tilt_deg < 80.0 or not 20.0 <= self.fov_deg <= 120.0:
            raise ValueError("tilt or field of view out of range")
        if self.light <= 0 or not 1 <= self.jpeg_quality <= 100:
            raise ValueError("light must be positive and JPEG quality 1..100")
        if self.first_jpeg_quality is not None and not 1 <= self.first_jpeg_quality <= 100:
            raise ValueError("JPEG quality must be 1..100")

    @property
    def capture_size(self) -> tuple[int, int]:
        return round(self.size[0] * self.capture_scale), round(self.size[1] * self.capture_scale)


@dataclass(frozen=True, slots=True)
class PhotoGeometry:
    """Where the card and its QR land in the saved photo (pixel coordinates of the upright image, EXIF applied).

    Corners run top-left, top-right, bottom-right, bottom-left of the card as printed.
    """

    card: tuple[tuple[float, float], ...]
    qr: tuple[tuple[float, float], ...]
    modules: int

    @property
    def qr_side_px(self) -> float:
        """The QR's mean side length in pixels."""
        sides = [math.dist(self.qr[i], self.qr[(i + 1) % 4]) for i in range(4)]
        return sum(sides) / 4

    @property
    def module_px(self) -> float:
        return self.qr_side_px / self.modules


def _qr_box_mm(layout: CardLayout, qr_mm: float) -> tuple[float, float, float, float]:
    """The QR's box on the card (mm from the top-left corner): front top-right (2021), back top-left (2024)."""
    inset = 3.5
    if layout is CardLayout.BACK_2024:
        return inset, inset, inset + qr_mm, inset + qr_mm
    return CARD_MM[0] - inset - qr_mm, inset, CARD_MM[0] - inset, inset + qr_mm


_Homography = npt.NDArray[np.float64]


def _camera_homography(scene: PhotoScene) -> _Homography:
    """Card millimetres (origin at the card's top-left) to camera-image pixels, through a pinhole camera."""
    width, height = scene.capture_size
    focal = (width / 2) / math.tan(math.radians(scene.fov_deg) / 2)
    distance = focal * CARD_MM[0] / (scene.card_px * scene.capture_scale)
    axis = math.radians(scene.tilt_axis_deg)
    ux, uy = math.cos(axis), math.sin(axis)
    tilt = math.radians(scene.tilt_deg)
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)
    # Rodrigues: rotate about the in-plane axis (ux, uy, 0) by the tilt, then roll about the optical axis.
    k = np.array([[0.0, 0.0, uy], [0.0, 0.0, -ux], [-uy, ux, 0.0]])
    tilt_matrix = np.eye(3) + sin_t * k + (1 - cos_t) * (k @ k)
    roll = math.radians(scene.roll_deg)
    roll_matrix = np.array([[math.cos(roll), -math.sin(roll), 0.0], [math.sin(roll), math.cos(roll), 0.0], [0, 0, 1]])
    rotation = roll_matrix @ tilt_matrix
    shift_x = (scene.center[0] - 0.5) * width * distance / focal
    shift_y = (scene.center[1] - 0.5) * height * distance / focal
    # Card point (u, v) in mm, centred: X = R @ (u - w/2, v - h/2, 0) + T.
    to_centre = np.array([[1.0, 0.0, -CARD_MM[0] / 2], [0.0, 1.0, -CARD_MM[1] / 2], [0.0, 0.0, 1.0]])
    extrinsic = np.column_stack([rotation[:, 0], rotation[:, 1], np.array([shift_x, shift_y, distance])])
    intrinsic = np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])
    return np.asarray(intrinsic @ extrinsic @ to_centre, dtype=np.float64)


def _project(homography: _Homography, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for x, y in points:
        u, v, w = homography @ np.array([x, y, 1.0])
        out.append((float(u / w), float(v / w)))
    return out


def _box_corners(box: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = box
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def photo_geometry(scene: PhotoScene) -> PhotoGeometry:
    """The card's and the QR's corners in the saved photo, as a viewer that honours EXIF shows it."""
    homography = _camera_homography(scene)
    scale = 1.0 / scene.capture_scale
    card = [(x * scale, y * scale) for x, y in _project(homography, _box_corners((0, 0, *CARD_MM)))]
    qr = [(x * scale, y * scale) for x, y in _project(homography, _box_corners(_qr_box_mm(scene.layout, scene.qr_mm)))]
    return PhotoGeometry(tuple(card), tuple(qr), qr_modules(scene.text, ec_level=scene.ec_level))


def render_photo(scene: PhotoScene) -> bytes:
    """The photo as the bytes of a JPEG file (EXIF orientation tag included when ``exif_rotation`` is set)."""
    rng = np.random.default_rng(scene.seed)
    width, height = scene.capture_size
    homography = _camera_homography(scene)
    composite, card_mask, card_box = _compose(scene, homography, rng)
    luma, chroma = _split_luma(composite, scene)
    luma = _optics(luma, scene, card_box)
    luma = _expose(luma, scene, homography, card_mask, rng)
    chroma = _chroma(chroma, scene, rng, (width, height))
    image = Image.merge("YCbCr", (luma, *chroma)) if scene.color else luma
    if scene.capture_scale > 1.0:
        # The camera saved its own JPEG; an app then shrank it and saved it again.
        image = _jpeg_roundtrip(image, scene.first_jpeg_quality or 92)
        image = image.resize(scene.size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    return _save_jpeg(image, scene)


def _jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as reloaded:
        reloaded.load()
        return reloaded.copy()


_EXIF_ORIENTATION_TAG: Final = 0x0112
# Stored pixels are the upright image turned the other way; the tag tells a viewer how to turn them back.
_EXIF_STORAGE: Final = {
    90: (Image.Transpose.ROTATE_90, 6),
    180: (Image.Transpose.ROTATE_180, 3),
    270: (Image.Transpose.ROTATE_270, 8),
}


def _save_jpeg(image: Image.Image, scene: PhotoScene) -> bytes:
    buffer = io.BytesIO()
    if scene.exif_rotation:
        transpose, tag = _EXIF_STORAGE[scene.exif_rotation]
        exif = Image.Exif()
        exif[_EXIF_ORIENTATION_TAG] = tag
        image.transpose(transpose).save(buffer, format="JPEG", quality=scene.jpeg_quality, exif=exif)
    else:
        image.save(buffer, format="JPEG", quality=scene.jpeg_quality)
    return buffer.getvalue()


# --- the card as printed ---------------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    """Card captions without diacritics: the bundled font has no Vietnamese glyphs, and the QR does not care."""

    folded = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(char for char in folded if not unicodedata.combining(char))


def _guilloche(width: int, height: int, scale: float, rng: np.random.Generator) -> _FloatImage:
    """Security print: fine interleaved rosettes and waves, 0 (none) to 1 (on a line); ``scale`` px per mm."""
    u = np.arange(width, dtype=np.float32)[None, :] / scale
    v = np.arange(height, dtype=np.float32)[:, None] / scale
    cx, cy = float(rng.uniform(30, 55)), float(rng.uniform(18, 36))
    radius = np.sqrt((u - cx) ** 2 + (v - cy) ** 2)
    theta = np.arctan2(v - cy, u - cx)
    petals = int(rng.integers(5, 12))
    pitch = float(rng.uniform(0.45, 0.8))
    rosette = np.cos(2 * np.pi * (radius + 0.9 * np.sin(petals * theta)) / pitch)
    wave_pitch = float(rng.uniform(0.35, 0.6))
    wave_len = float(rng.uniform(5, 9))
    waves = np.cos(2 * np.pi * (v + 1.1 * np.sin(2 * np.pi * u / wave_len)) / wave_pitch)
    lines = np.maximum(((rosette + 1) / 2) ** 8, 0.7 * ((waves + 1) / 2) ** 10)
    return np.asarray(lines, dtype=np.float32)


def _card_face(scene: PhotoScene, scale: float, rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    """The printed card at ``scale`` px/mm (RGB) and its shape (rounded corners) as an L mask."""
    width, height = max(16, round(CARD_MM[0] * scale)), max(16, round(CARD_MM[1] * scale))
    front = scene.layout is CardLayout.FRONT_2021
    paper = np.array([232, 238, 230] if front else [236, 236, 240], dtype=np.float32)
    tint = np.array([120, 170, 190] if front else [190, 150, 170], dtype=np.float32)
    # The guilloche is smooth at its own scale: compute it at up to 12 px/mm and enlarge.
    g_scale = min(scale, 12.0)
    g_w, g_h = max(8, round(CARD_MM[0] * g_scale)), max(8, round(CARD_MM[1] * g_scale))
    lines = _guilloche(g_w, g_h, g_scale, rng)
    lines_img = Image.fromarray(np.clip(lines * 255, 0, 255).astype(np.uint8)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    # paper * (1 - p) + tint * p, with p the line strength times ``guilloche``: Pillow's colorize does it in C.
    strong = paper * (1 - scene.guilloche) + tint * scene.guilloche
    card = ImageOps.colorize(lines_img, black=tuple(int(v) for v in paper), white=tuple(int(v) for v in strong))
    draw = ImageDraw.Draw(card)

    def mm(value: float) -> float:
        return value * scale

    def text(x: float, y: float, words: str, size_mm: float, fill: tuple[int, int, int]) -> None:
        draw.text((mm(x), mm(y)), _ascii(words), fill=fill, font=_font(max(6, round(mm(size_mm)))))

    navy = (40, 45, 70)
    red = (190, 40, 40)
    fields = scene.text.split("|")
    id_number = fields[0] if fields and fields[0].isdigit() else "001099000000"
    name = fields[2] if len(fields) > 2 else "NGUYEN VAN A"
    if front:
        # National emblem, headings, portrait and the personal fields.
        draw.ellipse((mm(3.5), mm(3.5), mm(16), mm(16)), fill=(200, 50, 40), outline=(220, 180, 60), width=2)
        _star(draw, (mm(9.75), mm(9.6)), mm(3.6), (240, 210, 70))
        text(21, 3.4, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 2.1, navy)
        text(26, 6.4, "Độc lập - Tự do - Hạnh phúc", 2.0, navy)
        text(22, 11.5, "CĂN CƯỚC CÔNG DÂN", 3.4, red)
        text(25, 15.8, "Citizen Identity Card", 1.8, navy)
        portrait = (mm(3.5), mm(20.5), mm(22.5), mm(45.5))
        _portrait(draw, portrait, rng)
        text(24, 20.5, f"Số / No.: {id_number}", 2.6, (20, 20, 30))
        front_rows: tuple[str, ...] = (
            "Họ và tên / Full name:",
            name.upper(),
            "Ngày sinh / Date of birth:  01/01/1990",
            "Giới tính / Sex: Nam   Quốc tịch / Nationality: Việt Nam",
            "Quê quán / Place of origin:",
            "Phường Bến Nghé, Quận 1, TP Hồ Chí Minh",
            "Nơi thường trú / Place of residence:",
            fields[5][:48] if len(fields) > 5 else "Số 1 Đường Lê Lợi",
        )
        for index, row in enumerate(front_rows):
            text(24, 25 + index * 3.2, row, 2.0 if index % 2 == 0 else 2.2, navy)
        text(3.5, 47.5, "Có giá trị đến: 01/01/2035", 1.8, navy)
    else:
        qr_box = _qr_box_mm(scene.layout, scene.qr_mm)
        x = qr_box[2] + 3.0
        back_rows: tuple[str, ...] = (
            "Nơi cư trú / Place of residence:",
            fields[5][:44] if len(fields) > 5 else "Số 1 Đường Lê Lợi",
            "Nơi đăng ký khai sinh / Place of birth:",
            "Thành phố Hà Nội",
            "Ngày, tháng, năm cấp / Date of issue: 01/07/2024",
        )
        for index, row in enumerate(back_rows):
            text(x, 4 + index * 3.3, row, 2.0, navy)
        text(x + 22, 21.5, "BỘ CÔNG AN", 2.2, red)
        draw.ellipse((mm(x + 18), mm(19.5), mm(x + 31), mm(32.5)), outline=red, width=max(1, round(mm(0.4))))
        mrz = ("IDVNM" + id_number[3:] + id_number[-1] + "<" * 12, "9001018M3501018VNM" + "<" * 11 + "8", "<" * 30)
        for index, line in enumerate(mrz):
            text(4, 36.5 + index * 5.0, line, 3.3, (25, 25, 30))
    # The QR: dark modules on the card; the light ones show the background print through ``qr_texture``.
    qr_box = _qr_box_mm(scene.layout, scene.qr_mm)
    matrix = _qr_matrix(scene.text, scene.ec_level, eci=False)
    modules = matrix.shape[0]
    side = max(modules, round(mm(scene.qr_mm)))
    module_px = max(1, math.ceil(side / modules))
    dots = Image.fromarray(np.kron(matrix, np.ones((module_px, module_px), dtype=bool)).astype(np.uint8) * 255)
    dots = dots.resize((side, side), Image.Resampling.BOX if module_px * modules > side else Image.Resampling.NEAREST)
    quiet = mm(1.2)
    x0, y0 = round(mm(qr_box[0])), round(mm(qr_box[1]))
    area = (round(x0 - quiet), round(y0 - quiet), round(x0 + side + quiet), round(y0 + side + quiet))
    region = np.asarray(card.crop(area), dtype=np.float32)
    cleared = region * scene.qr_texture + paper[None, None, :] * (1 - scene.qr_texture)
    card.paste(Image.fromarray(np.clip(cleared, 0, 255).astype(np.uint8), "RGB"), area[:2])
    ink_level = round(255 * scene.ink ** (1 / 2.2))
    ink = Image.new("RGB", (side, side), (ink_level, ink_level, ink_level + 4))
    card.paste(ink, (x0, y0), dots)
    mask = Image.new("L", card.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, width - 1, height - 1), radius=mm(_CARD_CORNER_MM), fill=255)
    return card, mask


def _star(draw: ImageDraw.ImageDraw, centre: tuple[float, float], radius: float, fill: tuple[int, int, int]) -> None:
    points = []
    for index in range(10):
        r = radius if index % 2 == 0 else radius * 0.4
        angle = -math.pi / 2 + index * math.pi / 5
        points.append((centre[0] + r * math.cos(angle), centre[1] + r * math.sin(angle)))
    draw.polygon(points, fill=fill)


def _portrait(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    draw.rectangle(box, fill=(int(rng.integers(170, 220)), int(rng.integers(190, 230)), 235))
    skin = (int(rng.integers(170, 225)), int(rng.integers(130, 175)), int(rng.integers(100, 140)))
    draw.ellipse((x0 + 0.05 * w, y0 + 0.78 * h, x1 - 0.05 * w, y1 + 0.3 * h), fill=(40, 45, 60))
    draw.ellipse((x0 + 0.25 * w, y0 + 0.2 * h, x1 - 0.25 * w, y0 + 0.72 * h), fill=skin)
    draw.chord((x0 + 0.22 * w, y0 + 0.12 * h, x1 - 0.22 * w, y0 + 0.5 * h), 180, 360, fill=(25, 22, 20))


# --- the scene ---------------------------------------------------------------------------------------------------


def _scene_background(scene: PhotoScene, rng: np.random.Generator) -> Image.Image:
    """What the card lies on or is held against: wood, cloth, a pale desk, a checked cloth, a cluttered desk."""
    width, height = scene.capture_size
    low_w, low_h = max(8, width // 8), max(8, height // 8)
    kind = scene.background % 5
    yy = np.arange(low_h, dtype=np.float32)[:, None] / low_h
    xx = np.arange(low_w, dtype=np.float32)[None, :] / low_w
    noise = rng.standard_normal((low_h, low_w)).astype(np.float32)
    if kind == 0:  # wood
        grain = np.sin(2 * np.pi * (yy * float(rng.uniform(8, 25)) + 0.3 * np.sin(2 * np.pi * xx * 2)))
        level = 120 + 25 * grain + 6 * noise
        colour = np.array([1.15, 0.85, 0.6], dtype=np.float32)
    elif kind == 1:  # dark cloth
        level = 45 + 10 * noise
        colour = np.array([0.8, 0.85, 1.1], dtype=np.float32)
    elif kind == 2:  # pale desk or paper, close to the card's own brightness
        level = np.asarray(205 + 8 * noise + 10 * xx, dtype=np.float32)
        colour = np.array([1.0, 1.0, 0.97], dtype=np.float32)
    elif kind == 3:  # checked cloth: squares that a detector may take for finder patterns
        period = float(rng.uniform(0.02, 0.06))
        checks = (np.floor(xx * low_w / low_h / period) + np.floor(yy / period)) % 2
        level = np.asarray(70 + 120 * checks + 6 * noise, dtype=np.float32)
        colour = np.array([1.0, 0.8, 0.8], dtype=np.float32)
    else:  # cluttered desk: dark strokes on grey
        level = 150 + 8 * noise
        for _ in range(40):
            y = int(rng.integers(0, low_h))
            x = int(rng.integers(0, low_w))
            level[y : y + 2, x : x + int(rng.integers(4, 30))] = 40
        colour = np.array([1.0, 1.0, 1.0], dtype=np.float32)
    rgb = np.clip(level[:, :, None] * colour[None, None, :], 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB").resize((width, height), Image.Resampling.BICUBIC)


def _compose(
    scene: PhotoScene, homography: _Homography, rng: np.random.Generator
) -> tuple[Image.Image, Image.Image, tuple[int, int, int, int]]:
    """The scene in the camera's image (RGB), the card's mask, and the card's bounding box (clipped)."""
    width, height = scene.capture_size
    corners = _project(homography, _box_corners((0, 0, *CARD_MM)))
    # Print the card at slightly more than its sharpest pixels-per-mm in the image, so the warp never aliases it.
    local = max(math.dist(corners[i], corners[(i + 1) % 4]) / CARD_MM[i % 2] for i in range(4))
    scale = min(max(local * 1.15, 3.0), 5200 / CARD_MM[0])
    card, mask = _card_face(scene, scale, rng)
    xs = [x for x, _ in corners]
    ys = [y for _, y in corners]
    box = (
        max(0, math.floor(min(xs)) - 2),
        max(0, math.floor(min(ys)) - 2),
        min(width, math.ceil(max(xs)) + 2),
        min(height, math.ceil(max(ys)) + 2),
    )
    background = _scene_background(scene, rng)
    mask_full = Image.new("L", (width, height), 0)
    if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
        # Output pixel (box-relative) -> card pixel: the inverse of (card px -> mm -> image px -> box).
        to_mm = np.diag([1 / scale, 1 / scale, 1.0])
        to_box = np.array([[1.0, 0.0, -box[0]], [0.0, 1.0, -box[1]], [0.0, 0.0, 1.0]])
        forward = to_box @ homography @ to_mm
        inverse = np.linalg.inv(forward)
        inverse = inverse / inverse[2, 2]
        coeffs = tuple(float(value) for value in inverse.flatten()[:8])
        size = (box[2] - box[0], box[3] - box[1])
        warped = card.transform(size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
        warped_mask = mask.transform(size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
        background.paste(warped, box[:2], warped_mask)
        mask_full.paste(warped_mask, box[:2])
    if scene.fingers:
        _draw_fingers(background, scene, homography, rng)
    return background, mask_full, box


def _draw_fingers(image: Image.Image, scene: PhotoScene, homography: _Homography, rng: np.random.Generator) -> None:
    draw = ImageDraw.Draw(image)
    skin = (int(rng.integers(180, 230)), int(rng.integers(130, 170)), int(rng.integers(100, 135)))
    shade = tuple(int(channel * 0.8) for channel in skin)
    for finger in scene.fingers:
        angle = math.radians(finger.angle_deg)
        half = finger.width * CARD_MM[0] / 2
        # ``tip`` is the very end of the finger; its rounded end is centred half a width behind it, and the finger
        # runs from there back out past the card's edge.
        tip = (
            finger.tip[0] * CARD_MM[0] - half * math.cos(angle),
            finger.tip[1] * CARD_MM[1] - half * math.sin(angle),
        )
        back = (tip[0] - 90 * math.cos(angle), tip[1] - 90 * math.sin(angle))
        normal = (-math.sin(angle) * half, math.cos(angle) * half)
        outline = [
            (tip[0] + normal[0], tip[1] + normal[1]),
            (back[0] + normal[0], back[1] + normal[1]),
            (back[0] - normal[0], back[1] - normal[1]),
            (tip[0] - normal[0], tip[1] - normal[1]),
        ]
        tip_round = [
            (tip[0] + half * math.cos(angle + t), tip[1] + half * math.sin(angle + t))
            for t in np.linspace(-math.pi / 2, math.pi / 2, 9)
        ]
        polygon = _project(homography, [*outline, *reversed(tip_round)])
        draw.polygon(polygon, fill=shade)
        inner = [
            (p[0] * 0.8 + q[0] * 0.2, p[1] * 0.8 + q[1] * 0.2)
            for p, q in zip(polygon, [polygon[len(polygon) // 2]] * len(polygon), strict=True)
        ]
        draw.polygon(inner, fill=skin)


_TO_LINEAR: Final = (np.arange(256, dtype=np.float32) / 255.0) ** 2.2
_FROM_LINEAR: Final = np.clip(np.rint(255.0 * (np.arange(4096) / 4095.0) ** (1 / 2.2)), 0, 255).astype(np.uint8)


def _split_luma(composite: Image.Image, scene: PhotoScene) -> tuple[Image.Image, tuple[Image.Image, Image.Image]]:
    ycc = composite.convert("YCbCr")
    y, cb, cr = ycc.split()
    return y, (cb, cr)


def _optics(luma: Image.Image, scene: PhotoScene, card_box: tuple[int, int, int, int]) -> Image.Image:
    """Lens softness everywhere; defocus (a disk) and camera shake (a line) on the card and around it."""
    if scene.lens_blur_px > 0:
        luma = luma.filter(ImageFilter.GaussianBlur(scene.lens_blur_px))
    if scene.defocus_px <= 0.3 and scene.motion_px <= 0.5:
        return luma
    margin = math.ceil(2 * scene.defocus_px + scene.motion_px) + 4
    width, height = luma.size
    box = (
        max(0, card_box[0] - margin),
        max(0, card_box[1] - margin),
        min(width, card_box[2] + margin),
        min(height, card_box[3] + margin),
    )
    if box[2] - box[0] < 8 or box[3] - box[1] < 8:
        return luma
    # Outside the card, a cheap Gaussian of similar size stands in for the disk and the line.
    soft = luma.filter(ImageFilter.GaussianBlur(0.5 * scene.defocus_px + 0.3 * scene.motion_px))
    crop = np.asarray(luma.crop(box), dtype=np.float32)
    if scene.defocus_px > 0.3:
        crop = _disk_blur(crop, scene.defocus_px)
    if scene.motion_px > 0.5:
        crop = _motion_blur(crop, scene.motion_px, scene.motion_angle_deg)
    soft.paste(Image.fromarray(np.clip(np.rint(crop), 0, 255).astype(np.uint8)), box[:2])
    return soft


def _disk_blur(pixels: _FloatImage, radius: float) -> _FloatImage:
    """Defocus: the mean over a disk, computed on a reduced copy when the disk is large (the result is smooth)."""
    height, width = pixels.shape
    factor = max(1.0, radius / 4.0)
    if factor > 1.0:
        small_size = (max(8, round(width / factor)), max(8, round(height / factor)))
        small = np.asarray(Image.fromarray(pixels, "F").resize(small_size, Image.Resampling.BOX), dtype=np.float32)
    else:
        small = pixels
    r = radius / factor
    reach = math.ceil(r)
    padded = np.pad(small, reach, mode="edge")
    total = np.zeros_like(small)
    weight = 0.0
    sh, sw = small.shape
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            # Anti-aliased disk edge: partial weight for taps on the rim.
            w = min(1.0, max(0.0, r + 0.5 - math.hypot(dx, dy)))
            if w <= 0:
                continue
            total += w * padded[reach + dy : reach + dy + sh, reach + dx : reach + dx + sw]
            weight += w
    blurred = total / weight
    if factor > 1.0:
        blurred = np.asarray(Image.fromarray(blurred, "F").resize((width, height), Image.Resampling.BICUBIC))
    return np.asarray(blurred, dtype=np.float32)


def _expose(
    luma: Image.Image,
    scene: PhotoScene,
    homography: _Homography,
    card_mask: Image.Image,
    rng: np.random.Generator,
) -> Image.Image:
    """Light on the scene (gradient, vignetting, shadow, glare), the sensor's noise and gain, tone curve, the ISP."""
    width, height = luma.size
    field = _light_field(scene, homography, card_mask, width, height)
    # The sensor sees ``light`` of the scene; auto-exposure gain restores it (times the exposure error), noise and all.
    # (In place: a 12-megapixel frame is 48 MB per float copy.)
    sensed = _TO_LINEAR[np.asarray(luma)]
    sensed *= field[0]
    sensed += field[1]
    sensed *= scene.light
    shot = 0.0004
    sigma = np.clip(sensed, 0.0, None)
    sigma *= shot
    sigma += scene.read_noise**2
    np.sqrt(sigma, out=sigma)
    noise = rng.standard_normal(sensed.shape, dtype=np.float32)
    noise *= sigma
    sensed += noise
    sensed *= 2.0**scene.exposure_ev / scene.light * 4095.0
    sensed += scene.flare * 4095.0
    np.clip(sensed, 0.0, 4095.0, out=sensed)
    image = Image.fromarray(_FROM_LINEAR[sensed.astype(np.uint16)])
    if scene.denoise > 0:
        image = image.filter(ImageFilter.GaussianBlur(scene.denoise))
    if scene.sharpen > 0:
        radius = 1.2 * max(1.0, scene.capture_scale * 0.8)
        image = image.filter(ImageFilter.UnsharpMask(radius=radius, percent=round(scene.sharpen), threshold=2))
    if scene.moire > 0:
        image = _apply_moire(image, scene)
    return image


def _light_field(
    scene: PhotoScene, homography: _Homography, card_mask: Image.Image, width: int, height: int
) -> tuple[_FloatImage, _FloatImage]:
    """Multiplicative illumination and additive specular light, computed at a quarter resolution (both are smooth)."""
    step = 4
    low_w, low_h = max(4, width // step), max(4, height // step)
    xx = (np.arange(low_w, dtype=np.float32)[None, :] + 0.5) * width / low_w
    yy = (np.arange(low_h, dtype=np.float32)[:, None] + 0.5) * height / low_h
    theta = math.radians(scene.lighting_direction_deg)
    ramp = (xx / width - 0.5) * math.cos(theta) + (yy / height - 0.5) * math.sin(theta)
    illumination = 1.0 - scene.lighting * (ramp + 0.5)
    radius2 = ((xx - width / 2) ** 2 + (yy - height / 2) ** 2) / ((width / 2) ** 2 + (height / 2) ** 2)
    illumination = illumination * (1.0 - scene.vignetting * radius2)
    card_px = scene.card_px * scene.capture_scale
    centre = _project(homography, [(CARD_MM[0] / 2, CARD_MM[1] / 2)])[0]
    if scene.shadow > 0:
        phi = math.radians(scene.shadow_angle_deg)
        distance = (xx - centre[0]) * math.cos(phi) + (yy - centre[1]) * math.sin(phi) - scene.shadow_offset * card_px
        softness = max(1.0, scene.shadow_softness * card_px)
        inside = 1.0 / (1.0 + np.exp(-np.clip(distance / softness, -30, 30)))
        illumination = illumination * (1.0 - scene.shadow * inside)
    specular = np.zeros_like(illumination)
    if scene.glare > 0:
        gx, gy = _project(homography, [(scene.glare_center[0] * CARD_MM[0], scene.glare_center[1] * CARD_MM[1])])[0]
        phi = math.radians(scene.glare_angle_deg)
        along = (xx - gx) * math.cos(phi) + (yy - gy) * math.sin(phi)
        across = -(xx - gx) * math.sin(phi) + (yy - gy) * math.cos(phi)
        sigma = max(2.0, scene.glare_size * card_px / 2)
        spot = np.exp(-((along / (sigma * scene.glare_elongation)) ** 2 + (across / sigma) ** 2) / 2)
        # The laminate's hologram makes the highlight streaky.
        streaks = 1.0 + scene.laminate * 0.25 * np.sin(2 * np.pi * along / max(4.0, 0.015 * card_px))
        card_low = np.asarray(card_mask.resize((low_w, low_h), Image.Resampling.BILINEAR), dtype=np.float32) / 255
        specular = (scene.glare * spot * streaks * card_low).astype(np.float32)
    multiply = np.asarray(
        Image.fromarray(illumination.astype(np.float32), "F").resize((width, height), Image.Resampling.BILINEAR)
    )
    add = np.asarray(Image.fromarray(specular, "F").resize((width, height), Image.Resampling.BILINEAR))
    return np.asarray(multiply, dtype=np.float32), np.asarray(add, dtype=np.float32)


def _apply_moire(image: Image.Image, scene: PhotoScene) -> Image.Image:
    """Interference bands: a grating near the sensor's pitch, slowly bent, as a screen or fine print produces."""
    width, height = image.size
    xx = np.arange(width, dtype=np.float32)[None, :]
    yy = np.arange(height, dtype=np.float32)[:, None]
    phi = math.radians(scene.moire_angle_deg)
    bend = 3.0 * np.sin(2 * np.pi * yy / (scene.moire_period_px * 37.0))
    phase = 2 * np.pi * ((xx * math.cos(phi) + yy * math.sin(phi)) / scene.moire_period_px) + bend
    factor = 1.0 + scene.moire * np.sin(phase)
    pixels = np.asarray(image, dtype=np.float32) * factor
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))


def _chroma(
    chroma: tuple[Image.Image, Image.Image], scene: PhotoScene, rng: np.random.Generator, size: tuple[int, int]
) -> tuple[Image.Image, Image.Image]:
    """Colour at half resolution (as the JPEG keeps it), with colour noise in low light."""
    half = (max(8, size[0] // 2), max(8, size[1] // 2))
    out = []
    noise_level = min(40.0, 2.0 * scene.read_noise / scene.light * 255 / 4)
    for plane in chroma:
        small = np.asarray(plane.resize(half, Image.Resampling.BILINEAR), dtype=np.float32)
        if noise_level > 0.5:
            coarse = rng.standard_normal((half[1] // 4 + 1, half[0] // 4 + 1)).astype(np.float32)
            blotches = np.asarray(Image.fromarray(coarse, "F").resize(half, Image.Resampling.BILINEAR))
            small = np.asarray(small + noise_level * blotches, dtype=np.float32)
        small = np.asarray(128 + (small - 128) * min(1.0, scene.light * 3), dtype=np.float32)
        plane_img = Image.fromarray(np.clip(np.rint(small), 0, 255).astype(np.uint8))
        out.append(plane_img.resize(size, Image.Resampling.BILINEAR))
    return out[0], out[1]


# --- random photos -------------------------------------------------------------------------------------------------


def random_photo(
    seed: int,
    text: str,
    *,
    size: tuple[int, int] | None = None,
    family: PhotoFamily | None = None,
    layout: CardLayout | None = None,
) -> PhotoScene:
    """A plausible photo of a card, deterministic from ``seed``: mild everything, and ``family`` pushed hard.

    Every photo keeps the QR inside the frame with at least about 1.7 pixels per module: what a person who means to
    photograph the card produces, on a bad day.
    """
    rng = random.Random(seed)
    if family is None:
        family = rng.choice(list(PhotoFamily))
    if size is None:
        size = rng.choice(PHOTO_SIZES)
    if layout is None:
        layout = rng.choice(list(CardLayout))
    ec_level: Literal["L", "M", "Q", "H"] = rng.choice(("L", "M", "M", "M", "Q", "Q", "H"))
    modules = qr_modules(text, ec_level=ec_level)
    qr_mm = rng.uniform(15.0, 18.0) if layout is CardLayout.FRONT_2021 else rng.uniform(17.6, 18.2)
    width, height = size
    long_side = max(width, height)
    pushed = {family}
    if family is PhotoFamily.MIXED:
        choices = [kind for kind in PhotoFamily if kind not in (PhotoFamily.CLEAN, PhotoFamily.MIXED)]
        pushed = set(rng.sample(choices, rng.choice((2, 2, 3))))

    def strength() -> float:
        # Families mixed together are pushed less far than one alone.
        return rng.uniform(0.45, 0.8) if family is PhotoFamily.MIXED else 1.0

    # Size: the card's share of the longer side of the frame, kept above a legible minimum of pixels per module.
    share = rng.uniform(0.3, 0.85)
    minimum_ppm = 2.3
    if PhotoFamily.SMALL in pushed:
        target_ppm = rng.uniform(1.7, 2.6)
        share = target_ppm * modules / qr_mm * CARD_MM[0] / long_side
    elif PhotoFamily.CLOSE_UP in pushed:
        share = rng.uniform(0.85, 1.25)
    card_px = share * long_side
    ppm = card_px * qr_mm / CARD_MM[0] / modules
    if ppm < minimum_ppm and PhotoFamily.SMALL not in pushed:
        card_px *= minimum_ppm / ppm
    module_capture = card_px * qr_mm / CARD_MM[0] / modules

    roll = rng.gauss(0.0, 6.0)
    if rng.random() < 0.25:
        roll += rng.choice((90.0, 180.0, 270.0))
    if PhotoFamily.ROTATION in pushed:
        roll = rng.uniform(0.0, 360.0)
    tilt = rng.uniform(0.0, 15.0)
    if PhotoFamily.PERSPECTIVE in pushed:
        tilt = rng.uniform(28.0, 55.0) * (0.5 + 0.5 * strength())
    scene = PhotoScene(
        text=text,
        size=size,
        layout=layout,
        qr_mm=qr_mm,
        card_px=card_px,
        center=(0.5, 0.5),
        roll_deg=roll,
        tilt_deg=tilt,
        tilt_axis_deg=rng.uniform(0.0, 360.0),
        fov_deg=rng.uniform(58.0, 75.0),
        lens_blur_px=rng.uniform(0.35, 0.9),
        defocus_px=rng.uniform(0.0, 0.25) * module_capture,
        light=rng.uniform(0.35, 1.0),
        exposure_ev=rng.gauss(0.0, 0.25),
        lighting=rng.uniform(0.0, 0.35),
        lighting_direction_deg=rng.uniform(0.0, 360.0),
        vignetting=rng.uniform(0.05, 0.4),
        qr_texture=rng.uniform(0.0, 0.5),
        guilloche=rng.uniform(0.25, 0.6),
        laminate=rng.uniform(0.1, 0.6),
        ink=rng.uniform(0.02, 0.1),
        read_noise=rng.uniform(0.001, 0.005),
        sharpen=rng.uniform(20.0, 150.0),
        jpeg_quality=rng.randint(75, 95),
        color=rng.random() < 0.92,
        exif_rotation=rng.choice((0, 0, 0, 0, 90, 90, 180, 270)),
        background=rng.randrange(5),
        ec_level=ec_level,
        seed=seed,
    )
    if rng.random() < 0.15 and PhotoFamily.GLARE not in pushed:
        scene = replace(scene, glare=rng.uniform(0.1, 0.4), glare_center=(rng.random(), rng.random()))
    # In the enumeration's order: a set of strings iterates in an order that changes with the process's hash seed.
    for kind in (kind for kind in PhotoFamily if kind in pushed):
        s = strength()
        match kind:
            case PhotoFamily.DEFOCUS:
                scene = replace(scene, defocus_px=rng.uniform(0.35, 0.8) * s * module_capture)
            case PhotoFamily.MOTION:
                scene = replace(
                    scene,
                    motion_px=rng.uniform(0.5, 1.1) * s * module_capture,
                    motion_angle_deg=rng.uniform(0.0, 180.0),
                )
            case PhotoFamily.LOW_LIGHT:
                scene = replace(
                    scene,
                    light=rng.uniform(0.03, 0.12) / s,
                    exposure_ev=rng.uniform(-1.0, 0.2),
                    denoise=rng.uniform(0.0, 1.2),
                    sharpen=rng.uniform(0.0, 60.0),
                )
            case PhotoFamily.EXPOSURE:
                over = rng.random() < 0.5
                scene = replace(
                    scene,
                    exposure_ev=(rng.uniform(0.8, 1.6) if over else rng.uniform(-2.2, -1.2)) * s,
                    flare=rng.uniform(0.03, 0.2) * s,
                )
            case PhotoFamily.GLARE:
                qx, qy = _qr_centre_fraction(layout, qr_mm)
                scene = replace(
                    scene,
                    glare=rng.uniform(0.5, 1.6) * s,
                    glare_center=(qx + rng.uniform(-0.12, 0.12), qy + rng.uniform(-0.2, 0.2)),
                    glare_size=rng.uniform(0.04, 0.15),
                    glare_elongation=rng.uniform(1.0, 2.5),
                    glare_angle_deg=rng.uniform(0.0, 180.0),
                    laminate=rng.uniform(0.3, 1.0),
                )
            case PhotoFamily.SHADOW:
                qx, qy = _qr_centre_fraction(layout, qr_mm)
                angle = rng.uniform(0.0, 360.0)
                # The shadow's edge crosses the QR: offset from the card's centre to near the QR's centre.
                dx, dy = (qx - 0.5) * CARD_MM[0] / CARD_MM[0], (qy - 0.5) * CARD_MM[1] / CARD_MM[0]
                offset = dx * math.cos(math.radians(angle)) + dy * math.sin(math.radians(angle))
                scene = replace(
                    scene,
                    shadow=rng.uniform(0.45, 0.8) * s,
                    shadow_angle_deg=angle + scene.roll_deg,
                    shadow_offset=offset + rng.uniform(-0.08, 0.08),
                    shadow_softness=rng.uniform(0.004, 0.05),
                )
            case PhotoFamily.MOIRE:
                scene = replace(
                    scene,
                    moire=rng.uniform(0.06, 0.2) * s,
                    moire_period_px=rng.uniform(2.2, 8.0),
                    moire_angle_deg=rng.uniform(0.0, 180.0),
                    guilloche=rng.uniform(0.5, 0.9),
                )
            case PhotoFamily.OCCLUSION:
                scene = replace(scene, fingers=_random_fingers(rng, layout, qr_mm))
            case PhotoFamily.TEXTURE:
                scene = replace(
                    scene,
                    qr_texture=rng.uniform(0.7, 1.0) * s,
                    guilloche=rng.uniform(0.6, 1.0),
                    laminate=rng.uniform(0.5, 1.0),
                )
            case PhotoFamily.COMPRESSION:
                target = rng.choice(((1024, 768), (1280, 960), (1600, 1200)))
                capture_scale = min(rng.uniform(1.5, 3.0), math.sqrt(MAX_PHOTO_PIXELS / (target[0] * target[1])))
                factor = max(target) / long_side
                scene = replace(
                    scene,
                    size=target if width >= height else (target[1], target[0]),
                    card_px=max(scene.card_px * factor, 2.4 * modules / qr_mm * CARD_MM[0]),
                    capture_scale=max(1.0, capture_scale),
                    first_jpeg_quality=rng.randint(80, 95),
                    jpeg_quality=rng.randint(55, 72),
                )
            case _:
                pass
    return _place_card(scene, rng)


def _qr_centre_fraction(layout: CardLayout, qr_mm: float) -> tuple[float, float]:
    x0, y0, x1, y1 = _qr_box_mm(layout, qr_mm)
    return (x0 + x1) / 2 / CARD_MM[0], (y0 + y1) / 2 / CARD_MM[1]


def _finger_cover(finger: Finger, points: list[tuple[float, float]]) -> float:
    """The share of ``points`` (card mm) under the finger: a capsule from its tip back past the card's edge."""
    half = finger.width * CARD_MM[0] / 2
    angle = math.radians(finger.angle_deg)
    direction = (math.cos(angle), math.sin(angle))
    tip_centre = (finger.tip[0] * CARD_MM[0] - half * direction[0], finger.tip[1] * CARD_MM[1] - half * direction[1])
    covered = 0
    for x, y in points:
        # Distance from the point to the ray that runs from the tip's centre backwards.
        along = min(0.0, (x - tip_centre[0]) * direction[0] + (y - tip_centre[1]) * direction[1])
        nearest = (tip_centre[0] + along * direction[0], tip_centre[1] + along * direction[1])
        covered += math.dist((x, y), nearest) <= half
    return covered / len(points)


_FINGER_FROM: Final = {"left": 0.0, "top": 90.0, "right": 180.0, "bottom": -90.0}


def _random_fingers(rng: random.Random, layout: CardLayout, qr_mm: float) -> tuple[Finger, ...]:
    """One to three fingers holding the card by its edges, clear of the QR; in a third of the photos a fingertip
    also rests on the QR's corner away from its finder patterns (a few percent of its area)."""
    x0, y0, x1, y1 = _qr_box_mm(layout, qr_mm)
    grid = [(x0 + (x1 - x0) * (i + 0.5) / 24, y0 + (y1 - y0) * (j + 0.5) / 24) for i in range(24) for j in range(24)]
    finder = 0.16 * qr_mm
    finders = [
        (x, y)
        for x, y in grid
        if ((x < x0 + finder or x > x1 - finder) and y < y0 + finder) or (x < x0 + finder and y > y1 - finder)
    ]
    fingers: list[Finger] = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        for _attempt in range(30):
            side = rng.choice(list(_FINGER_FROM))
            reach = rng.uniform(4.0, 16.0)
            along = rng.uniform(0.1, 0.9)
            tip_mm = {
                "left": (reach, along * CARD_MM[1]),
                "right": (CARD_MM[0] - reach, along * CARD_MM[1]),
                "top": (along * CARD_MM[0], reach),
                "bottom": (along * CARD_MM[0], CARD_MM[1] - reach),
            }[side]
            finger = Finger(
                (tip_mm[0] / CARD_MM[0], tip_mm[1] / CARD_MM[1]),
                _FINGER_FROM[side] + rng.uniform(-25.0, 25.0),
                width=rng.uniform(0.15, 0.22),
            )
            if _finger_cover(finger, grid) <= 0.01:
                fingers.append(finger)
                break
    if rng.random() < 0.33:
        for _attempt in range(60):
            # A fingertip a little way into the QR near its bottom-right corner, coming from the right or below.
            depth = rng.uniform(0.02, 0.1) * qr_mm
            slide = rng.uniform(0.0, 0.3) * qr_mm
            side = rng.choice(("right", "bottom", "corner"))
            if side == "right":
                angle, tip = 180.0, (x1 - depth, y1 - slide)
            elif side == "bottom":
                angle, tip = -90.0, (x1 - slide, y1 - depth)
            else:
                angle, tip = -135.0, (x1 - 0.7 * depth, y1 - 0.7 * depth)
            finger = Finger(
                (tip[0] / CARD_MM[0], tip[1] / CARD_MM[1]),
                angle + rng.uniform(-15.0, 15.0),
                width=rng.uniform(0.15, 0.2),
            )
            cover = _finger_cover(finger, grid)
            if 0.0 < cover <= 0.1 and _finger_cover(finger, finders) == 0.0:
                fingers.append(finger)
                break
    return tuple(fingers)


def _place_card(scene: PhotoScene, rng: random.Random) -> PhotoScene:
    """Move the card around the frame, keeping the whole QR (and a margin) inside it."""
    width, height = scene.size
    for _ in range(40):
        centre = (rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75))
        candidate = replace(scene, center=centre)
        qr = photo_geometry(candidate).qr
        margin = 0.02 * min(width, height)
        if all(margin <= x <= width - margin and margin <= y <= height - margin for x, y in qr):
            return candidate
    # Centre the QR itself when no random placement keeps it in view (a close-up of a large card).
    qr = photo_geometry(replace(scene, center=(0.5, 0.5))).qr
    qx = sum(x for x, _ in qr) / 4 / width
    qy = sum(y for _, y in qr) / 4 / height
    return replace(scene, center=(1.0 - qx, 1.0 - qy))
