"""Bar charts drawn on the server as SVG: the geometry of horizontal bars, each row split into stacked parts.

No charting library and nothing fetched from another site: the page stays fast, printable and within its content
security policy, and each chart has its figures beside it as a table for screen readers."""

from collections.abc import Sequence
from dataclasses import dataclass

LABEL_WIDTH = 190
BAR_AREA = 420
VALUE_WIDTH = 90
ROW_HEIGHT = 28
BAR_HEIGHT = 18


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    value: float
    part: int


@dataclass(frozen=True)
class ChartRow:
    label: str
    y: float
    segments: tuple[Segment, ...]
    total: float
    # What is written at the end of the bar: the total, or a rate the caller formats.
    caption: str


@dataclass(frozen=True)
class BarChart:
    rows: tuple[ChartRow, ...]
    width: int
    height: int
    bar_height: int
    label_width: int


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[float]]],
    *,
    captions: Sequence[str] | None = None,
    scale_to: float | None = None,
) -> BarChart:
    """One row per `(label, parts)`: the parts side by side from the left, all rows on one scale, so the longest
    total (or `scale_to`) fills the bar area. Negative parts count as zero."""
    totals = [sum(max(part, 0.0) for part in parts) for _, parts in rows]
    longest = max([scale_to or 0.0, *totals, 0.0])
    unit = BAR_AREA / longest if longest > 0 else 0.0
    drawn = []
    for index, ((label, parts), total) in enumerate(zip(rows, totals, strict=True)):
        x = float(LABEL_WIDTH)
        segments = []
        for part_index, part in enumerate(parts):
            width = max(part, 0.0) * unit
            segments.append(Segment(round(x, 1), round(width, 1), part, part_index))
            x += width
        caption = captions[index] if captions is not None else f"{total:g}"
        drawn.append(ChartRow(label, index * ROW_HEIGHT, tuple(segments), total, caption))
    return BarChart(
        rows=tuple(drawn),
        width=LABEL_WIDTH + BAR_AREA + VALUE_WIDTH,
        height=max(len(drawn), 1) * ROW_HEIGHT,
        bar_height=BAR_HEIGHT,
        label_width=LABEL_WIDTH,
    )
