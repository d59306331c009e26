"""The camera boundary: grayscale frames with timestamps, as an async iterator, whatever produces them.

Real adapters (Picamera2 on a Raspberry Pi, OpenCV for USB/V4L2 cameras and video files) and replay/simulated
sources (image files, folders, synthetic card images) all satisfy :class:`FrameSource`; ``hw.open_camera`` builds
one from a short textual spec, as the command line takes it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt

from hw._reader import HwError

GrayImage = npt.NDArray[np.uint8]
Clock = Callable[[], float]

IMAGE_SUFFIXES: Final = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".pgm", ".ppm", ".pnm", ".tif", ".tiff", ".webp"}
    | {".heic", ".heif", ".avif"}
)
ARRAY_SUFFIXES: Final = frozenset({".npy"})
# Refuse anything larger than a 64-megapixel phone photo: a frame from a file is hostile input.
MAX_FRAME_PIXELS: Final = 64_000_000


class CameraError(HwError):
    """Base class of the camera boundary's errors."""


class CameraUnavailable(CameraError):
    """The camera (or its driver library, file or folder) cannot be opened: an environment problem."""


class FrameError(CameraError):
    """A frame or image file is unreadable or not a sane grayscale image."""


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One grayscale frame: a 2-D uint8 array, when it was captured (seconds, monotonic; for a video file, its
    position in the video, so that a replay keeps the recording's timing however fast it is decoded), and its
    index in the stream."""

    image: GrayImage
    timestamp: float
    index: int = 0

    def __post_init__(self) -> None:
        image = self.image
        if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8:
            raise FrameError("a frame must be a 2-D uint8 grayscale array")
        if image.size == 0 or image.size > MAX_FRAME_PIXELS:
            raise FrameError(f"frame of {image.shape[1]}x{image.shape[0]} pixels is out of range")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return int(self.image.shape[1]), int(self.image.shape[0])


@runtime_checkable
class FrameSource(Protocol):
    """An async iterator of :class:`Frame` that must be closed (``aclose`` or ``async with``)."""

    def __aiter__(self) -> AsyncIterator[Frame]: ...

    async def aclose(self) -> None: ...


class BaseFrameSource:
    """Shared plumbing: ``async with`` support, and one frame iterator per source."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._closed = False
        self._index = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[Frame]:
        if self._closed:
            raise CameraError("the frame source is closed")
        return self._frames()

    async def aclose(self) -> None:
        self._closed = True

    def _frames(self) -> AsyncIterator[Frame]:
        raise NotImplementedError

    def _frame(self, image: GrayImage, *, timestamp: float | None = None) -> Frame:
        """The next frame; ``timestamp`` for a replay on its own timeline, else the clock's time now."""
        frame = Frame(image=image, timestamp=self._clock() if timestamp is None else timestamp, index=self._index)
        self._index += 1
        return frame


def to_gray(image: npt.NDArray[np.generic]) -> GrayImage:
    """A grayscale uint8 view of a 2-D or 3-channel (BGR/RGB order does not matter much for a QR) array."""
    if image.ndim == 2 and image.dtype == np.uint8:
        return np.asarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] in (3, 4) and image.dtype == np.uint8:
        # ITU-R BT.601 luma, channel order agnostic enough for black-and-white print; alpha ignored.
        rgb = image[:, :, :3].astype(np.float32)
        return np.clip(rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32), 0, 255).astype(np.uint8)
    raise FrameError(f"unsupported frame array: shape {image.shape}, dtype {image.dtype}")
