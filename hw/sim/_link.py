"""A timing model of the contactless link (ISO/IEC 14443), in simulated time so tests and benchmarks stay fast.

Each APDU exchange costs a fixed turnaround (the reader's and chip's processing, frame waiting and the PC/SC stack)
plus the time its bytes take at the link's bit rate. ISO 14443 framing (parity, CRC, block headers) is folded into
the turnaround, so the model's byte time is the same quantity the ideal "bytes / bit rate" counts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class BitRate(enum.IntEnum):
    """ISO/IEC 14443 bit rates, in bit/s."""

    KBPS_106 = 106_000
    KBPS_212 = 212_000
    KBPS_424 = 424_000
    KBPS_848 = 848_000

    @classmethod
    def from_kbps(cls, kbps: int) -> BitRate:
        try:
            return cls(kbps * 1000)
        except ValueError:
            raise ValueError(f"ISO 14443 bit rates are 106, 212, 424 and 848 kbit/s, not {kbps}") from None


@dataclass(frozen=True, slots=True)
class LinkModel:
    bit_rate: int = BitRate.KBPS_424
    turnaround: float = 0.003  # seconds per APDU exchange

    def __post_init__(self) -> None:
        if self.bit_rate <= 0 or self.turnaround < 0:
            raise ValueError("the bit rate must be positive and the turnaround not negative")

    def transfer_seconds(self, byte_count: int) -> float:
        return 8 * byte_count / self.bit_rate

    def exchange_seconds(self, command_length: int, response_length: int) -> float:
        return self.turnaround + self.transfer_seconds(command_length + response_length)


class SimulatedClock:
    """Time that only moves when the link model says so."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def advance(self, seconds: float) -> None:
        self.seconds += seconds

    def reset(self) -> None:
        self.seconds = 0.0
