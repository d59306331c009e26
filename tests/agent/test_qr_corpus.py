"""The generated corpus: 550 synthetic card captures with known content, every degradation, both QR forms.

Each image is rendered in-process from a seed, decoded as a still photo (fast pass, then every fallback), and the
parsed fields are compared with what was printed. At least 98% must decode, and no decoded value may be wrong.
"""

from __future__ import annotations

import collections
import datetime as dt

from agent import CccdQrError, QrDecodeError, read_cccd_qr
from hw import Degradation, random_scene, render_card, synthetic_citizen

TODAY = dt.date(2026, 6, 1)
SIZE = 550
FRAME_SIZES = ((640, 480), (960, 540), (640, 480), (960, 540), (1280, 720))
FIELD_COUNTS = (7, 11, 7, 11, 6)


def test_generated_corpus_decodes_without_a_single_wrong_value() -> None:
    decoded: collections.Counter[Degradation] = collections.Counter()
    shown: collections.Counter[Degradation] = collections.Counter()
    forms: collections.Counter[int] = collections.Counter()
    wrong = []
    long_addresses = 0
    for index in range(SIZE):
        seed = 40_000 + index
        field_count = FIELD_COUNTS[index % len(FIELD_COUNTS)]
        person = synthetic_citizen(seed, field_count=field_count, long_address=index % 2 == 0)  # type: ignore[arg-type]
        dominant = list(Degradation)[index % len(Degradation)]
        scene = random_scene(seed, person.qr_text(), frame_size=FRAME_SIZES[index % 5], dominant=dominant)
        shown[dominant] += 1
        long_addresses += len(person.place_of_residence) >= 90
        try:
            qr = read_cccd_qr(render_card(scene), today=TODAY)
        except (QrDecodeError, CccdQrError):
            continue
        decoded[dominant] += 1
        forms[field_count] += 1
        expected_extras = (*person.extra_fields, "", "", "", "")[:4] if field_count == 11 else ()
        got = (
            qr.id_number,
            qr.old_id_number,
            qr.full_name,
            qr.date_of_birth,
            qr.sex,
            qr.place_of_residence,
            qr.date_of_issue,
            qr.extra_fields,
        )
        expected = (
            person.id_number,
            person.old_id_number,
            person.full_name,
            person.date_of_birth,
            person.sex,
            person.place_of_residence,
            person.date_of_issue,
            expected_extras,
        )
        if got != expected:
            wrong.append(seed)
    assert wrong == []
    total = sum(decoded.values())
    assert total >= 0.98 * SIZE, f"decoded {total}/{SIZE}: {dict(decoded)}"
    assert set(shown) == set(Degradation)
    for kind in Degradation:
        assert decoded[kind] >= 0.9 * shown[kind], f"{kind}: {decoded[kind]}/{shown[kind]}"
    assert set(forms) == {6, 7, 11}
    assert long_addresses >= SIZE // 4
