"""A server-rendered SVG pie chart: one path per slice, each with a <title> for screen
readers and tooltips. Pure arithmetic, no JavaScript."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

PALETTE = ("#0b6e4f", "#e09f3e", "#335c81", "#9e2a2b", "#6a4c93", "#2a9d8f", "#8d6a9f", "#c05746")


@dataclass(frozen=True)
class Slice:
    label: str
    value: int
    path: str
    color: str
    percent: float


def _point(fraction: float, radius: float, center: float) -> tuple[float, float]:
    angle = 2 * math.pi * fraction - math.pi / 2
    return center + radius * math.cos(angle), center + radius * math.sin(angle)


def pie_slices(
    items: Sequence[tuple[str, int]], radius: float = 90, center: float = 100
) -> list[Slice]:
    total = sum(value for _, value in items if value > 0)
    if total <= 0:
        return []
    slices, start = [], 0.0
    for index, (label, value) in enumerate(items):
        if value <= 0:
            continue
        fraction = value / total
        color = PALETTE[index % len(PALETTE)]
        if fraction >= 0.9999:
            path = (
                f"M {center - radius} {center} a {radius} {radius} 0 1 0 {2 * radius} 0 "
                f"a {radius} {radius} 0 1 0 {-2 * radius} 0 Z"
            )
        else:
            x1, y1 = _point(start, radius, center)
            x2, y2 = _point(start + fraction, radius, center)
            large = 1 if fraction > 0.5 else 0
            path = (
                f"M {center} {center} L {x1:.2f} {y1:.2f} "
                f"A {radius} {radius} 0 {large} 1 {x2:.2f} {y2:.2f} Z"
            )
        slices.append(Slice(label, value, path, color, round(fraction * 100, 1)))
        start += fraction
    return slices
