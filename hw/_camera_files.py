"""Frames from image files and folders: replay for tests, demos and offline decoding. Needs only Pillow and numpy."""

from __future__ import annotations

import asyncio
import functools
import logging
import stat
import struct
import time
import warnings
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from hw._camera import (
    ARRAY_SUFFIXES,
    IMAGE_SUFFIXES,
    MAX_FRAME_PIXELS,
    BaseFrameSource,
    CameraUnavailable,
    Clock,
    Frame,
    FrameError,
    GrayImage,
    to_gray,
)

_log = logging.getLogger(__name__)
# A .npy frame is a raw array; refuse headers that promise more than the largest frame we accept.
_MAX_NPY_BYTES = MAX_FRAME_PIXELS * 4 + 4096


def load_gray_image(path: Path, *, max_pixels: int = MAX_FRAME_PIXELS) -> GrayImage:
    """Read an image (any format Pillow reads, and HEIC; EXIF orientation applied) or a ``.npy`` array as 2-D uint8.

    Colour, palette, CMYK, 16-bit, 32-bit and floating-point images become 8-bit grey; transparent pixels become white
    (a QR on a transparent background stays readable). A JPEG larger than ``max_pixels`` (a 108-megapixel phone photo)
    is decoded at the largest of 1/2, 1/4 or 1/8 scale that fits, which the JPEG decoder does at a fraction of the
    cost; any other image beyond ``max_pixels`` is refused. Raises :class:`FrameError` for anything unreadable,
    oversized or not an image.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise FrameError(f"{path.name}: cannot be read ({exc.strerror})") from exc
    if not stat.S_ISREG(mode):
        # A pipe or a device would block the read (or never end): a frame comes from a regular file only.
        raise FrameError(f"{path.name}: not a regular file")
    if path.suffix.lower() in ARRAY_SUFFIXES:
        return _load_npy(path, max_pixels=max_pixels)
    _register_heif()
    try:
        with warnings.catch_warnings():
            # Our own bound replaces Pillow's bomb warning; its hard error (beyond ~179 MP) still applies. Pillow warns
            # about corrupt metadata (EXIF, ICC) and carries on; a file it cannot decode still raises.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width < 1 or height < 1:
                    raise FrameError(f"{path.name}: {width}x{height} pixels is out of range")
                if width * height > max_pixels:
                    _reduce_on_load(opened, path, max_pixels=max_pixels)
                opened.load()
                if opened.size[0] * opened.size[1] > 2 * max_pixels:
                    raise _too_large(path, width, height, max_pixels)
                image = _upright(opened)
                return _to_gray_pil(image)
    except FrameError:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow's own bound, checked from the header before any pixel is decoded.
        raise FrameError(f"{path.name}: too large to decode safely ({exc})") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        # SyntaxError: some Pillow plugins raise it for malformed headers.
        raise FrameError(f"{path.name}: not a readable image ({type(exc).__name__})") from exc


def _too_large(path: Path, width: int, height: int, max_pixels: int) -> FrameError:
    return FrameError(
        f"{path.name}: {width}x{height} pixels is more than the {max_pixels / 1e6:g}-megapixel limit for images"
    )


def image_files(folder: Path) -> list[Path]:
    """The images (by suffix) directly in ``folder``, sorted by name: sub-folders are not searched."""
    return sorted(
        path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES | ARRAY_SUFFIXES
    )


@functools.cache
def _register_heif() -> None:
    # HEIC is what iPhones save by default; the plugin (30 ms to import) is loaded on the first image file, not at
    # every start of the command. Where it is not installed, HEIC files are unreadable images like any other.
    try:
        import pillow_heif  # noqa: PLC0415
    except ImportError:
        _log.debug("pillow-heif is not installed: HEIC photos cannot be read")
        return
    pillow_heif.register_heif_opener()


def _reduce_on_load(opened: Image.Image, path: Path, *, max_pixels: int) -> None:
    """Ask the JPEG decoder for a reduced image that fits ``max_pixels``, or refuse the file."""
    width, height = opened.size
    if opened.format == "JPEG":
        for scale in (2, 4, 8):
            if (width // scale) * (height // scale) <= max_pixels:
                opened.draft(opened.mode, (width // scale, height // scale))
                return
    raise _too_large(path, width, height, max_pixels)


def _upright(image: Image.Image) -> Image.Image:
    """The image as a viewer shows it (EXIF orientation applied); a malformed EXIF block is ignored, not fatal."""
    try:
        return ImageOps.exif_transpose(image)
    except (KeyError, TypeError, ValueError, SyntaxError, struct.error, ZeroDivisionError):
        _log.debug("ignoring an unreadable EXIF orientation")
        return image


def _to_gray_pil(image: Image.Image) -> GrayImage:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        finite = array[np.isfinite(array)]
        top = float(finite.max()) if finite.size else 0.0
        if image.mode == "F" and 0.0 < top <= 1.0:
            scaled = array * 255.0  # floating-point images usually hold 0..1
        else:
            scaled = array * (255.0 / top) if top > 255 else array
        return np.ascontiguousarray(np.clip(np.nan_to_num(scaled), 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("L"), dtype=np.uint8))


def _load_npy(path: Path, *, max_pixels: int) -> GrayImage:
    try:
        if path.stat().st_size > _MAX_NPY_BYTES:
            raise FrameError(f"{path.name}: array file too large")
        array = np.load(path, allow_pickle=False)
    except FrameError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise FrameError(f"{path.name}: not a readable .npy array ({type(exc).__name__})") from exc
    if not isinstance(array, np.ndarray) or array.ndim not in (2, 3) or array.shape[0] * array.shape[1] > max_pixels:
        raise FrameError(f"{path.name}: not an image array")
    return np.ascontiguousarray(to_gray(array))


class ImageFileSource(BaseFrameSource):
    """Frames from a list of image files, in order; optionally looping and paced at ``fps``.

    An unreadable file raises :class:`FrameError`, or is skipped with ``skip_unreadable``.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        loop: bool = False,
        fps: float | None = None,
        skip_unreadable: bool = False,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock=clock)
        if fps is not None and fps <= 0:
            raise ValueError("fps must be positive")
        self._paths = tuple(Path(path) for path in paths)
        self._loop = loop
        self._period = None if fps is None else 1.0 / fps
        self._skip = skip_unreadable

    @property
    def paths(self) -> tuple[Path, ...]:
        return self._paths

    async def _frames(self) -> AsyncIterator[Frame]:
        while not self._closed:
            delivered = False
            for path in self._paths:
                if self._closed:
                    return
                try:
                    image = await asyncio.to_thread(load_gray_image, path)
                except FrameError:
                    if not self._skip:
                        raise
                    _log.warning("skipping unreadable frame file %s", path.name)
                    continue
                delivered = True
                yield self._frame(image)
                if self._period is not None:
                    await asyncio.sleep(self._period)
            if not self._loop or not delivered:
                return


class FolderSource(ImageFileSource):
    """Every image (and ``.npy``) file of a folder, in name order: a recorded camera session replayed."""

    def __init__(
        self,
        folder: Path,
        *,
        loop: bool = False,
        fps: float | None = None,
        skip_unreadable: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise CameraUnavailable(f"{folder} is not a folder")
        super().__init__(image_files(folder), loop=loop, fps=fps, skip_unreadable=skip_unreadable, clock=clock)
