"""Camera specs as the command line takes them: picamera, 0, /dev/video0, a file, a folder, synthetic."""

from __future__ import annotations

import time
from pathlib import Path

from hw._camera import ARRAY_SUFFIXES, IMAGE_SUFFIXES, CameraUnavailable, Clock, FrameSource
from hw._camera_files import FolderSource, ImageFileSource
from hw._camera_opencv import OpenCVSource
from hw._camera_picamera import PiCamera2Source
from hw._camera_synthetic import SyntheticSource


def open_camera(spec: str, *, clock: Clock = time.monotonic, fps: float | None = None) -> FrameSource:
    """A frame source from a spec.

    ``picamera`` / ``picamera:1280x720`` (Raspberry Pi camera), ``0`` or ``/dev/video0`` (USB/V4L2 via OpenCV),
    ``synthetic`` / ``synthetic:SEED`` (rendered cards), a folder of images (replayed in name order), an image or
    ``.npy`` file, or any other file (a video, via OpenCV). ``fps`` paces replayed sources.
    """
    spec = spec.strip()
    if not spec:
        raise CameraUnavailable("empty camera spec")
    head, _, tail = spec.partition(":")
    if head == "picamera":
        size = _parse_size(tail) if tail else (1280, 720)
        return PiCamera2Source(size=size, clock=clock)
    if head == "synthetic":
        try:
            seed = int(tail) if tail else 0
        except ValueError as exc:
            raise CameraUnavailable("synthetic camera spec is synthetic:SEED with an integer seed") from exc
        return SyntheticSource(seed=seed, clock=clock, fps=fps)
    if spec.isdigit():
        return OpenCVSource(int(spec), clock=clock)
    if spec.startswith("/dev/video"):
        return OpenCVSource(spec, clock=clock)
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path, clock=clock, fps=fps)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES | ARRAY_SUFFIXES:
            return ImageFileSource([path], clock=clock, fps=fps)
        return OpenCVSource(str(path), clock=clock)
    raise CameraUnavailable(f"no camera, file or folder matches {spec!r}")


def _parse_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise CameraUnavailable("camera size is WIDTHxHEIGHT, e.g. 1280x720")
    size = int(width), int(height)
    if not (64 <= size[0] <= 8192 and 64 <= size[1] <= 8192):
        raise CameraUnavailable("camera size out of range")
    return size
