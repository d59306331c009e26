"""USB/V4L2 cameras and video files through OpenCV (the optional ``camera`` extra: opencv-python-headless).

OpenCV is imported when a source opens, so the rest of the terminal runs without it. ``VideoCapture.read`` blocks,
so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hw._camera import BaseFrameSource, CameraError, CameraUnavailable, Clock, Frame, to_gray

# A live camera that returns this many empty reads in a row has gone away (unplugged, or taken by another process).
_MAX_FAILED_READS = 30
_log = logging.getLogger(__name__)


class OpenCVSource(BaseFrameSource):
    """Frames from ``cv2.VideoCapture``: a device index (``0``), a device path (``/dev/video0``) or a video file.

    A video file ends the iteration at its end; a live camera that stops delivering raises :class:`CameraError`.
    ``width``/``height``/``fps`` are requests the driver may round.
    """

    def __init__(
        self,
        device: int | str,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock=clock)
        self._device = device
        self._size = (width, height)
        self._fps = fps
        self._is_file = isinstance(device, str) and not device.startswith("/dev/") and Path(device).is_file()
        self._capture: Any = None

    def _open(self) -> Any:
        try:
            cv2 = importlib.import_module("cv2")
        except ImportError as exc:
            raise CameraUnavailable(
                "OpenCV is not installed: install the camera extra (pip install 'cccd-edge[camera]')"
            ) from exc
        capture = cv2.VideoCapture(self._device)
        if not capture.isOpened():
            capture.release()
            raise CameraUnavailable(f"cannot open camera or video {self._device!r}")
        width, height = self._size
        if width is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height is not None:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if self._fps is not None:
            capture.set(cv2.CAP_PROP_FPS, self._fps)
        return capture

    async def _frames(self) -> AsyncIterator[Frame]:
        if self._capture is None:
            self._capture = await asyncio.to_thread(self._open)
        failed = skipped = 0
        while not self._closed:
            ok, image = await asyncio.to_thread(self._capture.read)
            if not ok or image is None:
                failed += 1
                if self._is_file:
                    # A damaged stretch of a file fails a few reads and the decoder resynchronises after it; only
                    # reads failing on and on (or past the last frame) are the end.
                    if failed >= _MAX_FAILED_READS or self._past_the_end():
                        if skipped:
                            _log.warning("%s: %d unreadable frame(s) skipped", self._device, skipped)
                        return
                    skipped += 1
                    continue
                if failed >= _MAX_FAILED_READS:
                    raise CameraError(f"camera {self._device!r} stopped delivering frames")
                await asyncio.sleep(0.01)
                continue
            failed = 0
            yield self._frame(to_gray(image), timestamp=self._position() if self._is_file else None)

    def _past_the_end(self) -> bool:
        cv2 = importlib.import_module("cv2")
        count = float(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        return count <= 0 or float(self._capture.get(cv2.CAP_PROP_POS_FRAMES)) >= count

    def _position(self) -> float:
        """Where the frame just read sits in the video (seconds): its timestamp, else its number over the rate."""
        cv2 = importlib.import_module("cv2")
        milliseconds = self._capture.get(cv2.CAP_PROP_POS_MSEC)
        if milliseconds > 0:
            return float(milliseconds) / 1000.0
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        return self._index / fps if fps > 0 else float(self._index)

    async def aclose(self) -> None:
        await super().aclose()
        capture, self._capture = self._capture, None
        if capture is not None:
            await asyncio.to_thread(capture.release)
