"""The Raspberry Pi camera through Picamera2.

Picamera2 and its libcamera bindings come from Raspberry Pi OS's apt (``python3-picamera2``); the PyPI wheel does not
import off a Pi. The terminal's venv is therefore created with ``--system-site-packages`` on a Pi, and the module is
imported only when this source opens. The stream is YUV420: its first plane is the luma, i.e. the grayscale frame,
with no conversion cost.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from hw._camera import BaseFrameSource, CameraError, CameraUnavailable, Clock, Frame

CameraFactory = Callable[[int], Any]


def _default_factory(camera_num: int) -> Any:
    try:
        module = importlib.import_module("picamera2")
    except ImportError as exc:
        raise CameraUnavailable(
            "picamera2 is not available: on Raspberry Pi OS run 'sudo apt install python3-picamera2' and create the "
            "venv with --system-site-packages"
        ) from exc
    try:
        return module.Picamera2(camera_num)
    except (RuntimeError, IndexError, OSError) as exc:
        raise CameraUnavailable(f"no Raspberry Pi camera {camera_num}: {exc}") from exc


class PiCamera2Source(BaseFrameSource):
    """Frames from a Raspberry Pi camera (continuous autofocus where the module has it).

    ``factory`` builds the ``Picamera2`` object from a camera number; tests pass a fake.
    """

    def __init__(
        self,
        *,
        size: tuple[int, int] = (1280, 720),
        camera_num: int = 0,
        autofocus: bool = True,
        factory: CameraFactory = _default_factory,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock=clock)
        self._size = size
        self._camera_num = camera_num
        self._autofocus = autofocus
        self._factory = factory
        self._camera: Any = None

    def _open(self) -> Any:
        camera = self._factory(self._camera_num)
        try:
            config = camera.create_video_configuration(main={"size": self._size, "format": "YUV420"})
            camera.configure(config)
            camera.start()
        except Exception as exc:
            camera.close()
            raise CameraUnavailable(f"cannot start the Raspberry Pi camera: {exc}") from exc
        if self._autofocus:
            self._enable_autofocus(camera)
        return camera

    @staticmethod
    def _enable_autofocus(camera: Any) -> None:
        # Only Camera Module 3 and similar have autofocus; a fixed-focus module refuses the control, which is fine.
        try:
            controls = importlib.import_module("libcamera").controls
            camera.set_controls({"AfMode": controls.AfModeEnum.Continuous})
        except (ImportError, AttributeError, RuntimeError, KeyError):
            pass

    async def _frames(self) -> AsyncIterator[Frame]:
        if self._camera is None:
            self._camera = await asyncio.to_thread(self._open)
        width, height = self._size
        while not self._closed:
            try:
                array = await asyncio.to_thread(self._camera.capture_array, "main")
            except Exception as exc:
                raise CameraError(f"the Raspberry Pi camera stopped delivering frames: {exc}") from exc
            # YUV420 planar: the first `height` rows are the Y plane (rows may be padded beyond `width`).
            yield self._frame(array[:height, :width])

    async def aclose(self) -> None:
        await super().aclose()
        camera, self._camera = self._camera, None
        if camera is not None:
            await asyncio.to_thread(_stop_and_close, camera)


def _stop_and_close(camera: Any) -> None:
    try:
        camera.stop()
    finally:
        camera.close()
