"""The zxing-cpp decoder: fast pass, region of interest that follows the code, fallbacks, and still images."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import segno
from PIL import Image, ImageFilter

from agent import (
    FALLBACKS,
    LIVE_FALLBACKS,
    CccdQrError,
    DecodeFailure,
    QrDecodeError,
    QrDecoder,
    QrRejectReason,
    decode_image,
    iter_decode_attempts,
    read_cccd_qr,
)
from hw import CardScene, Degradation, random_scene, render_card, synthetic_citizen

TODAY = dt.date(2026, 6, 1)
TEXT = synthetic_citizen(7, long_address=True).qr_text()


def _scene(**changes: object) -> CardScene:
    return replace(CardScene(text=TEXT, frame_size=(1280, 720), qr_px=240.0, seed=3), **changes)  # type: ignore[arg-type]


def test_fast_pass_decodes_a_clean_frame_and_reports_where() -> None:
    decoder = QrDecoder()
    symbols = decoder.decode(render_card(_scene(center=(0.3, 0.4))))
    assert len(symbols) == 1
    symbol = symbols[0]
    assert symbol.raw.decode("utf-8") == TEXT
    assert symbol.strategy == "fast"
    x0, y0, x1, y1 = symbol.box
    # The QR was placed with its centre at 30% / 40% of the frame.
    assert abs((x0 + x1) / 2 - 0.3 * 1280) < 6
    assert abs((y0 + y1) / 2 - 0.4 * 720) < 6
    assert decoder.region_of_interest is not None


def test_region_of_interest_follows_the_code() -> None:
    decoder = QrDecoder()
    decoder.decode(render_card(_scene(center=(0.3, 0.4))))
    first = decoder.region_of_interest
    moved = decoder.decode(render_card(_scene(center=(0.32, 0.42), seed=4)))
    assert moved
    assert moved[0].strategy == "fast_roi"
    second = decoder.region_of_interest
    assert first is not None
    assert second is not None
    assert second != first
    # The region moved with the code, in frame coordinates.
    assert second[0] > first[0]
    assert second[1] > first[1]


def test_code_outside_the_old_region_is_still_found_in_the_full_frame() -> None:
    decoder = QrDecoder()
    decoder.decode(render_card(_scene(center=(0.25, 0.35))))
    symbols = decoder.decode(render_card(_scene(center=(0.75, 0.6), seed=5)))
    assert symbols
    assert symbols[0].strategy == "fast"


def test_fallbacks_start_only_after_the_fast_pass_keeps_failing() -> None:
    # A code too washed out for the fast pass; the fallback rotation rescues it a few frames later.
    hard = render_card(_scene(contrast=0.1, brightness=1.3, noise_sigma=3.0, lighting=0.5))
    decoder = QrDecoder(fallback_after=2)
    strategies: list[str | None] = []
    for _ in range(2 + len(LIVE_FALLBACKS)):
        symbols = decoder.decode(hard)
        if symbols:
            strategies.append(symbols[0].strategy)
            break
        strategies.append(None)
    assert strategies[:2] == [None, None]
    assert strategies[-1] is not None
    assert strategies[-1] not in ("fast", "fast_roi")


def test_empty_frames_decode_to_nothing_and_bad_frames_are_refused() -> None:
    decoder = QrDecoder()
    assert decoder.decode(np.full((480, 640), 128, dtype=np.uint8)) == ()
    bad_frames: list[Any] = [
        np.zeros((480, 640, 3), dtype=np.uint8),
        np.zeros((480, 640), dtype=np.float32),
        np.zeros((4, 4), np.uint8),
    ]
    for bad in bad_frames:
        with pytest.raises(QrDecodeError) as info:
            decoder.decode(bad)
        assert info.value.reason is DecodeFailure.BAD_IMAGE


def test_live_fallbacks_are_a_cheap_subset() -> None:
    assert LIVE_FALLBACKS
    assert set(LIVE_FALLBACKS) <= set(FALLBACKS)
    assert all(strategy.resample <= 1.5 for strategy in LIVE_FALLBACKS)


def test_still_image_decoding_tries_harder_than_the_fast_pass() -> None:
    hard = render_card(_scene(contrast=0.1, brightness=1.3, noise_sigma=3.0, lighting=0.5))
    attempts = list(iter_decode_attempts(hard))
    assert not attempts[0].symbols  # the fast pass fails
    assert any(attempt.symbols for attempt in attempts)
    assert decode_image(hard)[0].raw.decode("utf-8") == TEXT
    qr = read_cccd_qr(hard, today=TODAY)
    assert qr.to_text() == TEXT


def test_upside_down_and_inverted_codes() -> None:
    assert read_cccd_qr(render_card(_scene(angle_deg=180.0)), today=TODAY).to_text() == TEXT
    inverted = 255 - render_card(_scene())
    assert read_cccd_qr(np.ascontiguousarray(inverted), today=TODAY).to_text() == TEXT


def test_a_foreign_qr_is_rejected_with_the_parsers_reason() -> None:
    image = render_card(_scene(text="https://example.test/menu"))
    with pytest.raises(CccdQrError) as info:
        read_cccd_qr(image, today=TODAY)
    assert info.value.reason is QrRejectReason.FIELD_COUNT


def test_nothing_in_view() -> None:
    with pytest.raises(QrDecodeError) as info:
        read_cccd_qr(np.full((480, 640), 200, dtype=np.uint8), today=TODAY)
    assert info.value.reason is DecodeFailure.NO_QR


def test_destroyed_code_is_reported_as_unreadable() -> None:
    image = render_card(_scene(qr_px=300.0)).copy()
    # Wipe the data region between the finder patterns: the symbol is located but cannot be decoded.
    symbols = decode_image(image)
    x0, y0, x1, y1 = (round(value) for value in symbols[0].box)
    w, h = x1 - x0, y1 - y0
    image[y0 + h // 4 : y1 - h // 4, x0 + w // 4 : x1 - w // 4] = 255
    with pytest.raises(QrDecodeError) as info:
        read_cccd_qr(image, today=TODAY)
    assert info.value.reason is DecodeFailure.UNREADABLE


def test_two_different_cards_in_view_are_ambiguous() -> None:
    other = synthetic_citizen(8).qr_text()
    left = render_card(_scene(frame_size=(640, 480), qr_px=200.0, center=(0.5, 0.5)))
    right = render_card(_scene(text=other, frame_size=(640, 480), qr_px=200.0, center=(0.5, 0.5)))
    both = np.ascontiguousarray(np.hstack([left, right]))
    with pytest.raises(QrDecodeError) as info:
        read_cccd_qr(both, today=TODAY)
    assert info.value.reason is DecodeFailure.AMBIGUOUS


def test_utf8_bytes_are_used_not_a_guessed_charset() -> None:
    # A QR whose UTF-8 bytes carry no ECI header: the bytes, decoded as UTF-8, give the Vietnamese text exactly.
    matrix = np.asarray(segno.make_qr(TEXT, error="m", eci=False).matrix, dtype=np.uint8)
    image = np.where(np.kron(matrix, np.ones((4, 4), dtype=np.uint8)) > 0, 0, 255).astype(np.uint8)
    image = np.pad(image, 32, constant_values=255)
    symbols = decode_image(image)
    assert symbols[0].raw == TEXT.encode("utf-8")
    assert read_cccd_qr(image, today=TODAY).full_name == synthetic_citizen(7, long_address=True).full_name


@pytest.mark.parametrize("dominant", list(Degradation))
def test_each_degradation_of_the_simulator_decodes(dominant: Degradation) -> None:
    person = synthetic_citizen(101, field_count=11)
    scene = random_scene(202, person.qr_text(), frame_size=(960, 540), dominant=dominant)
    assert read_cccd_qr(render_card(scene), today=TODAY).id_number == person.id_number


def _symbol_image(text: str, *, module: int, margin: int, ec: str = "m") -> np.ndarray:
    matrix = np.asarray(segno.make_qr(text, error=ec, boost_error=False).matrix, dtype=np.uint8)
    image = np.where(np.kron(matrix, np.ones((module, module), dtype=np.uint8)) > 0, 30, 225).astype(np.uint8)
    return np.ascontiguousarray(np.pad(image, margin, constant_values=225))


@pytest.mark.parametrize("blur", [0.0, 0.6])
def test_a_code_squeezed_one_way_is_stretched_back(blur: float) -> None:
    # Seen from far to the side, a QR keeps its height and loses more than half its width: 2.3-pixel modules one
    # way, 6 the other. zxing finds no finder pattern in it; the close-up stretched twice as wide reads.
    sharp = _symbol_image(TEXT, module=6, margin=60)
    height, width = sharp.shape
    squeezed = Image.fromarray(sharp).resize((round(width / 2.6), height), Image.Resampling.BOX)
    image = np.ascontiguousarray(np.asarray(squeezed.filter(ImageFilter.GaussianBlur(blur)) if blur else squeezed))
    strategies = []
    for attempt in iter_decode_attempts(image):
        strategies.append(attempt.strategy)
        if attempt.symbols:
            break
    assert strategies[-1] == "stretched"  # every pass before it failed
    (symbol,) = attempt.symbols
    assert symbol.text == TEXT
    # Its corners come back in the image's own coordinates: the squeezed symbol, not the stretched close-up.
    expected = (60 / 2.6, 60, (width - 60) / 2.6, height - 60)
    assert all(abs(got - want) <= 3 for got, want in zip(symbol.box, expected, strict=True)), symbol.box


@pytest.mark.parametrize("corner", ["top_left", "top_right", "bottom_left"])
def test_a_finder_pattern_washed_out_by_glare_is_repaired(corner: str) -> None:
    image = _symbol_image(TEXT, module=6, margin=60, ec="q")
    side = image.shape[0] - 120
    # Saturate one finder pattern and its separator (8x8 modules), as a highlight on the laminate does.
    y = 60 if corner != "bottom_left" else 60 + side - 48
    x = 60 if corner != "top_right" else 60 + side - 48
    image[y : y + 48, x : x + 48] = 255
    attempts = list(iter_decode_attempts(image))
    assert not attempts[0].symbols  # with two finders left, zxing does not even locate it
    decoded = [attempt for attempt in attempts if attempt.symbols]
    assert decoded
    assert decoded[0].strategy == "finder_repair"
    assert read_cccd_qr(image, today=TODAY).to_text() == TEXT


def test_what_only_a_painted_finder_pattern_reads_is_no_reason_to_call_a_card_foreign() -> None:
    """A repair paints finder patterns in: around a real card's alignment pattern under glare it once framed a tiny
    symbol that is not on the card. Anything but a CCCD QR read that way counts as unreadable, not as foreign."""
    image = _symbol_image("409519", module=8, margin=60, ec="q")
    image[60 : 60 + 64, 60 : 60 + 64] = 255  # one finder pattern washed out
    attempts = list(iter_decode_attempts(image))
    painted = [a for a in attempts if a.symbols]
    assert painted
    assert painted[0].strategy == "finder_repair"
    assert painted[0].symbols[0].raw == b"409519"
    with pytest.raises(QrDecodeError) as info:
        read_cccd_qr(image, today=TODAY)
    assert info.value.reason is DecodeFailure.UNREADABLE
    # The same symbol read as it is, with its finder patterns intact, is a foreign QR with the parser's reason.
    with pytest.raises(CccdQrError) as foreign:
        read_cccd_qr(_symbol_image("409519", module=8, margin=60, ec="q"), today=TODAY)
    assert foreign.value.reason is QrRejectReason.FIELD_COUNT


def test_frames_of_another_size_start_a_fresh_region() -> None:
    """A camera changing mode, or a replay of photos of different sizes: the region of a large frame is not cropped
    out of a smaller one (where it could be empty)."""
    decoder = QrDecoder()
    assert decoder.decode(render_card(replace(_scene(center=(0.85, 0.5)), frame_size=(1920, 1080))))
    region = decoder.region_of_interest
    assert region is not None
    assert region[0] > 1280  # entirely right of where the next, smaller frame ends
    symbols = decoder.decode(render_card(_scene(center=(0.3, 0.4))))
    assert symbols
    assert symbols[0].raw.decode("utf-8") == TEXT


def test_a_small_code_in_a_large_photo_is_found_and_read_in_a_close_up() -> None:
    # 1.6 pixels per module, alone in a 12-megapixel frame of print-like clutter: too small for zxing's whole-frame
    # passes, found by its texture and read enlarged.
    rng = np.random.default_rng(9)
    sharp = _symbol_image(TEXT, module=8, margin=32)
    side = round(sharp.shape[1] / 5)
    symbol = np.asarray(Image.fromarray(sharp).resize((side, side), Image.Resampling.BOX))
    frame = np.clip(rng.normal(190, 4, (3024, 4032)), 0, 255).astype(np.uint8)
    for _ in range(150):
        y, x = int(rng.integers(0, 2990)), int(rng.integers(0, 3900))
        frame[y : y + 6, x : x + int(rng.integers(10, 120))] = 60
    frame[1500 : 1500 + symbol.shape[0], 2000 : 2000 + symbol.shape[1]] = symbol
    attempts = []
    for attempt in iter_decode_attempts(frame):
        attempts.append(attempt.strategy)
        if attempt.symbols:
            break
    assert attempts[-1] not in ("fast", "fast_reduced", "global_histogram")
    assert read_cccd_qr(frame, today=TODAY).to_text() == TEXT


def test_a_close_up_with_large_modules_is_read_on_a_reduced_copy() -> None:
    # 40-pixel modules in a 12-megapixel photo, with sensor noise: zxing's local binarizer misreads modules wider than
    # its window at full resolution; a halving of the photo reads them.
    rng = np.random.default_rng(2)
    symbol = _symbol_image(TEXT, module=40, margin=200)
    frame = np.full((3024, 4032), 225, dtype=np.uint8)
    frame[: symbol.shape[0], : symbol.shape[1]] = symbol[:3024, :4032]
    frame = np.clip(frame + rng.normal(0, 18, frame.shape), 0, 255).astype(np.uint8)
    attempts = list(iter_decode_attempts(frame))
    assert not attempts[0].symbols
    assert next(attempt.strategy for attempt in attempts if attempt.symbols) == "fast_reduced"
    assert read_cccd_qr(frame, today=TODAY).to_text() == TEXT


@pytest.mark.parametrize("rotation", [0, 20])
def test_a_steeply_tilted_code_is_made_square_from_its_finder_patterns(rotation: int) -> None:
    # A card tilted far from the camera shears its QR so much that zxing does not confirm the finder patterns, and
    # never locates the symbol; the three finders we find fix an affine map that squares it again.
    shear, margin = 0.8, 40
    sharp = _symbol_image(TEXT, module=5, margin=margin)
    height, width = sharp.shape
    size = (int(width + shear * height) + 40, height + 40)
    sheared = Image.fromarray(sharp).transform(
        size, Image.Transform.AFFINE, (1, -shear, 0, 0, 1, 0), resample=Image.Resampling.BICUBIC, fillcolor=225
    )
    if rotation:
        sheared = sheared.rotate(rotation, expand=True, fillcolor=225, resample=Image.Resampling.BICUBIC)
    image = np.ascontiguousarray(np.asarray(sheared))
    strategies = []
    for attempt in iter_decode_attempts(image):
        strategies.append(attempt.strategy)
        if attempt.symbols:
            break
    assert strategies[-1] == "rectified"  # every zxing pass before it, on the photo and its close-ups, failed
    (symbol,) = attempt.symbols
    assert symbol.text == TEXT
    if not rotation:
        # The corners are reported in the photo's coordinates: the sheared square's corners, within a module or two.
        side = width - 2 * margin
        expected = [(margin + shear * margin + dx + shear * dy, margin + dy) for dx, dy in ((0, 0), (side, 0))]
        expected += [(margin + shear * margin + dx + shear * dy, margin + dy) for dx, dy in ((side, side), (0, side))]
        for (x, y), (ex, ey) in zip(symbol.corners, expected, strict=True):
            assert abs(x - ex) <= 12
            assert abs(y - ey) <= 12
    assert read_cccd_qr(image, today=TODAY).to_text() == TEXT


@pytest.mark.parametrize("module", [3, 6])
def test_finder_patterns_are_found_at_their_centres(module: int) -> None:
    from agent._qr_locate import find_finder_patterns  # noqa: PLC0415 - a helper of the close-up stages

    margin = 4 * module
    image = _symbol_image(TEXT, module=module, margin=margin)
    side = image.shape[0] - 2 * margin
    # Candidates, not verdicts: data modules may look like a finder too; the three real ones must be among the four
    # best supported (what the squaring tries), with their module size.
    found = find_finder_patterns(image < 128)[:4]
    centre = margin + 3.5 * module
    expected = {(centre, centre), (margin + side - 3.5 * module, centre), (centre, margin + side - 3.5 * module)}
    for x, y in expected:
        assert any(
            abs(finder.x - x) <= 1 and abs(finder.y - y) <= 1 and abs(finder.module - module) < 0.5 for finder in found
        ), (x, y, found)
