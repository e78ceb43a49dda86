"""Server-rendered SVG bar charts: pure geometry, one row per item, no JavaScript. The
templates draw the shapes, each with a <title>, and keep a table next to the chart.

`balance_bars` diverges from a middle axis (signed values: right is positive);
`stacked_bars` lays parts of one total end to end from the left."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ROW = 34
BAR = 20
LABEL_WIDTH = 190
VALUE_WIDTH = 110  # room for the value text beside the longest bar
WIDTH = 720


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    text_x: float  # where the value text starts (its anchor below)
    anchor: str  # "start" or "end"

    @property
    def text_y(self) -> float:
        return self.y + BAR / 2


@dataclass(frozen=True)
class BalanceChart:
    bars: list[Bar]
    axis: float
    width: int
    height: int
    bar_height: int = BAR


def balance_bars(items: Sequence[tuple[str, int]]) -> BalanceChart:
    """Bars from a middle axis: positive values to the right, negative to the left."""
    largest = max((abs(value) for _, value in items), default=0)
    half = (WIDTH - LABEL_WIDTH - 2 * VALUE_WIDTH) / 2
    axis = LABEL_WIDTH + VALUE_WIDTH + half
    bars = []
    for index, (label, value) in enumerate(items):
        length = half * abs(value) / largest if largest else 0.0
        length = max(length, 2.0) if value else 0.0
        x = axis if value >= 0 else axis - length
        if value >= 0:
            text_x, anchor = axis + length + 6, "start"
        else:
            text_x, anchor = axis - length - 6, "end"
        y = 8 + index * ROW
        bars.append(Bar(label, value, round(x, 2), y, round(length, 2), round(text_x, 2), anchor))
    return BalanceChart(bars, round(axis, 2), WIDTH, 16 + max(len(items), 1) * ROW)


@dataclass(frozen=True)
class Segment:
    part: str
    value: int
    x: float
    width: float


@dataclass(frozen=True)
class StackedRow:
    label: str
    total: int
    y: float
    segments: list[Segment]
    text_x: float

    @property
    def text_y(self) -> float:
        return self.y + BAR / 2


@dataclass(frozen=True)
class StackedChart:
    rows: list[StackedRow]
    width: int
    height: int
    bar_height: int = BAR


def stacked_bars(items: Sequence[tuple[str, Sequence[tuple[str, int]]]]) -> StackedChart:
    """One bar per item, its named parts end to end, all on the scale of the largest total."""
    largest = max((sum(v for _, v in parts) for _, parts in items), default=0)
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    rows = []
    for index, (label, parts) in enumerate(items):
        x = float(LABEL_WIDTH)
        segments = []
        for part, value in parts:
            if value <= 0:
                continue
            width = max(plot * value / largest, 2.0) if largest else 0.0
            segments.append(Segment(part, value, round(x, 2), round(width, 2)))
            x += width
        total = sum(v for _, v in parts)
        rows.append(StackedRow(label, total, 8 + index * ROW, segments, round(x + 6, 2)))
    return StackedChart(rows, WIDTH, 16 + max(len(items), 1) * ROW)
