"""Camera sources: one contract (async iterator of grayscale frames with timestamps) over every implementation."""

from __future__ import annotations

import itertools
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from hw import (
    CameraError,
    CameraUnavailable,
    FolderSource,
    Frame,
    FrameError,
    FrameSource,
    ImageFileSource,
    OpenCVSource,
    PiCamera2Source,
    SyntheticSource,
    load_gray_image,
    open_camera,
)
from hw._camera_files import image_files


def _ticks() -> Any:
    counter = itertools.count()
    return lambda: float(next(counter))


async def _collect(source: FrameSource, limit: int = 100) -> list[Frame]:
    frames = []
    async with source:  # type: ignore[attr-defined]
        async for frame in source:
            frames.append(frame)
            if len(frames) >= limit:
                break
    return frames


def _gradient(width: int = 64, height: int = 48) -> np.ndarray:
    return np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))


# --- Frame ----------------------------------------------------------------------------------------------------------


def test_frame_holds_a_2d_uint8_image() -> None:
    frame = Frame(image=_gradient(), timestamp=1.5, index=3)
    assert frame.size == (64, 48)
    for bad in (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint16), np.zeros((0, 4), np.uint8), [[0]]):
        with pytest.raises(FrameError):
            Frame(image=bad, timestamp=0.0)  # type: ignore[arg-type]


# --- image files ----------------------------------------------------------------------------------------------------


def test_load_gray_image_reads_common_formats(tmp_path: Path) -> None:
    gray = _gradient()
    Image.fromarray(gray).save(tmp_path / "g.png")
    Image.fromarray(np.dstack([gray] * 3)).save(tmp_path / "rgb.bmp")
    np.save(tmp_path / "a.npy", gray)
    np.save(tmp_path / "c.npy", np.dstack([gray] * 3))
    assert np.array_equal(load_gray_image(tmp_path / "g.png"), gray)
    assert np.abs(load_gray_image(tmp_path / "rgb.bmp").astype(int) - gray).max() <= 1
    assert np.array_equal(load_gray_image(tmp_path / "a.npy"), gray)
    assert np.abs(load_gray_image(tmp_path / "c.npy").astype(int) - gray).max() <= 1


def test_transparent_pixels_become_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[:5, :, 3] = 255  # top half opaque black, bottom half fully transparent
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "t.png")
    image = load_gray_image(tmp_path / "t.png")
    assert image[0, 0] == 0
    assert image[9, 9] == 255


def test_sixteen_bit_images_are_scaled(tmp_path: Path) -> None:
    deep = (np.linspace(0, 65535, 64, dtype=np.uint16)[None, :]).repeat(8, axis=0)
    Image.fromarray(deep).save(tmp_path / "d.png")
    image = load_gray_image(tmp_path / "d.png")
    assert image.dtype == np.uint8
    assert image[0, 0] == 0
    assert image[0, -1] == 255


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = Image.fromarray(_gradient(64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    image.save(tmp_path / "r.jpg", exif=exif, quality=95)
    assert load_gray_image(tmp_path / "r.jpg").shape == (64, 32)


@pytest.mark.parametrize(
    "content",
    [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", b"\xff\xd8\xff\xe0garbage"],
)
def test_hostile_files_give_frame_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(FrameError):
        load_gray_image(path)


def test_a_pipe_or_a_folder_is_refused_without_blocking(tmp_path: Path) -> None:
    """Opening a named pipe for reading blocks until a writer comes: it must be refused before it is opened."""
    pipe = tmp_path / "frame.jpg"
    os.mkfifo(pipe)
    with pytest.raises(FrameError, match="not a regular file"):
        load_gray_image(pipe)
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(FrameError, match="not a regular file"):
        load_gray_image(tmp_path / "folder.png")
    with pytest.raises(FrameError, match="cannot be read"):
        load_gray_image(tmp_path / "missing.png")


def test_gif_frames_are_read_and_listed(tmp_path: Path) -> None:
    Image.fromarray(_gradient()).save(tmp_path / "g.gif")
    assert load_gray_image(tmp_path / "g.gif").shape == _gradient().shape
    assert image_files(tmp_path) == [tmp_path / "g.gif"]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header promises width x height pixels, with no pixel data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_oversized_and_pickled_arrays_are_refused(tmp_path: Path) -> None:
    Image.fromarray(_gradient(200, 200)).save(tmp_path / "big.png")
    with pytest.raises(FrameError, match=r"200x200 pixels is more than the 0\.001-megapixel limit"):
        load_gray_image(tmp_path / "big.png", max_pixels=1000)
    (tmp_path / "bomb.png").write_bytes(_png_header_only(60_000, 60_000))
    with pytest.raises(FrameError, match="too large to decode safely"):
        load_gray_image(tmp_path / "bomb.png")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FrameError):
        load_gray_image(tmp_path / "o.npy")
    np.save(tmp_path / "v.npy", np.zeros(10, np.uint8))
    with pytest.raises(FrameError):
        load_gray_image(tmp_path / "v.npy")
    with pytest.raises(FrameError):
        load_gray_image(tmp_path / "missing.png")


async def test_image_file_source_yields_frames_in_order_with_timestamps(tmp_path: Path) -> None:
    paths = []
    for index in range(3):
        Image.fromarray(np.full((20, 30), index * 50, np.uint8)).save(tmp_path / f"{index}.png")
        paths.append(tmp_path / f"{index}.png")
    source = ImageFileSource(paths, clock=_ticks())
    assert isinstance(source, FrameSource)
    frames = await _collect(source)
    assert [int(frame.image[0, 0]) for frame in frames] == [0, 50, 100]
    assert [frame.index for frame in frames] == [0, 1, 2]
    assert [frame.timestamp for frame in frames] == [0.0, 1.0, 2.0]
    looping = await _collect(ImageFileSource(paths, loop=True), limit=7)
    assert [int(frame.image[0, 0]) for frame in looping] == [0, 50, 100, 0, 50, 100, 0]


async def test_unreadable_files_raise_or_are_skipped(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"broken")
    with pytest.raises(FrameError):
        await _collect(ImageFileSource([tmp_path / "a.png", tmp_path / "b.png"]))
    frames = await _collect(ImageFileSource([tmp_path / "b.png", tmp_path / "a.png"], skip_unreadable=True))
    assert len(frames) == 1


async def test_folder_source_replays_images_in_name_order(tmp_path: Path) -> None:
    for name, value in (("002.png", 2), ("001.jpg", 1), ("010.npy", 10), ("notes.txt", 0)):
        if name.endswith(".npy"):
            np.save(tmp_path / name, np.full((8, 8), value, np.uint8))
        elif name.endswith(".txt"):
            (tmp_path / name).write_text("not a frame")
        else:
            Image.fromarray(np.full((8, 8), value, np.uint8)).save(tmp_path / name)
    (tmp_path / "003.png").write_bytes(b"corrupt")
    frames = await _collect(FolderSource(tmp_path))
    assert [int(frame.image[0, 0]) for frame in frames] == [1, 2, 10]
    with pytest.raises(CameraUnavailable):
        FolderSource(tmp_path / "nope")


# --- OpenCV -----------------------------------------------------------------------------------------------------------


def _write_video(path: Path, count: int) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for index in range(count):
        writer.write(np.full((48, 64, 3), 20 + 40 * index, np.uint8))
    writer.release()


async def test_opencv_source_replays_a_video_file_as_grayscale(tmp_path: Path) -> None:
    _write_video(tmp_path / "v.avi", 5)
    frames = await _collect(OpenCVSource(str(tmp_path / "v.avi"), clock=_ticks()))
    assert len(frames) == 5
    assert all(frame.image.ndim == 2 and frame.size == (64, 48) for frame in frames)
    levels = [int(frame.image.mean()) for frame in frames]
    assert levels == sorted(levels)
    assert abs(levels[0] - 20) < 8


async def test_opencv_source_that_cannot_open_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "v.avi").write_bytes(b"not a video")
    with pytest.raises(CameraUnavailable):
        await _collect(OpenCVSource(str(tmp_path / "v.avi")))


# --- Picamera2 (a fake camera object through the factory seam) -------------------------------------------------------


class FakePicamera2:
    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self.started = self.stopped = self.closed = False
        self.config: dict[str, Any] = {}
        self.captured = 0

    def create_video_configuration(self, *, main: dict[str, Any]) -> dict[str, Any]:
        return {"main": main}

    def configure(self, config: dict[str, Any]) -> None:
        self.config = config

    def start(self) -> None:
        self.started = True

    def set_controls(self, controls: dict[str, Any]) -> None:
        raise RuntimeError("fixed-focus module")

    def capture_array(self, stream: str) -> np.ndarray:
        assert stream == "main"
        self.captured += 1
        # YUV420 planar with row padding: Y plane (h rows) then U and V (h/2 rows), padded to 64 columns.
        array = np.full((self.height * 3 // 2, 64), 7, np.uint8)
        array[: self.height, : self.width] = self.captured
        return array

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        self.closed = True


async def test_picamera2_source_takes_the_luma_plane() -> None:
    fake = FakePicamera2(height=24, width=40)
    source = PiCamera2Source(size=(40, 24), factory=lambda number: fake, clock=_ticks())
    frames = await _collect(source, limit=3)
    assert fake.config == {"main": {"size": (40, 24), "format": "YUV420"}}
    assert [frame.size for frame in frames] == [(40, 24)] * 3
    assert [int(frame.image.max()) for frame in frames] == [1, 2, 3]
    assert fake.stopped
    assert fake.closed


async def test_picamera2_without_the_library_is_unavailable() -> None:
    def missing(number: int) -> Any:
        raise CameraUnavailable("picamera2 is not available")

    with pytest.raises(CameraUnavailable):
        await _collect(PiCamera2Source(factory=missing))


# --- synthetic ------------------------------------------------------------------------------------------------------


async def test_synthetic_source_shows_each_card_for_several_frames() -> None:
    texts = ["001099012345||Nguyễn Văn An|01011999|Nam|Hà Nội|15082021"]
    source = SyntheticSource(seed=1, texts=texts, cards=2, frames_per_card=3, gap_frames=1, frame_size=(320, 240))
    frames = await _collect(source)
    assert len(frames) == 2 * (3 + 1)
    assert source.shown == texts * 2
    assert all(frame.size == (320, 240) for frame in frames)
    # Consecutive frames of one card differ (noise, jitter), and the stream is deterministic.
    assert not np.array_equal(frames[0].image, frames[1].image)
    again = await _collect(
        SyntheticSource(seed=1, texts=texts, cards=2, frames_per_card=3, gap_frames=1, frame_size=(320, 240))
    )
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, again, strict=True))


async def test_closed_source_refuses_to_iterate() -> None:
    source = SyntheticSource(cards=1)
    await source.aclose()
    with pytest.raises(CameraError):
        source.__aiter__()


# --- specs ----------------------------------------------------------------------------------------------------------


def test_open_camera_understands_every_spec(tmp_path: Path) -> None:
    Image.fromarray(_gradient()).save(tmp_path / "a.png")
    _write_video(tmp_path / "v.avi", 1)
    assert isinstance(open_camera("synthetic:7"), SyntheticSource)
    assert isinstance(open_camera("synthetic"), SyntheticSource)
    assert isinstance(open_camera("picamera:640x480"), PiCamera2Source)
    assert isinstance(open_camera("0"), OpenCVSource)
    assert isinstance(open_camera("/dev/video2"), OpenCVSource)
    assert isinstance(open_camera(str(tmp_path)), FolderSource)
    assert isinstance(open_camera(str(tmp_path / "a.png")), ImageFileSource)
    assert isinstance(open_camera(str(tmp_path / "v.avi")), OpenCVSource)
    for bad in ("", "synthetic:x", "picamera:big", "picamera:10x10", str(tmp_path / "none.png")):
        with pytest.raises(CameraUnavailable):
            open_camera(bad)
