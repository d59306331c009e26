"""The virtual CCCD chip and the synthetic population it is personalised for.

In-process (tests, demo, benchmarks) the chip sits behind :class:`hw.MemoryReader`; behind a real pcscd it plays as a
vpcd card (:class:`VpcdCard`). Fault modes (:class:`Fault`) make it behave like forged, damaged or unusual cards;
:class:`LinkModel` gives the in-process reader the timing of an ISO 14443 link in simulated time.
"""

from hw.sim._chip import ChipRemoved, ChipState, VirtualChip, contactless_atr
from hw.sim._faults import ChipFaults, Fault
from hw.sim._link import BitRate, LinkModel, SimulatedClock
from hw.sim._personalise import CardProfile, personalise, td1_mrz
from hw.sim._pki import TestPki, sign_sod
from hw.sim._population import (
    Citizen,
    Household,
    Population,
    Relation,
    card_expiry,
    citizen,
    generate_population,
    qr_text,
)
from hw.sim._vpcd import VpcdCard

__all__ = [
    "BitRate",
    "CardProfile",
    "ChipFaults",
    "ChipRemoved",
    "ChipState",
    "Citizen",
    "Fault",
    "Household",
    "LinkModel",
    "Population",
    "Relation",
    "SimulatedClock",
    "TestPki",
    "VirtualChip",
    "VpcdCard",
    "card_expiry",
    "citizen",
    "contactless_atr",
    "generate_population",
    "personalise",
    "qr_text",
    "sign_sod",
    "td1_mrz",
]
