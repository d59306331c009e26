"""Real data: the master lists and SODs of ../shared/testdata (loaded once per session) and a real passport DG15."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from mrtd._trust_store import TrustStore, load_trust_store

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
ML_DIR = TESTDATA / "masterlists"
SOD_DIR = TESTDATA / "sod"
DE_ML = ML_DIR / "DE_ML_2026-05-28-08-28-45.ml"
NL_ML = ML_DIR / "NL_ML_2026-07-22.ml"
DE_ROOT = ML_DIR / "DE_ROOT_CA_CSCA07.cer"
NL_ROOT = ML_DIR / "NL_ROOT_CA.cer"
VN_CSCA = ML_DIR / "VN_CSCA_ePassport_Vietnam_2022.cer"
IDN_CSCA = ML_DIR / "extra_csca" / "IDN_2020-10_CSCA.cer"


@cache
def master_list_store() -> TrustStore:
    """DE and NL roots plus both master lists (their signatures checked), without the extra Indonesian CSCA."""
    return load_trust_store([DE_ROOT, NL_ROOT, DE_ML, NL_ML])


@cache
def store_with_extra_csca() -> TrustStore:
    return load_trust_store([DE_ROOT, NL_ROOT, DE_ML, NL_ML, IDN_CSCA])


@cache
def expected() -> dict[str, Any]:
    files: dict[str, Any] = json.loads((SOD_DIR / "expected.json").read_text())["files"]
    return files


# DG15 of a real passport, from ZeroPass/pymrtd tests/pki/iso9796e2_test.py (emrtd-anchors §3.7).
REAL_DG15 = bytes.fromhex(
    "6F81A230819F300D06092A864886F70D010101050003818D0030818902818100BD8620D45693E1CD8678639F22E9553F09E3AFD87BD2600011"
    "3CE2798B7A02A2E0AB6B7525D09072109D938D6708167E8FAFAF83F17BFBA36CECCE26058C7ED9AE29516755B19F78CE0E73DA02340B117B8"
    "AB2ECA007F1390E93E896016335EB5C1E330B961C03E253D17874F7ABEE8D4962C49FFE578D46954FF23B26F5E5550203010001"
)
