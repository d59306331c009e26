"""The hardware boundary: card readers (PC/SC and in-process) behind a small protocol, and the simulators.

The virtual CCCD chip and the synthetic population are in :mod:`hw.sim`. Cameras are frame sources (Picamera2, OpenCV,
image files and folders, synthetic card images) behind :class:`FrameSource`.
"""

from hw._camera import (
    BaseFrameSource,
    CameraError,
    CameraUnavailable,
    Frame,
    FrameError,
    FrameSource,
)
from hw._camera_files import FolderSource, ImageFileSource, load_gray_image
from hw._camera_opencv import OpenCVSource
from hw._camera_picamera import PiCamera2Source
from hw._camera_spec import open_camera
from hw._camera_synthetic import SyntheticSource
from hw._reader import (
    CardConnection,
    CardReader,
    CardRemoved,
    HwError,
    NoCard,
    ReaderError,
    ReaderEvent,
    ReaderState,
    ReaderUnavailable,
    atr_supports_extended_length,
)
from hw._reader_memory import MemoryReader
from hw._reader_pcsc import PcscReader, list_pcsc_readers
from hw._reader_pcscd import PcscDaemon
from hw._reader_session import (
    CardVerification,
    PrintedQr,
    QrSupport,
    keys_from_id,
    read_and_verify,
    wait_for_card,
)
from hw._synthetic_card import (
    CardLayout,
    CardScene,
    Degradation,
    SyntheticCitizen,
    qr_modules,
    random_scene,
    render_card,
    synthetic_citizen,
)
from hw._synthetic_photo import (
    PHOTO_SIZES,
    Finger,
    PhotoFamily,
    PhotoGeometry,
    PhotoScene,
    photo_geometry,
    random_photo,
    render_photo,
)

__all__ = [
    "PHOTO_SIZES",
    "BaseFrameSource",
    "CameraError",
    "CameraUnavailable",
    "CardConnection",
    "CardLayout",
    "CardReader",
    "CardRemoved",
    "CardScene",
    "CardVerification",
    "Degradation",
    "Finger",
    "FolderSource",
    "Frame",
    "FrameError",
    "FrameSource",
    "HwError",
    "ImageFileSource",
    "MemoryReader",
    "NoCard",
    "OpenCVSource",
    "PcscDaemon",
    "PcscReader",
    "PhotoFamily",
    "PhotoGeometry",
    "PhotoScene",
    "PiCamera2Source",
    "PrintedQr",
    "QrSupport",
    "ReaderError",
    "ReaderEvent",
    "ReaderState",
    "ReaderUnavailable",
    "SyntheticCitizen",
    "SyntheticSource",
    "atr_supports_extended_length",
    "keys_from_id",
    "list_pcsc_readers",
    "load_gray_image",
    "open_camera",
    "photo_geometry",
    "qr_modules",
    "random_photo",
    "random_scene",
    "read_and_verify",
    "render_card",
    "render_photo",
    "synthetic_citizen",
    "wait_for_card",
]
