"""``cccd qr decode`` and ``cccd qr scan``: output shape, order, exit codes, hostile files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cccd.cli import app
from hw import CardScene, render_card, synthetic_citizen

runner = CliRunner()


def _card_image(path: Path, seed: int, *, field_count: int = 7) -> dict[str, object]:
    person = synthetic_citizen(seed, field_count=field_count, long_address=True)  # type: ignore[arg-type]
    scene = CardScene(text=person.qr_text(), frame_size=(960, 540), qr_px=230.0, angle_deg=8.0, noise_sigma=4.0)
    Image.fromarray(render_card(scene)).save(path, quality=92)
    return {
        "id_number": person.id_number,
        "full_name": person.full_name,
        "date_of_birth": person.date_of_birth.isoformat(),
        "sex": person.sex,
        "place_of_residence": person.place_of_residence,
        "date_of_issue": person.date_of_issue.isoformat(),
    }


def test_decode_json_lists_every_input_in_order(tmp_path: Path) -> None:
    first = _card_image(tmp_path / "a.jpg", 1)
    second = _card_image(tmp_path / "b.png", 2, field_count=11)
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    Image.new("L", (320, 240), 180).save(tmp_path / "blank.png")
    inputs = [
        tmp_path / "b.png",
        tmp_path / "junk.png",
        tmp_path / "a.jpg",
        tmp_path / "missing.jpg",
        tmp_path / "blank.png",
    ]
    result = runner.invoke(app, ["qr", "decode", "--json", *map(str, inputs)])
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    assert [item["file"] for item in items] == [str(path) for path in inputs]
    assert all(("fields" in item) != ("error" in item) for item in items)
    assert {key: items[0]["fields"][key] for key in second} == second
    assert items[0]["fields"]["form"] == "11-field"
    assert {key: items[2]["fields"][key] for key in first} == first
    assert items[1]["error"].startswith("unreadable_image")
    assert items[3]["error"].startswith("unreadable_image")
    assert items[4]["error"].startswith("no_qr")


def test_decode_takes_folders_of_photos(tmp_path: Path) -> None:
    photos, empty = tmp_path / "photos", tmp_path / "empty"
    (photos / "sub").mkdir(parents=True)
    empty.mkdir()
    second = _card_image(photos / "2.png", 2)
    first = _card_image(photos / "1.jpg", 1)
    _card_image(photos / "sub" / "3.png", 3)  # sub-folders are not searched
    (photos / "notes.txt").write_text("not an image")
    result = runner.invoke(app, ["qr", "decode", "--json", str(photos)])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [item["file"] for item in items] == [str(photos / "1.jpg"), str(photos / "2.png")]
    assert {key: items[0]["fields"][key] for key in first} == first
    assert {key: items[1]["fields"][key] for key in second} == second
    # A folder without images is an error item of its own, in its place, and makes the exit code 1.
    result = runner.invoke(app, ["qr", "decode", "--json", str(empty), str(photos / "1.jpg")])
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    assert items[0] == {"file": str(empty), "error": "no_images: the folder holds no image files"}
    assert "fields" in items[1]


def test_decode_exits_zero_when_every_image_decoded(tmp_path: Path) -> None:
    expected = _card_image(tmp_path / "a.png", 3)
    result = runner.invoke(app, ["qr", "decode", "--json", str(tmp_path / "a.png")])
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["fields"]["full_name"] == expected["full_name"]
    human = runner.invoke(app, ["qr", "decode", str(tmp_path / "a.png")])
    assert human.exit_code == 0
    assert str(expected["id_number"]) in human.stdout


def test_decode_reports_a_forged_qr_with_its_reason(tmp_path: Path) -> None:
    # Century/sex digit for a woman, printed "Nam": a hand-made QR, not a card's.
    forged = "001199012345||Nguyễn Văn An|01011999|Nam|Hà Nội|15082021"
    Image.fromarray(render_card(CardScene(text=forged, frame_size=(640, 480), qr_px=200.0))).save(tmp_path / "f.png")
    result = runner.invoke(app, ["qr", "decode", "--json", str(tmp_path / "f.png")])
    assert result.exit_code == 1
    assert json.loads(result.stdout)[0]["error"].startswith("id_inconsistent")


def test_decode_accepts_npy_frames(tmp_path: Path) -> None:
    person = synthetic_citizen(4)
    np.save(tmp_path / "frame.npy", render_card(CardScene(text=person.qr_text(), frame_size=(640, 480), qr_px=200.0)))
    result = runner.invoke(app, ["qr", "decode", "--json", str(tmp_path / "frame.npy")])
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["fields"]["id_number"] == person.id_number


def test_parse_validates_text_from_another_scanner() -> None:
    ok = runner.invoke(app, ["qr", "parse", "--json", "001099012345||Nguyễn Văn An|01011999|Nam|Hà Nội|15082021"])
    assert ok.exit_code == 0
    fields = json.loads(ok.stdout)
    assert fields["can"] == "012345"
    assert (fields["bac_document_number"], fields["bac_date_of_birth"]) == ("099012345", "990101")
    assert fields["bac_expiry_candidates"][0] == "240101"
    bad = runner.invoke(app, ["qr", "parse", "--json", "001099012345||Nguyễn Văn An|01011998|Nam|Hà Nội|15082021"])
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["error"].startswith("id_inconsistent")


def test_scan_prints_each_new_card_once(tmp_path: Path) -> None:
    # A replayed session: card A in three frames, an empty frame, card B in two frames.
    people = [synthetic_citizen(20), synthetic_citizen(21)]
    frames = [people[0]] * 3 + [None] + [people[1]] * 2
    for index, person in enumerate(frames):
        if person is None:
            image = np.full((480, 640), 90, dtype=np.uint8)
        else:
            image = render_card(CardScene(text=person.qr_text(), frame_size=(640, 480), qr_px=210.0, seed=index))
        Image.fromarray(image).save(tmp_path / f"{index:03d}.png")
    result = runner.invoke(app, ["qr", "scan", "--camera", str(tmp_path), "--json"])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [line["fields"]["id_number"] for line in lines] == [person.id_number for person in people]


def test_scan_synthetic_camera_stops_after_max_cards() -> None:
    result = runner.invoke(app, ["qr", "scan", "--camera", "synthetic:5", "--json", "--max-cards", "2"])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0]["fields"]["id_number"] != lines[1]["fields"]["id_number"]


def test_scan_without_a_camera_exits_3() -> None:
    result = runner.invoke(app, ["qr", "scan", "--camera", "no-such-camera-or-file"])
    assert result.exit_code == 3


def _scan_lines(camera: Path, *options: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["qr", "scan", "--camera", str(camera), "--json", *options])
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_scan_refuses_two_cards_in_one_frame(tmp_path: Path) -> None:
    """As `qr decode` does: with two cards in view, which one the operator means is not the scanner's to guess."""
    left, right = synthetic_citizen(30), synthetic_citizen(31)
    halves = [
        render_card(CardScene(text=person.qr_text(), frame_size=(640, 480), qr_px=210.0, seed=seed))
        for seed, person in enumerate((left, right))
    ]
    Image.fromarray(np.hstack(halves)).save(tmp_path / "000.png")
    Image.fromarray(halves[1]).save(tmp_path / "001.png")
    lines = _scan_lines(tmp_path)
    assert lines[0]["error"].startswith("ambiguous")
    assert [line["fields"]["id_number"] for line in lines[1:]] == [right.id_number]


def _video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    height, width = frames[0].shape
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height), False)
    for frame in frames:
        writer.write(frame)
    writer.release()


def test_a_replayed_video_keeps_its_own_timeline(tmp_path: Path) -> None:
    """A card that leaves for 3 s of the recording is a new sighting, however fast the replay is decoded."""
    person = synthetic_citizen(32)
    card = render_card(CardScene(text=person.qr_text(), frame_size=(640, 480), qr_px=210.0, seed=1))
    empty = np.full((480, 640), 90, dtype=np.uint8)
    _video(tmp_path / "replay.avi", [card] * 5 + [empty] * 30 + [card] * 5, fps=10.0)
    lines = _scan_lines(tmp_path / "replay.avi", "--forget", "2")
    assert [line["fields"]["id_number"] for line in lines] == [person.id_number] * 2
    assert lines[0]["time"] == pytest.approx(0.0, abs=0.15)
    assert lines[1]["time"] == pytest.approx(3.5, abs=0.15)  # the recording's time, not the decoder's


def test_a_damaged_stretch_of_a_video_does_not_end_the_replay(tmp_path: Path) -> None:
    person = synthetic_citizen(33)
    card = render_card(CardScene(text=person.qr_text(), frame_size=(640, 480), qr_px=210.0, seed=2))
    noise = np.random.default_rng(7).integers(0, 256, size=(480, 640), dtype=np.uint8)
    _video(tmp_path / "damaged.avi", [noise] * 20 + [card] * 5, fps=10.0)
    data = bytearray((tmp_path / "damaged.avi").read_bytes())
    # Scramble bytes inside the noisy frames' JPEG data, well before the card appears.
    rng = np.random.default_rng(11)
    for position in rng.integers(len(data) // 10, len(data) // 3, size=3000):
        data[int(position)] = int(rng.integers(0, 256))
    (tmp_path / "damaged.avi").write_bytes(bytes(data))
    lines = _scan_lines(tmp_path / "damaged.avi")
    assert [line["fields"]["id_number"] for line in lines] == [person.id_number]
