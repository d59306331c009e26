"""QR decode latency per frame, zxing-cpp (our passes) against OpenCV's QRCodeDetector, on the same frames.

Frames are synthetic card captures (hw's renderer) at 640x480 and 1280x720: clean, degraded (one dominant
degradation each: small code, angle, perspective, blur, motion, noise, glare, uneven light, low contrast, JPEG) and
hard (two strong degradations at once). ``live_roi_tracking`` is the terminal's per-frame path (fast pass in the
region of interest that follows a card held in front of the camera).
``photos`` are phone and webcam photos of cards (``hw.random_photo``: 1 to 12 megapixels, saved as JPEG files and
loaded as ``cccd qr decode`` loads them), ``--photos`` per family of trouble: the share each method decodes, per
family and per resolution, and the latency per photo (file loading counted apart).
Everything runs pinned to one core with OpenCV limited to one thread. Prints JSON.

    .venv/bin/python bench/qr_decode.py [--frames 40] [--repeat 3] [--photos 8] [--only photos]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import zxingcpp

from agent import CccdQrError, QrDecodeError, QrDecoder, decode_image, read_cccd_qr
from hw import (
    PHOTO_SIZES,
    CardScene,
    Degradation,
    PhotoFamily,
    load_gray_image,
    qr_modules,
    random_photo,
    random_scene,
    render_card,
    render_photo,
    synthetic_citizen,
)

SIZES = ((640, 480), (1280, 720))


def _harder(scene: CardScene, index: int) -> CardScene:
    """Two degradations at the hard end at once: what a careless operator with a cheap camera produces."""
    rng = random.Random(index)
    modules = qr_modules(scene.text)
    for kind in rng.sample(["small", "blur", "motion", "noise", "glare", "light", "contrast", "jpeg", "tilt"], 2):
        if kind == "small":
            scene = replace(scene, qr_px=rng.uniform(1.8, 2.4) * modules)
        elif kind == "blur":
            scene = replace(scene, blur_sigma=rng.uniform(0.35, 0.5) * scene.qr_px / modules)
        elif kind == "motion":
            scene = replace(scene, motion_blur_px=rng.uniform(0.9, 1.3) * scene.qr_px / modules)
        elif kind == "noise":
            scene = replace(scene, noise_sigma=rng.uniform(22, 35))
        elif kind == "glare":
            scene = replace(scene, glare=rng.uniform(0.7, 1.0), glare_center=scene.center, glare_radius=0.08)
        elif kind == "light":
            scene = replace(scene, lighting=rng.uniform(0.75, 0.9), brightness=0.7)
        elif kind == "contrast":
            scene = replace(scene, contrast=rng.uniform(0.1, 0.18))
        elif kind == "jpeg":
            scene = replace(scene, jpeg_quality=rng.randint(8, 20))
        else:
            scene = replace(scene, perspective=rng.uniform(0.4, 0.55))
    return scene


def frames_for(size: tuple[int, int], *, condition: str, count: int) -> tuple[list[np.ndarray], list[bytes]]:
    images, truths = [], []
    kinds = [kind for kind in Degradation if kind is not Degradation.CLEAN]
    for index in range(count):
        person = synthetic_citizen(90_000 + index, field_count=11 if index % 2 else 7, long_address=index % 3 == 0)
        dominant = Degradation.CLEAN if condition != "degraded" else kinds[index % len(kinds)]
        scene = random_scene(90_000 + index, person.qr_text(), frame_size=size, dominant=dominant)
        if condition == "hard":
            scene = _harder(scene, index)
        images.append(render_card(scene))
        truths.append(person.qr_text().encode("utf-8"))
    return images, truths


def live_sequence(size: tuple[int, int], count: int) -> list[np.ndarray]:
    """One card held in front of the camera: the same scene with hand jitter and fresh noise, frame after frame."""
    person = synthetic_citizen(91_000)
    base = random_scene(91_000, person.qr_text(), frame_size=size, dominant=Degradation.CLEAN)
    rng = np.random.default_rng(1)
    return [
        render_card(
            replace(
                base,
                center=(base.center[0] + rng.normal(0, 0.003), base.center[1] + rng.normal(0, 0.003)),
                noise_sigma=3.0,
                seed=step,
            )
        )
        for step in range(count)
    ]


def zxing_fast(image: np.ndarray) -> bytes | None:
    found = zxingcpp.read_barcodes(
        image,
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
        try_rotate=False,
        try_invert=False,
        try_downscale=False,
    )
    return bytes(found[0].bytes) if found else None


def zxing_default(image: np.ndarray) -> bytes | None:
    found = zxingcpp.read_barcodes(image)
    return bytes(found[0].bytes) if found else None


def our_still(image: np.ndarray) -> bytes | None:
    symbols = decode_image(image)
    return symbols[0].raw if symbols else None


def opencv_methods() -> dict[str, Callable[[np.ndarray], bytes | None]]:
    try:
        import cv2  # noqa: PLC0415 - optional: the camera extra
    except ImportError:
        return {}
    cv2.setNumThreads(1)
    detectors = {
        "opencv_qrcodedetector": cv2.QRCodeDetector(),
        "opencv_qrcodedetector_aruco": cv2.QRCodeDetectorAruco(),
    }

    def wrap(detector: object) -> Callable[[np.ndarray], bytes | None]:
        def decode(image: np.ndarray) -> bytes | None:
            try:
                text, _, _ = detector.detectAndDecode(image)  # type: ignore[attr-defined]
            except cv2.error:
                return None
            return text.encode("utf-8") if text else None

        return decode

    return {name: wrap(detector) for name, detector in detectors.items()}


def measure(
    method: Callable[[np.ndarray], bytes | None], images: list[np.ndarray], truths: list[bytes] | None, repeat: int
) -> dict[str, float | int]:
    times = []
    decoded = wrong = 0
    for round_ in range(repeat):
        for index, image in enumerate(images):
            started = time.perf_counter()
            result = method(image)
            times.append(time.perf_counter() - started)
            if round_ == 0 and result is not None:
                decoded += 1
                if truths is not None and result != truths[index]:
                    wrong += 1
    ms = sorted(value * 1000 for value in times)
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 3),
        "fps": round(len(times) / sum(times), 1),
        "decoded": decoded,
        "frames": len(images),
        "wrong": wrong,
    }


def measure_live(size: tuple[int, int], count: int, repeat: int) -> dict[str, float | int]:
    frames = live_sequence(size, count)
    times = []
    decoded = 0
    for round_ in range(repeat):
        decoder = QrDecoder()
        for image in frames:
            started = time.perf_counter()
            symbols = decoder.decode(image)
            times.append(time.perf_counter() - started)
            decoded += bool(symbols) and round_ == 0
    ms = sorted(value * 1000 for value in times)
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 3),
        "fps": round(len(times) / sum(times), 1),
        "decoded": decoded,
        "frames": len(frames),
    }


def our_photo(image: np.ndarray) -> bytes | None:
    """``cccd qr decode``: every strategy until a valid CCCD QR, which is what counts as decoded."""
    try:
        return read_cccd_qr(image).to_text().encode("utf-8")
    except (QrDecodeError, CccdQrError):
        return None


def _stats(values: list[float]) -> dict[str, float]:
    ms = sorted(value * 1000 for value in values)
    return {
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
        "max_ms": round(ms[-1], 1),
    }


@dataclass
class _PhotoRun:
    family: str
    size: str
    load_s: float
    seconds: dict[str, float] = field(default_factory=dict)
    decoded: dict[str, bool] = field(default_factory=dict)
    wrong: dict[str, bool] = field(default_factory=dict)


def measure_photos(
    per_family: int, methods: dict[str, Callable[[np.ndarray], bytes | None]], folder: Path
) -> dict[str, object]:
    """Render ``per_family`` photos of each family to JPEG files, load each once, run every method on it."""
    runs: list[_PhotoRun] = []
    for family_index, family in enumerate(PhotoFamily):
        for index in range(per_family):
            seed = 95_000 + family_index * 1_000 + index
            text = synthetic_citizen(seed, field_count=(7, 11, 6)[index % 3]).qr_text()  # type: ignore[arg-type]
            size = PHOTO_SIZES[(index + family_index) % len(PHOTO_SIZES)]
            path = folder / f"{family.value}_{index:03d}.jpg"
            path.write_bytes(render_photo(random_photo(seed, text, size=size, family=family)))
            started = time.perf_counter()
            image = load_gray_image(path)
            run = _PhotoRun(family.value, f"{image.shape[1]}x{image.shape[0]}", time.perf_counter() - started)
            truth = text.encode("utf-8")
            for name, method in methods.items():
                started = time.perf_counter()
                result = method(image)
                run.seconds[name] = time.perf_counter() - started
                run.decoded[name] = result == truth
                run.wrong[name] = result is not None and result != truth
            runs.append(run)

    def summary(selected: list[_PhotoRun]) -> dict[str, object]:
        out: dict[str, object] = {"photos": len(selected)}
        for name in methods:
            out[name] = {
                "decoded": sum(run.decoded[name] for run in selected),
                "wrong": sum(run.wrong[name] for run in selected),
                **_stats([run.seconds[name] for run in selected]),
            }
        return out

    sizes = sorted({run.size for run in runs}, key=lambda size: math.prod(int(side) for side in size.split("x")))
    return {
        "photos_per_family": per_family,
        "all": summary(runs),
        "by_family": {family.value: summary([r for r in runs if r.family == family.value]) for family in PhotoFamily},
        "by_resolution": {size: summary([r for r in runs if r.size == size]) for size in sizes},
        "jpeg_load": _stats([run.load_s for run in runs]),
    }


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=40, help="distinct frames per size and condition")
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds over the frames")
    parser.add_argument("--photos", type=int, default=8, help="card photos per family of trouble (0: none)")
    parser.add_argument("--only", choices=("frames", "photos"), help="run one section")
    parser.add_argument("--keep-photos", type=Path, help="keep the generated photos in this folder")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    methods: dict[str, Callable[[np.ndarray], bytes | None]] = {
        "zxing_fast_pass": zxing_fast,
        "zxing_default_options": zxing_default,
        "ours_still_all_fallbacks": our_still,
        **opencv_methods(),
    }
    results: dict[str, object] = {}
    for size in SIZES if args.only != "photos" else ():
        key = f"{size[0]}x{size[1]}"
        results[key] = {}
        for condition in ("clean", "degraded", "hard"):
            images, truths = frames_for(size, condition=condition, count=args.frames)
            per_method = {}
            for name, method in methods.items():
                # The full still-image cascade is slow on frames it cannot read: one round is enough.
                rounds = 1 if name == "ours_still_all_fallbacks" else args.repeat
                per_method[name] = measure(method, images, truths, rounds)
            results[key][condition] = per_method  # type: ignore[index]
        results[key]["live_roi_tracking"] = measure_live(size, args.frames, args.repeat)  # type: ignore[index]
    if args.photos > 0 and args.only != "frames":
        photo_methods = {"ours": our_photo, **opencv_methods()}
        if args.keep_photos is not None:
            args.keep_photos.mkdir(parents=True, exist_ok=True)
            results["photos"] = measure_photos(args.photos, photo_methods, args.keep_photos)
        else:
            with tempfile.TemporaryDirectory() as folder:
                results["photos"] = measure_photos(args.photos, photo_methods, Path(folder))
    print(
        json.dumps(
            {
                "benchmark": "qr_decode",
                "zxing_cpp": importlib.metadata.version("zxing-cpp"),
                "opencv": _version("opencv-python-headless"),
                "machine": platform.machine(),
                "processor": platform.processor() or platform.machine(),
                "one_core": hasattr(os, "sched_setaffinity"),
                "frames_per_condition": args.frames,
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
