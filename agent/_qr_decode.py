"""QR decoding with zxing-cpp, tuned for a terminal's camera and for still photos.

Live frames get the fast pass: QR only, no rotation, inversion or downscaling, first in the region where the code was
last seen (or last located without being decoded), then in the whole frame. When the fast pass keeps failing, each
further frame also gets one of the slower fallback strategies in turn (other binarizers, zxing's full effort, local
contrast normalisation, sharpening, resampling), so the per-frame cost stays bounded while every strategy gets its
chance within a few frames.

Still images (``decode_image``, ``read_cccd_qr``: photos from 1 to 12 megapixels and beyond) go through every
strategy until one yields an accepted symbol, within bounded work: the fast pass at full resolution and on a pyramid
of halvings (a close-up's large, noisy modules); zxing's global binarizer; close-ups of each place where a symbol was
located but not decoded, or that looks like one (``dense_regions``), where every strategy is cheap, ending with
repairs on the close-up and a wider view of it: squared from three finder patterns when a steep tilt shears it
(``rectifications``), and with a finder pattern washed out by glare or hidden by a finger painted in
(``finder_repairs``); then the whole-image fallbacks on a working copy of bounded size.

The symbol's error correction is what protects its content; no strategy alters the decoded bytes (a repaired finder
pattern only tells zxing where the grid is), and the CCCD parser validates them afterwards.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import zxingcpp
from PIL import Image, ImageFilter, ImageOps

from agent._cccd_qr import CccdQr, CccdQrError, QrError, parse_cccd_qr
from agent._qr_locate import dense_regions, find_finder_patterns, finder_repairs, rectifications

GrayImage = npt.NDArray[np.uint8]
Point = tuple[float, float]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)

# Frames beyond this many pixels per side are refused: no camera or phone produces them, a hostile file might.
MAX_SIDE = 16384
_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class DecodeFailure(enum.StrEnum):
    NO_QR = "no_qr"
    UNREADABLE = "qr_unreadable"
    AMBIGUOUS = "ambiguous"
    BAD_IMAGE = "bad_image"


class QrDecodeError(QrError):
    """No CCCD QR could be read from an image; ``reason`` says whether none was seen or one could not be decoded."""

    def __init__(self, reason: DecodeFailure, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.detail = message


@dataclass(frozen=True, slots=True)
class QrSymbol:
    """A decoded QR symbol: its payload bytes, zxing's text rendering, and its corners in frame coordinates."""

    raw: bytes
    text: str
    corners: tuple[Point, Point, Point, Point]
    strategy: str

    @property
    def box(self) -> tuple[float, float, float, float]:
        xs = [point[0] for point in self.corners]
        ys = [point[1] for point in self.corners]
        return min(xs), min(ys), max(xs), max(ys)


@dataclass(frozen=True, slots=True)
class _Read:
    """zxing options for one attempt."""

    binarizer: zxingcpp.Binarizer = zxingcpp.Binarizer.LocalAverage
    rotate: bool = False
    invert: bool = False
    downscale: bool = False


@dataclass(frozen=True, slots=True)
class _View:
    """An image prepared for an attempt, and how its coordinates map back: frame = view / scale + offset."""

    image: GrayImage
    scale: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)
    # A rectified close-up: the affine map (a, b, c, d, e, f) from its pixels to those of the view it was warped from,
    # x' = a x + b y + c, y' = d x + e y + f, applied before scale and offset.
    affine: tuple[float, float, float, float, float, float] | None = None

    def to_frame(self, x: float, y: float) -> Point:
        if self.affine is not None:
            a, b, c, d, e, f = self.affine
            x, y = a * x + b * y + c, d * x + e * y + f
        return x / self.scale + self.offset[0], y / self.scale + self.offset[1]


Preprocess = Callable[[GrayImage], GrayImage]


@dataclass(frozen=True, slots=True)
class Strategy:
    """A named fallback: an optional preprocessing step, an optional resampling factor, and zxing's options.

    The preprocessing runs after the resampling unless ``prepare_first``; a strategy whose resampled image would
    exceed ``max_pixels`` is skipped (costly filters on large frames).
    """

    name: str
    read: _Read
    prepare: Preprocess | None = None
    resample: float = 1.0
    prepare_first: bool = False
    max_pixels: int = 7_500_000


_FAST = _Read()


def check_frame(image: object) -> GrayImage:
    """Accept a 2-D uint8 array of sane size, else raise ``QrDecodeError(BAD_IMAGE)``."""
    if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8:
        raise QrDecodeError(DecodeFailure.BAD_IMAGE, "a frame must be a 2-D uint8 grayscale array")
    height, width = image.shape
    if not (8 <= width <= MAX_SIDE and 8 <= height <= MAX_SIDE):
        raise QrDecodeError(DecodeFailure.BAD_IMAGE, f"frame size {width}x{height} out of range")
    return image


# ---------------------------------------------------------------------------------------------------------------
# Preprocessing steps (pure functions over grayscale arrays)


def normalise_contrast(image: GrayImage) -> GrayImage:
    """Local contrast normalisation: remove uneven lighting and stretch weak contrast around each pixel."""
    height, width = image.shape
    radius = max(6, min(height, width) // 24)
    pil = Image.fromarray(image)
    mean = np.asarray(pil.filter(ImageFilter.BoxBlur(radius)), dtype=np.float32)
    deviation = np.abs(image.astype(np.float32) - mean)
    spread = np.asarray(
        Image.fromarray(np.clip(deviation, 0, 255).astype(np.uint8)).filter(ImageFilter.BoxBlur(radius)),
        dtype=np.float32,
    )
    out = (image.astype(np.float32) - mean) / (spread + 4.0) * 50.0 + 128.0
    return np.clip(out, 0, 255).astype(np.uint8)


def sharpen(image: GrayImage) -> GrayImage:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.UnsharpMask(radius=1, percent=250, threshold=0)))


def sharpen_wide(image: GrayImage) -> GrayImage:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.UnsharpMask(radius=2, percent=180, threshold=0)))


def median(image: GrayImage) -> GrayImage:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.MedianFilter(3)))


def smooth(image: GrayImage) -> GrayImage:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(1.0)))


def smooth_more(image: GrayImage) -> GrayImage:
    """For sensor noise on modules of 5 px or more: a wider kernel than ``smooth``."""
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(1.6)))


def smooth_upscaled(image: GrayImage) -> GrayImage:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(2.0)))


def equalise(image: GrayImage) -> GrayImage:
    return np.asarray(ImageOps.equalize(Image.fromarray(image)))


def stretch(image: GrayImage) -> GrayImage:
    return np.asarray(ImageOps.autocontrast(Image.fromarray(image), cutoff=1))


_DARKEN_LUT = np.clip(255.0 * (np.arange(256) / 255.0) ** 2.2, 0, 255).astype(np.uint8)
_BRIGHTEN_LUT = np.clip(255.0 * (np.arange(256) / 255.0) ** 0.5, 0, 255).astype(np.uint8)


def darken(image: GrayImage) -> GrayImage:
    """Gamma > 1: separates modules that glare or over-exposure pushed towards white."""
    return _DARKEN_LUT[image]


def brighten(image: GrayImage) -> GrayImage:
    """Gamma < 1: lifts modules out of an under-exposed or shadowed capture."""
    return _BRIGHTEN_LUT[image]


def darken_normalised(image: GrayImage) -> GrayImage:
    return normalise_contrast(darken(image))


def resample(image: GrayImage, factor: float) -> GrayImage:
    height, width = image.shape
    size = (max(8, round(width * factor)), max(8, round(height * factor)))
    if factor < 1:
        return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))


_LA = zxingcpp.Binarizer.LocalAverage
_GH = zxingcpp.Binarizer.GlobalHistogram
_FT = zxingcpp.Binarizer.FixedThreshold

# Full-frame fallbacks, in the order that rescued the most degraded captures per millisecond on our synthetic corpus
# (greedy set cover over some 40 candidates), then the costlier ones that still rescue a few.
FALLBACKS: tuple[Strategy, ...] = (
    Strategy("global_histogram", _Read(binarizer=_GH, downscale=True)),
    Strategy("full_effort", _Read(rotate=True, invert=True, downscale=True)),
    Strategy("stretched_fixed", _Read(binarizer=_FT), prepare=stretch, max_pixels=16_000_000),
    Strategy("equalised_histogram", _Read(binarizer=_GH), prepare=equalise),
    Strategy("three_quarter", _Read(), resample=0.75),
    Strategy("half", _Read(), resample=0.5),
    Strategy("equalised", _Read(), prepare=equalise),
    Strategy("darkened", _Read(), prepare=darken),
    Strategy("brightened", _Read(), prepare=brighten),
    Strategy("smoothed", _Read(), prepare=smooth),
    Strategy("sharpened", _Read(), prepare=sharpen),
    Strategy("upscaled_1_5", _Read(), resample=1.5),
    Strategy("upscaled", _Read(), resample=2.0),
    Strategy("normalised_fixed", _Read(binarizer=_FT), prepare=normalise_contrast),
    Strategy("normalised", _Read(downscale=True), prepare=normalise_contrast),
    Strategy("smoothed_more", _Read(), prepare=smooth_more),
    Strategy("darkened_normalised", _Read(), prepare=darken_normalised),
    Strategy("third", _Read(), resample=1 / 3),
    Strategy("sharpened_wide", _Read(), prepare=sharpen_wide),
    Strategy("normalised_upscaled", _Read(), prepare=normalise_contrast, resample=2.0, prepare_first=True),
    Strategy("smoothed_upscaled", _Read(), prepare=smooth_more, resample=2.0, prepare_first=True),
    Strategy("upscaled_smoothed", _Read(), prepare=smooth_upscaled, resample=2.0),
    Strategy("upscaled_sharpened", _Read(), prepare=sharpen, resample=2.0),
    Strategy("upscaled_3", _Read(), resample=3.0),
    Strategy("median", _Read(), prepare=median, max_pixels=1_500_000),
)
# Live frames get one fallback per frame: only those that stay cheap on a 1280x720 frame.
LIVE_FALLBACKS: tuple[Strategy, ...] = tuple(
    strategy
    for strategy in FALLBACKS
    if strategy.resample <= 1.5 and strategy.prepare not in (median, darken_normalised, sharpen_wide)
)
# A close-up (a symbol located but not decoded, or a place that looks like one) is small: many strategies, and larger
# upscales, are cheap there. Ordered by how many close-ups of hard card photos each rescued per millisecond (greedy set
# cover), then the rest that rescued some.
_BY_NAME = {strategy.name: strategy for strategy in FALLBACKS}
REGION_FALLBACKS: tuple[Strategy, ...] = (
    Strategy("fast", _Read()),
    *(
        _BY_NAME[name]
        for name in (
            "global_histogram",
            "stretched_fixed",
            "darkened",
            "equalised",
            "half",
            "third",
            "upscaled_1_5",
            "normalised_fixed",
            "normalised",
            "brightened",
            "upscaled",
            "full_effort",
            "smoothed",
            "sharpened",
            "three_quarter",
            "upscaled_3",
            "upscaled_sharpened",
            "smoothed_more",
            "normalised_upscaled",
            "smoothed_upscaled",
            "equalised_histogram",
            "darkened_normalised",
            "sharpened_wide",
        )
    ),
    Strategy("upscaled_4", _Read(), resample=4.0),
    Strategy("normalised_upscaled_3", _Read(), prepare=normalise_contrast, resample=3.0, prepare_first=True),
)

# Still images are decided within bounded work, whatever their size. Beyond _DECODE_PIXELS (a 50-megapixel photo,
# say) the passes run on a reduced copy, and only close-ups go back to full resolution. zxing's own passes see the
# image at its resolution and on a pyramid of halvings (down to about _PYRAMID_SIDE on the long side), where a
# close-up's large, noisy modules are easy; the whole-image preprocessing runs on a working copy of at most
# _WORKING_SIDE; close-ups (at most _MAX_REGIONS of them) are reduced to _REGION_SIDE when larger, which keeps every
# strategy cheap there.
_DECODE_PIXELS = 16_000_000
_PYRAMID_SIDE = 700
_WORKING_SIDE = 2048
_REGION_SIDE = 640
_MAX_REGIONS = 5
_LOCATOR_CANDIDATES = 3
_FULL_RESOLUTION = frozenset({"full_effort", "stretched_fixed", "three_quarter", "half", "third"})
# Upscaling is pointless, and costly, beyond this many pixels per side (a close-up needs less).
_MAX_UPSCALED_SIDE = 4096
_MAX_UPSCALED_REGION_SIDE = 1280
# Finder repairs cost up to a dozen zxing calls each: a few close-ups get them.
_MAX_REPAIRS = 5
_REPAIR_MARGIN = 0.35


# ---------------------------------------------------------------------------------------------------------------
# zxing calls


def _read(view: _View, options: _Read, strategy: str) -> tuple[list[QrSymbol], list[tuple[Point, ...]]]:
    """Decoded symbols, and the corners of symbols that were located but failed to decode (frame coordinates)."""
    found = zxingcpp.read_barcodes(
        view.image,
        formats=_QR,
        try_rotate=options.rotate,
        try_invert=options.invert,
        try_downscale=options.downscale,
        binarizer=options.binarizer,
        return_errors=True,
    )
    decoded: list[QrSymbol] = []
    failed: list[tuple[Point, ...]] = []
    for barcode in found:
        position = barcode.position
        corners = tuple(
            view.to_frame(point.x, point.y)
            for point in (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
        )
        if barcode.valid and barcode.error is None:
            decoded.append(
                QrSymbol(
                    raw=bytes(barcode.bytes),
                    text=barcode.text,
                    corners=(corners[0], corners[1], corners[2], corners[3]),
                    strategy=strategy,
                )
            )
        else:
            failed.append(corners)
    return decoded, failed


def _crop(image: GrayImage, box: Box) -> _View:
    x0, y0, x1, y1 = box
    return _View(image[y0:y1, x0:x1], 1.0, (float(x0), float(y0)))


def _expand(corners: Sequence[Point], shape: tuple[int, int], margin: float) -> Box | None:
    """The box around the corners grown by ``margin`` of its size on each side, clipped to the frame."""
    xs = [point[0] for point in corners]
    ys = [point[1] for point in corners]
    if not all(math.isfinite(value) for value in (*xs, *ys)):
        return None
    side = max(max(xs) - min(xs), max(ys) - min(ys), 16.0)
    height, width = shape
    x0 = max(0, math.floor(min(xs) - margin * side))
    y0 = max(0, math.floor(min(ys) - margin * side))
    x1 = min(width, math.ceil(max(xs) + margin * side))
    y1 = min(height, math.ceil(max(ys) + margin * side))
    if x1 - x0 < 16 or y1 - y0 < 16:
        return None
    return x0, y0, x1, y1


def _apply(strategy: Strategy, view: _View, *, max_side: int = _MAX_UPSCALED_SIDE) -> _View | None:
    image = np.ascontiguousarray(view.image)
    height, width = image.shape
    factor = strategy.resample
    if factor > 1 and max(height, width) * factor > max_side:
        return None
    if height * width * max(factor, 1.0) ** 2 > strategy.max_pixels and (factor > 1 or strategy.prepare is not None):
        return None
    if factor < 1 and min(height, width) * factor < 48:
        return None
    if strategy.prepare is not None and strategy.prepare_first:
        image = strategy.prepare(image)
    if factor != 1.0:
        image = resample(image, factor)
    if strategy.prepare is not None and not strategy.prepare_first:
        image = strategy.prepare(image)
    return _View(image, view.scale * image.shape[1] / width, view.offset)


def _attempt(
    strategy: Strategy, view: _View, *, max_side: int = _MAX_UPSCALED_SIDE
) -> tuple[list[QrSymbol], list[tuple[Point, ...]]]:
    prepared = _apply(strategy, view, max_side=max_side)
    if prepared is None:
        return [], []
    return _read(prepared, strategy.read, strategy.name)


# ---------------------------------------------------------------------------------------------------------------
# Live frames


class QrDecoder:
    """Per-camera decoder state: the region of interest and the fallback rotation.

    ``fallback_after``: consecutive frames without a symbol before fallbacks start. ``roi_margin``: how far (in QR
    sizes) around the last position to look first. ``roi_frames``: how many failing frames a region is kept.
    """

    def __init__(
        self,
        *,
        fallback_after: int = 2,
        roi_margin: float = 0.6,
        roi_frames: int = 15,
        fallbacks: Sequence[Strategy] = LIVE_FALLBACKS,
    ) -> None:
        if fallback_after < 0 or roi_frames < 0 or roi_margin < 0:
            raise ValueError("decoder settings must not be negative")
        self._fallback_after = fallback_after
        self._roi_margin = roi_margin
        self._roi_frames = roi_frames
        self._fallbacks = tuple(fallbacks)
        self._roi: Box | None = None
        self._roi_age = 0
        self._misses = 0
        self._next_fallback = 0
        self._shape: tuple[int, ...] | None = None

    @property
    def region_of_interest(self) -> Box | None:
        return self._roi

    def reset(self) -> None:
        self._roi = None
        self._roi_age = 0
        self._misses = 0
        self._next_fallback = 0

    def decode(self, image: GrayImage) -> tuple[QrSymbol, ...]:
        """Decode one frame: the fast pass (region first), then at most one fallback strategy."""
        image = check_frame(image)
        if image.shape != self._shape:
            # A camera that changed mode, or a replay of photos of different sizes: the region belongs to the old
            # frame (cropped from a smaller one it could even be empty).
            self.reset()
            self._shape = image.shape
        full = _View(image)
        failed: list[tuple[Point, ...]] = []
        if self._roi is not None:
            decoded, failed = _read(_crop(image, self._roi), _FAST, "fast_roi")
            if decoded:
                return self._hit(decoded, image.shape)
        decoded, failed_full = _read(full, _FAST, "fast")
        if decoded:
            return self._hit(decoded, image.shape)
        failed += failed_full
        self._misses += 1
        if failed:
            # Located but not decoded: look there first next time, and give the fallback the close-up.
            self._roi = _expand(failed[0], image.shape, self._roi_margin)
            self._roi_age = 0
        elif self._roi is not None:
            self._roi_age += 1
            if self._roi_age > self._roi_frames:
                self._roi = None
        if self._misses <= self._fallback_after or not self._fallbacks:
            return ()
        strategy = self._fallbacks[self._next_fallback % len(self._fallbacks)]
        self._next_fallback += 1
        target = _crop(image, self._roi) if self._roi is not None and self._next_fallback % 2 else full
        decoded, _ = _attempt(strategy, target)
        if decoded:
            return self._hit(decoded, image.shape)
        return ()

    def _hit(self, decoded: list[QrSymbol], shape: tuple[int, int]) -> tuple[QrSymbol, ...]:
        self._misses = 0
        self._next_fallback = 0
        self._roi = _expand(decoded[0].corners, shape, self._roi_margin)
        self._roi_age = 0
        return tuple(decoded)


# ---------------------------------------------------------------------------------------------------------------
# Still images


@dataclass(frozen=True, slots=True)
class Attempt:
    """One decode attempt on a still image: the symbols decoded, and whether any symbol was located but failed."""

    strategy: str
    symbols: tuple[QrSymbol, ...]
    located: bool


def iter_decode_attempts(image: GrayImage) -> Iterator[Attempt]:
    """Every decode attempt on a still image, cheapest first.

    The fast pass; the fast pass on a pyramid of reduced copies; zxing's global binarizer; close-ups of every place a
    symbol was located but not decoded and of the places that look most like a QR code (dense two-tone texture);
    then the whole-image fallbacks, each followed by close-ups of what it newly located.
    """
    image = check_frame(image)
    base = _View(image)
    if image.size > _DECODE_PIXELS:
        reduced = resample(image, math.sqrt(_DECODE_PIXELS / image.size))
        base = _View(reduced, reduced.shape[1] / image.shape[1])
    regions = _RegionSearch(image)
    decoded, located = _read(base, _FAST, "fast")
    yield Attempt("fast", tuple(decoded), bool(located))
    levels = [base]
    while max(levels[-1].image.shape) >= 2 * _PYRAMID_SIDE:
        level = levels[-1]
        half = resample(level.image, 0.5)
        levels.append(_View(half, level.scale * half.shape[1] / level.image.shape[1]))
        decoded, failed = _read(levels[-1], _FAST, "fast_reduced")
        yield Attempt("fast_reduced", tuple(decoded), bool(failed))
        located += failed
    decoded, failed = _read(base, _Read(binarizer=_GH, downscale=True), "global_histogram")
    yield Attempt("global_histogram", tuple(decoded), bool(failed))
    located += failed
    for corners in located:
        yield from regions.close_up(_expand(corners, image.shape, 0.3))
    # The largest dense places first: a whole symbol before the parts of one that a finer level also found.
    boxes = [box for level in levels for box in _located_squares(level)]
    for box in sorted(boxes, key=lambda box: -(box[2] - box[0]) * (box[3] - box[1])):
        yield from regions.close_up(box)
    working = base
    if max(base.image.shape) > _WORKING_SIDE:
        copy = resample(base.image, _WORKING_SIDE / max(base.image.shape))
        working = _View(copy, base.scale * copy.shape[1] / base.image.shape[1])
    for strategy in FALLBACKS:
        if strategy.name == "global_histogram":
            continue
        decoded, failed = _attempt(strategy, base if strategy.name in _FULL_RESOLUTION else working)
        yield Attempt(strategy.name, tuple(decoded), bool(failed))
        for corners in failed:
            yield from regions.close_up(_expand(corners, image.shape, 0.3))


class _RegionSearch:
    """Close-ups of one still image: each place is looked at once, and at most _MAX_REGIONS places in all."""

    def __init__(self, image: GrayImage) -> None:
        self._image = image
        self._tried: list[Box] = []
        self._repairs = 0

    def close_up(self, box: Box | None) -> Iterator[Attempt]:
        if box is not None:
            height, width = self._image.shape
            box = (max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3]))
        if (
            box is None
            or box[2] - box[0] < 16
            or box[3] - box[1] < 16
            or len(self._tried) >= _MAX_REGIONS
            or any(_overlaps(box, seen) for seen in self._tried)
        ):
            return
        self._tried.append(box)
        view = _region_view(self._image, box)
        for strategy in REGION_FALLBACKS:
            decoded, failed = _attempt(strategy, view, max_side=_MAX_UPSCALED_REGION_SIDE)
            yield Attempt(strategy.name, tuple(decoded), bool(failed))
        if self._repairs < _MAX_REPAIRS:
            self._repairs += 1
            # Then wider than the close-up: a place zxing located, or the densest texture, may be only the part of
            # the symbol that glare left readable, without the finder patterns the repair starts from.
            yield from _repaired_reads(view)
            wider = _expand(((box[0], box[1]), (box[2], box[3])), self._image.shape, _REPAIR_MARGIN)
            if wider is not None and wider != box:
                yield from _repaired_reads(_region_view(self._image, wider))


def _repaired_reads(view: _View) -> Iterator[Attempt]:
    """zxing on the close-up made square from three finder patterns found (a steep tilt), then stretched one way (a
    tilt too steep for three finders to be found), then with its finder patterns repaired (enlarged first when its
    modules may be tiny)."""
    if max(view.image.shape) < 320:
        enlarged = resample(np.ascontiguousarray(view.image), 2.0)
        view = _View(enlarged, view.scale * enlarged.shape[1] / view.image.shape[1], view.offset)
    image = np.ascontiguousarray(view.image)
    dark = normalise_contrast(image) < 128
    finders = find_finder_patterns(dark)
    for rectified, affine in rectifications(image, finders):
        decoded, failed = _read(_View(rectified, view.scale, view.offset, affine), _FAST, "rectified")
        yield Attempt("rectified", tuple(decoded), bool(failed))
    yield from _stretched_reads(view)
    for repair in finder_repairs(image, dark, finders):
        # A nudged repair is one of many small variations: one binarizer each keeps their cost bounded.
        for binarizer in (_LA,) if repair.nudged else (_LA, _GH):
            decoded, failed = _read(
                _View(repair.image, view.scale, view.offset), _Read(binarizer=binarizer), "finder_repair"
            )
            yield Attempt("finder_repair", tuple(decoded), bool(failed))


def _stretched_reads(view: _View) -> Iterator[Attempt]:
    """zxing on the close-up stretched twice as wide, then twice as tall: a steep tilt squeezes the modules one way,
    often too far for zxing to find the finder patterns that would let it (or :func:`rectifications`) square them."""
    image = np.ascontiguousarray(view.image)
    height, width = image.shape
    for sx, sy in ((2, 1), (1, 2)):
        if max(width * sx, height * sy) > _MAX_UPSCALED_REGION_SIDE:
            continue
        stretched = np.asarray(Image.fromarray(image).resize((width * sx, height * sy), Image.Resampling.BICUBIC))
        back = (1 / sx, 0.0, 0.0, 0.0, 1 / sy, 0.0)  # stretched pixels to the close-up's
        decoded, failed = _read(_View(stretched, view.scale, view.offset, back), _FAST, "stretched")
        yield Attempt("stretched", tuple(decoded), bool(failed))


def _located_squares(view: _View) -> list[Box]:
    """The places of a view that look most like a QR code (:func:`dense_regions`), as boxes in frame coordinates."""
    return [
        (
            max(0, math.floor(x0 / view.scale + view.offset[0])),
            max(0, math.floor(y0 / view.scale + view.offset[1])),
            math.ceil(x1 / view.scale + view.offset[0]),
            math.ceil(y1 / view.scale + view.offset[1]),
        )
        for x0, y0, x1, y1 in dense_regions(view.image, limit=_LOCATOR_CANDIDATES)
    ]


def _region_view(image: GrayImage, box: Box) -> _View:
    """A close-up at full resolution, reduced to _REGION_SIDE when larger (large modules lose nothing)."""
    view = _crop(image, box)
    height, width = view.image.shape
    if max(height, width) <= _REGION_SIDE:
        return view
    reduced = resample(np.ascontiguousarray(view.image), _REGION_SIDE / max(height, width))
    return _View(reduced, reduced.shape[1] / width, view.offset)


def _overlaps(a: Box, b: Box) -> bool:
    """True when the boxes mostly cover the same area (the same place seen twice); a box inside a much larger one is
    a different close-up."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return union > 0 and ix * iy > 0.5 * union


def decode_image(image: GrayImage, *, accept: Callable[[QrSymbol], bool] | None = None) -> tuple[QrSymbol, ...]:
    """Decode a still image, trying harder until a symbol is accepted (default: any); () if none is."""
    for attempt in iter_decode_attempts(image):
        accepted = [symbol for symbol in attempt.symbols if accept is None or accept(symbol)]
        if accepted:
            return tuple(accepted)
    return ()


# Strategies that add to the picture rather than only transform it.
_PAINTED = frozenset({"finder_repair"})


def read_cccd_qr(image: GrayImage, *, today: dt.date | None = None) -> CccdQr:
    """Find, decode and validate the CCCD QR in a still image.

    Raises :class:`QrDecodeError` when no symbol could be decoded (``no_qr``, or ``qr_unreadable`` when one was
    located) or two different CCCD QRs are in view (``ambiguous``), and :class:`CccdQrError` when the only symbols
    decoded are not valid CCCD QRs (the first one's reason).
    """
    rejected: list[CccdQrError] = []
    located = False
    for attempt in iter_decode_attempts(image):
        located = located or attempt.located
        valid: dict[CccdQr, None] = {}
        for symbol in attempt.symbols:
            try:
                valid[parse_cccd_qr(symbol.raw, today=today)] = None
            except CccdQrError as exc:
                if symbol.strategy in _PAINTED:
                    # Painted-in finder patterns can frame a small symbol that is not on the card (its error
                    # correction happens to check out): a CCCD QR is kept, anything else only says one was seen.
                    located = True
                    continue
                rejected.append(exc)
        if len(valid) > 1:
            raise QrDecodeError(DecodeFailure.AMBIGUOUS, "more than one CCCD QR code in view")
        if valid:
            return next(iter(valid))
    if rejected:
        raise rejected[0]
    if located:
        raise QrDecodeError(DecodeFailure.UNREADABLE, "a QR code was found but could not be decoded")
    raise QrDecodeError(DecodeFailure.NO_QR, "no QR code found in the image")
