"""QR decode latency per frame, zxing-cpp (our passes) against OpenCV's QRCodeDetector, on the same frames.

Frames are synthetic card captures (hw's renderer) at 640x480 and 1280x720: clean, degraded (one dominant
degradation each: small code, angle, perspective, blur, motion, noise, glare, uneven light, low contrast, JPEG) and
hard (two strong degradations at once). ``live_roi_tracking`` is the terminal's per-frame path (fast pass in the
region of interest that follows a card held in front of the camera).
Everything runs pinned to one core with OpenCV limited to one thread. Prints JSON.

    .venv/bin/python bench/qr_decode.py [--frames 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import zxingcpp

from agent import QrDecoder, decode_image
from hw import CardScene, Degradation, qr_modules, random_scene, render_card, synthetic_citizen

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


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=40, help="distinct frames per size and condition")
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds over the frames")
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
    for size in SIZES:
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
