"""Time to load the real DE + NL master lists (signatures verified) and to verify the 12 real SODs against them.

Prints one JSON object. Run: ``.venv/bin/python bench/trust_and_passive_auth.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
from pathlib import Path

from mrtd import load_trust_store, parse_sod, passive_authentication

TESTDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "testdata"
ML = TESTDATA / "masterlists"


def main() -> None:
    paths = [ML / "DE_ROOT_CA_CSCA07.cer", ML / "NL_ROOT_CA.cer", ML / "DE_ML_2026-05-28-08-28-45.ml",
             ML / "NL_ML_2026-07-22.ml"]  # fmt: skip
    loads = []
    for _ in range(5):
        start = time.perf_counter()
        store = load_trust_store(paths)
        loads.append(time.perf_counter() - start)
    sods = [(p.name, p.read_bytes()) for p in sorted((TESTDATA / "sod").glob("EF_SOD_*.bin"))]
    per_sod: dict[str, float] = {}
    for name, data in sods:
        sod = parse_sod(data)
        assert sod.dsc is not None
        at = sod.dsc.not_before + dt.timedelta(days=30)
        start = time.perf_counter()
        for _ in range(5):
            passive_authentication(parse_sod(data), {}, trust_store=store, at=at)
        per_sod[name] = (time.perf_counter() - start) / 5
    print(
        json.dumps(
            {
                "trust_store_certificates": len(store),
                "master_list_load_s": {"min": min(loads), "median": statistics.median(loads), "max": max(loads)},
                "passive_auth_s": {"median": statistics.median(per_sod.values()), "max": max(per_sod.values())},
                "passive_auth_per_sod_s": per_sod,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
