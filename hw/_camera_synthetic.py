"""A simulated camera: frames of synthetic cards with their CCCD QR, as a camera in front of a counter sees them.

Each card stays in view for ``frames_per_card`` frames (with fresh sensor noise and a little hand jitter), then the
next card is shown; an optional gap of empty frames separates cards. Deterministic from the seed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

import numpy as np

from hw._camera import BaseFrameSource, Clock, Frame, GrayImage
from hw._synthetic_card import CardScene, Degradation, random_scene, render_card, synthetic_citizen


class SyntheticSource(BaseFrameSource):
    """Frames of synthetic cards. ``texts`` fixes the QR payloads shown (cycled); by default citizens are drawn.

    ``cards`` bounds how many cards are shown (None = endless); ``degraded`` picks random degradations rather than
    clean captures; ``fps`` paces the frames (None = as fast as they render).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        texts: Sequence[str] | None = None,
        cards: int | None = None,
        frames_per_card: int = 8,
        gap_frames: int = 2,
        frame_size: tuple[int, int] = (1280, 720),
        degraded: bool = True,
        fps: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock=clock)
        if frames_per_card < 1 or gap_frames < 0 or (cards is not None and cards < 0):
            raise ValueError("frame counts must be positive")
        if fps is not None and fps <= 0:
            raise ValueError("fps must be positive")
        self._seed = seed
        self._texts = tuple(texts) if texts is not None else None
        self._cards = cards
        self._frames_per_card = frames_per_card
        self._gap_frames = gap_frames
        self._frame_size = frame_size
        self._degraded = degraded
        self._period = None if fps is None else 1.0 / fps
        self.shown: list[str] = []

    def scene(self, card: int) -> CardScene:
        """The scene of the ``card``-th card shown."""
        seed = self._seed * 1_000_003 + card
        if self._texts:
            text = self._texts[card % len(self._texts)]
        else:
            text = synthetic_citizen(seed, field_count=11 if card % 3 == 2 else 7).qr_text()
        dominant = None if self._degraded else Degradation.CLEAN
        return random_scene(seed, text, frame_size=self._frame_size, dominant=dominant)

    async def _frames(self) -> AsyncIterator[Frame]:
        rng = np.random.default_rng(self._seed)
        card = 0
        width, height = self._frame_size
        while not self._closed and (self._cards is None or card < self._cards):
            scene = self.scene(card)
            self.shown.append(scene.text)
            for step in range(self._frames_per_card):
                # Hand jitter: the QR drifts by a few pixels between frames.
                jitter = (float(rng.normal(0, 2.0)) / width, float(rng.normal(0, 2.0)) / height)
                moved = replace(
                    scene,
                    center=(scene.center[0] + jitter[0], scene.center[1] + jitter[1]),
                    seed=scene.seed * 31 + step,
                )
                image = await asyncio.to_thread(render_card, moved)
                yield self._frame(image)
                await self._pace()
                if self._closed:
                    return
            for _ in range(self._gap_frames):
                yield self._frame(_empty_frame(rng, width, height))
                await self._pace()
            card += 1

    async def _pace(self) -> None:
        if self._period is not None:
            await asyncio.sleep(self._period)


def _empty_frame(rng: np.random.Generator, width: int, height: int) -> GrayImage:
    """The counter with no card on it."""
    level = float(rng.uniform(60, 160))
    noise = rng.normal(level, 4.0, (height, width))
    return np.clip(noise, 0, 255).astype(np.uint8)
