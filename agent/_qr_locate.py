"""Where a QR code may be in a still image, and repairs of a symbol that zxing locates badly or not at all.

Helpers of :mod:`agent._qr_decode` for close-ups: :func:`dense_regions` finds squares of dense two-tone texture
(a small symbol in a large photo that zxing's whole-frame passes miss); :func:`rectifications` squares a symbol that
a steep tilt sheared, from its three finder patterns; :func:`finder_repairs` paints in the finder patterns of a
symbol from the two that glare or a finger left.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image

GrayImage = npt.NDArray[np.uint8]

# ---------------------------------------------------------------------------------------------------------------
# Finder pattern repair
#
# zxing needs all three finder patterns. A glare spot or a fingertip that washes one out leaves a symbol whose data
# the error correction could still restore, but that is never even located. In a close-up, the two finders left
# (found by their 1:1:3:1:1 runs across and down, confirmed by a 9x9-module template) fix the symbol's axes and size,
# which leaves a handful of places for the third; each is painted in, crisp, with the two found ones repainted, and
# zxing reads the result. A wrong guess costs one zxing call: the painted finder carries no data, and every module
# read still comes from the photo and must pass the symbol's Reed-Solomon check.

_TEMPLATE_I, _TEMPLATE_J = np.meshgrid(np.arange(-4, 5), np.arange(-4, 5))
_TEMPLATE_RING = np.maximum(np.abs(_TEMPLATE_I), np.abs(_TEMPLATE_J))
# Dark: the 3x3 centre and the ring at 3 modules; light: the ring between and the separator around.
_TEMPLATE_DARK = (_TEMPLATE_RING <= 1) | (_TEMPLATE_RING == 3)
_Vector = tuple[float, float]


@dataclass(frozen=True, slots=True)
class FinderPattern:
    """A place where a QR finder pattern seems to be: its centre, module size, and how many scan lines cross it."""

    x: float
    y: float
    module: float
    support: int


def _finder_runs(dark: npt.NDArray[np.bool_], step: int) -> list[tuple[float, float, float]]:
    """Centres (along, row, module) of dark-light-dark-light-dark runs in the ratio 1:1:3:1:1, row by row."""
    rows = np.ascontiguousarray(dark[::step])
    height, width = rows.shape
    flat = rows.ravel()
    # Runs of the image read row after row; each row starts a run of its own.
    starts = np.union1d(np.flatnonzero(flat[1:] != flat[:-1]) + 1, np.arange(0, flat.size, width))
    lengths = np.diff(np.append(starts, flat.size)).astype(np.float32)
    count = len(starts) - 4
    if count <= 0:
        return []
    row_of = starts // width
    runs = np.stack([lengths[k : k + count] for k in range(5)])
    module = runs.sum(axis=0) / 7.0
    tolerance = 0.6 * module
    # As many runs in a row as a pattern with a run either side needs.
    busy_row = np.bincount(row_of, minlength=height) >= 6
    match = (
        (row_of[:count] == row_of[4 : 4 + count])
        & busy_row[row_of[:count]]
        & flat[starts[:count]]
        & (module >= 1.0)
        & (np.abs(runs[0] - module) < tolerance)
        & (np.abs(runs[1] - module) < tolerance)
        & (np.abs(runs[2] - 3 * module) < 2 * tolerance)
        & (np.abs(runs[3] - module) < tolerance)
        & (np.abs(runs[4] - module) < tolerance)
    )
    index = np.flatnonzero(match)
    centres = starts[index + 2] % width + runs[2, index] / 2
    return [
        (float(x), float(row * step), float(m)) for x, row, m in zip(centres, row_of[index], module[index], strict=True)
    ]


def find_finder_patterns(dark: npt.NDArray[np.bool_], *, limit: int = 12) -> list[FinderPattern]:
    """Places where the 1:1:3:1:1 runs cross both ways, clustered, most supported first."""
    step = 2 if max(dark.shape) > 400 else 1
    across = _finder_runs(dark, step)
    down = np.asarray([(x, y, m) for y, x, m in _finder_runs(np.ascontiguousarray(dark.T), step)], dtype=np.float32)
    if not across or len(down) == 0:
        return []
    clusters: list[list[float]] = []
    for x, y, module in across:
        near = (np.hypot(down[:, 0] - x, down[:, 1] - y) < module) & (np.abs(down[:, 2] - module) < 0.5 * module)
        if not near.any():
            continue
        for cluster in clusters:
            if math.hypot(cluster[0] / cluster[3] - x, cluster[1] / cluster[3] - y) < 2.5 * module:
                cluster[0] += x
                cluster[1] += y
                cluster[2] += module
                cluster[3] += 1
                break
        else:
            clusters.append([x, y, module, 1])
    finders = [FinderPattern(c[0] / c[3], c[1] / c[3], c[2] / c[3], int(c[3])) for c in clusters if c[3] >= 2]
    finders.sort(key=lambda finder: -finder.support)
    return finders[:limit]


def _template_match(dark: npt.NDArray[np.bool_], centre: _Vector, u: _Vector, v: _Vector, module: float) -> float:
    """The share of a finder's 9x9 modules (separator included) that read as they should along axes u, v."""
    xs = centre[0] + (_TEMPLATE_I * u[0] + _TEMPLATE_J * v[0]) * module
    ys = centre[1] + (_TEMPLATE_I * u[1] + _TEMPLATE_J * v[1]) * module
    height, width = dark.shape
    inside = (xs >= 0) & (xs < width - 0.5) & (ys >= 0) & (ys < height - 0.5)
    if inside.sum() < 60:
        return 0.0
    read = dark[np.rint(ys[inside]).astype(np.intp), np.rint(xs[inside]).astype(np.intp)]
    return float((read == _TEMPLATE_DARK[inside]).mean())


def _paint_finder(
    image: GrayImage, centre: _Vector, *, axes: tuple[_Vector, _Vector], module: float, ink: int, paper: int
) -> None:
    u, v = axes
    height, width = image.shape
    reach = 6.5 * module
    x0, x1 = max(0, int(centre[0] - reach)), min(width, int(centre[0] + reach) + 1)
    y0, y1 = max(0, int(centre[1] - reach)), min(height, int(centre[1] + reach) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - centre[0], yy - centre[1]
    ring = np.maximum(np.abs(dx * u[0] + dy * u[1]), np.abs(dx * v[0] + dy * v[1])) / module
    patch = image[y0:y1, x0:x1]
    patch[ring <= 4.5] = paper
    patch[ring <= 3.5] = ink
    patch[ring <= 2.5] = paper
    patch[ring <= 1.5] = ink


# A guessed third finder assumes a square symbol seen face-on; under perspective it lands a module or three away from
# where the symbol has it. The best guesses are also tried nudged by these steps (in modules along the symbol's axes),
# nearest first.
_NUDGES: Final = tuple(
    sorted(
        ((du, dv) for du in (-3.0, -1.5, 0.0, 1.5, 3.0) for dv in (-3.0, -1.5, 0.0, 1.5, 3.0) if du or dv),
        key=lambda step: math.hypot(*step),
    )
)
_NUDGED_PLANS: Final = 2


@dataclass(frozen=True, slots=True)
class FinderRepair:
    """A close-up with three finder patterns painted in; ``nudged`` when the third was moved off its first guess."""

    image: GrayImage
    nudged: bool


def finder_repairs(
    image: GrayImage, dark: npt.NDArray[np.bool_], finders: list[FinderPattern], *, limit: int = 6
) -> Iterator[FinderRepair]:
    """Copies of a close-up with a symbol's three finder patterns painted in, one per plausible arrangement.

    Arrangements where all three finders were found (but one too faint for zxing) come first, then pairs whose third
    finder is missing, at each place the geometry allows (beside either finder, or at the corner between them); then
    the best guessed ones again with the third nudged (:data:`_NUDGES`). Made one at a time: a caller stops at the
    first that reads.
    """
    ink, paper = int(np.percentile(image, 5)), int(np.percentile(image, 95))
    height, width = image.shape
    plans: dict[object, tuple[float, list[_Vector], _Vector, _Vector, float, bool]] = {}
    for i, first in enumerate(finders):
        for j in range(i + 1, len(finders)):
            second = finders[j]
            if max(first.module, second.module) > 1.5 * min(first.module, second.module):
                continue
            module = (first.module + second.module) / 2
            distance = math.hypot(second.x - first.x, second.y - first.y)
            # Finder centres are 14 (version 1) to 170 (version 40) modules apart; CCCD codes are near 40-60.
            if not 14 <= distance / module <= 120:
                continue
            a, b = (first.x, first.y), (second.x, second.y)
            e = ((b[0] - a[0]) / distance, (b[1] - a[1]) / distance)
            p = (-e[1], e[0])
            r = ((e[0] - e[1]) / math.sqrt(2), (e[0] + e[1]) / math.sqrt(2))
            q = (-r[1], r[0])
            options: list[tuple[float, _Vector, _Vector, _Vector]] = []
            score = min(_template_match(dark, a, e, p, module), _template_match(dark, b, e, p, module))
            if score >= 0.8:  # side by side: the third beside either, across the line between them
                options.extend(
                    (score, (base[0] + sign * p[0] * distance, base[1] + sign * p[1] * distance), e, p)
                    for base in (a, b)
                    for sign in (1, -1)
                )
            score = min(_template_match(dark, a, r, q, module), _template_match(dark, b, r, q, module))
            if score >= 0.8:  # diagonal: the third at the right angle, on either side
                middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
                options.extend(
                    (score, (middle[0] + sign * p[0] * distance / 2, middle[1] + sign * p[1] * distance / 2), r, q)
                    for sign in (1, -1)
                )
            for score, guess, u, v in options:
                if not (
                    -2 * module <= guess[0] <= width + 2 * module and -2 * module <= guess[1] <= height + 2 * module
                ):
                    continue
                found = next(
                    (
                        k
                        for k, f in enumerate(finders)
                        if k not in (i, j) and math.hypot(guess[0] - f.x, guess[1] - f.y) < 2 * module
                    ),
                    None,
                )
                key: object
                if found is not None:
                    # All three were there: repaint them crisp, on the positions found.
                    key, rank, third = frozenset((i, j, found)), 2.0 + score, (finders[found].x, finders[found].y)
                else:
                    key, rank, third = (i, j, round(guess[0]), round(guess[1])), score, guess
                if key not in plans or plans[key][0] < rank:
                    plans[key] = (rank, [a, b, third], u, v, module, found is None)
    best = sorted(plans.values(), key=lambda plan: -plan[0])[:limit]

    def painted(centres: list[_Vector], u: _Vector, v: _Vector, module: float) -> GrayImage:
        copy = image.copy()
        for centre in centres:
            _paint_finder(copy, centre, axes=(u, v), module=module, ink=ink, paper=paper)
        return copy

    for _, centres, u, v, module, _ in best:
        yield FinderRepair(painted(centres, u, v, module), nudged=False)
    for _, (a, b, guess), u, v, module, _ in [plan for plan in best if plan[5]][:_NUDGED_PLANS]:
        for du, dv in _NUDGES:
            third = (guess[0] + (du * u[0] + dv * v[0]) * module, guess[1] + (du * u[1] + dv * v[1]) * module)
            yield FinderRepair(painted([a, b, third], u, v, module), nudged=True)


# ---------------------------------------------------------------------------------------------------------------
# Rectification
#
# Tilted far enough, a symbol is sheared so much that zxing's finder pattern search (runs across, down and along the
# diagonal) no longer confirms its finders, and it is not even located. Three finders found by our own, more tolerant
# search fix an affine map that makes the symbol square again; zxing reads the warped copy. Which of the three is the
# corner finder cannot be told reliably under strong shear, so each is tried.

Affine = tuple[float, float, float, float, float, float]
_RECTIFY_CANDIDATES: Final = 4


def rectifications(image: GrayImage, finders: list[FinderPattern]) -> Iterator[tuple[GrayImage, Affine]]:
    """Square copies of a close-up, one per plausible corner arrangement of three finder patterns found in it, each
    with the affine map from its pixels back to the close-up's."""
    fill = int(np.median(image))
    for trio in itertools.combinations(finders[:_RECTIFY_CANDIDATES], 3):
        modules = [finder.module for finder in trio]
        if max(modules) > 1.5 * min(modules):
            continue
        module = sum(modules) / 3
        points = [(finder.x, finder.y) for finder in trio]
        for k in range(3):
            corner, u, v = points[k], points[(k + 1) % 3], points[(k + 2) % 3]
            across, down = (u[0] - corner[0], u[1] - corner[1]), (v[0] - corner[0], v[1] - corner[1])
            if across[0] * down[1] - across[1] * down[0] < 0:  # the top-right finder is clockwise from the corner
                across, down = down, across
            sides = (math.hypot(*across) / module, math.hypot(*down) / module)
            if not all(14 <= side <= 120 for side in sides) or max(sides) > 2 * min(sides):
                continue
            yield _warp(image, corner, across, down, fill=fill)


def _warp(image: GrayImage, corner: _Vector, across: _Vector, down: _Vector, *, fill: int) -> tuple[GrayImage, Affine]:
    """The parallelogram spanned by ``across`` and ``down`` from ``corner``, as a square with a margin around it."""
    side = max(math.hypot(*across), math.hypot(*down))
    margin = 0.25 * side
    a, b = across[0] / side, down[0] / side
    d, e = across[1] / side, down[1] / side
    affine = (a, b, corner[0] - margin * (a + b), d, e, corner[1] - margin * (d + e))
    size = round(side + 2 * margin)
    warped = Image.fromarray(image).transform(
        (size, size), Image.Transform.AFFINE, affine, resample=Image.Resampling.BICUBIC, fillcolor=fill
    )
    return np.asarray(warped), affine


# The locator's grid: cells of _CELL pixels, and the window sizes (in cells) a QR code may fill.
_CELL = 8
_WINDOWS = (8, 12, 18, 26, 38, 54)


def dense_regions(image: GrayImage, *, limit: int = 3) -> list[tuple[float, float, float, float]]:
    """The places of a view that look most like a QR code, as boxes in frame coordinates, best first.

    A QR code is a square where nearly every cell of a few pixels holds both dark and light modules; text, print
    patterns and edges leave more of their cells flat. Each window size gets its best few squares (at least 80% of
    cells with strong contrast, then the highest mean contrast), and the largest windows come first: the largest
    dense square at a place is most of the symbol there, and its box (with a margin of nearly half its size on each
    side) holds all of it.
    """
    height, width = image.shape
    rows, cols = height // _CELL, width // _CELL
    if min(rows, cols) <= _WINDOWS[0]:
        return []
    cells = image[: rows * _CELL, : cols * _CELL].reshape(rows * _CELL, cols, _CELL)
    high = np.maximum.reduce(cells, axis=2).reshape(rows, _CELL, cols).max(axis=1)
    low = np.minimum.reduce(cells, axis=2).reshape(rows, _CELL, cols).min(axis=1)
    contrast = high.astype(np.float32) - low.astype(np.float32)
    # Strong contrast: a good share of the strongest in view, and well above the sensor noise that the typical (flat)
    # cell of a photo shows.
    reference = max(float(np.percentile(contrast, 99.5)), 30.0)
    # When the symbol fills most of the view, the typical cell is busy too: never ask for more than most of the
    # strongest contrast.
    threshold = min(max(0.35 * reference, 2.5 * float(np.median(contrast))), 0.7 * reference)
    busy = (contrast > threshold).astype(np.float32)
    busy_sum = np.pad(busy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    contrast_sum = np.pad(contrast.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    found: list[tuple[float, int, int, int]] = []
    for size in _WINDOWS:
        if size >= min(rows, cols):
            break
        area = float(size * size)
        share = (
            busy_sum[size:, size:] - busy_sum[:-size, size:] - busy_sum[size:, :-size] + busy_sum[:-size, :-size]
        ) / area
        mean = (
            contrast_sum[size:, size:]
            - contrast_sum[:-size, size:]
            - contrast_sum[size:, :-size]
            + contrast_sum[:-size, :-size]
        ) / area
        score = np.where(share >= 0.8, share * mean, 0.0)
        for _ in range(limit):
            y, x = divmod(int(np.argmax(score)), score.shape[1])
            if score[y, x] <= 0:
                break
            found.append((float(score[y, x]), x, y, size))
            score[max(0, y - size) : y + size, max(0, x - size) : x + size] = 0.0
    found.sort(key=lambda item: (-item[3], -item[0]))
    boxes: list[tuple[float, float, float, float]] = []
    for _, x, y, size in found:
        side = size * _CELL
        centre = (x * _CELL + side / 2, y * _CELL + side / 2)
        if any(box[0] <= centre[0] <= box[2] and box[1] <= centre[1] <= box[3] for box in boxes):
            continue
        half = 0.95 * side
        boxes.append((centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half))
        if len(boxes) >= limit:
            break
    return boxes
