"""Header stamping for one sender: a fresh UUIDv7, the next sequence number and the wall-clock time."""

from __future__ import annotations

import os
from collections.abc import Callable

from wire._ids import new_message_id, wall_clock_ms
from wire._messages import Header, TimeQuality


def _synced() -> TimeQuality:
    return TimeQuality.SYNCED


class Stamper:
    """Makes the :class:`Header` of each message a sender emits.

    ``next_seq`` must return a strictly increasing number that survives restarts (the terminal keeps it in its
    outbox database); the server uses it to spot gaps, since shared subscriptions do not preserve order.
    For an auth result, stamp the header first and derive the active authentication challenge from it
    (``aa_challenge(header.id, header.time_ms)``) before talking to the chip.
    """

    def __init__(
        self,
        device_id: str,
        *,
        next_seq: Callable[[], int],
        clock_ms: Callable[[], int] = wall_clock_ms,
        random_source: Callable[[int], bytes] = os.urandom,
        time_quality: Callable[[], TimeQuality] = _synced,
    ) -> None:
        self._device_id = device_id
        self._next_seq = next_seq
        self._clock_ms = clock_ms
        self._random = random_source
        self._time_quality = time_quality

    def header(self) -> Header:
        now = self._clock_ms()
        return Header(
            id=new_message_id(unix_ms=now, random_source=self._random),
            device_id=self._device_id,
            seq=self._next_seq(),
            time_ms=now,
            time_quality=self._time_quality(),
        )
