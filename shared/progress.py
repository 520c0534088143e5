"""A one-line progress report on stderr for long command-line jobs: how far through the input, and the rate."""

import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from shared.bilingual import format_count, is_singular
from shared.events import Language

Report = TypeVar("Report")


class ProgressLine:
    """Redrawn in place on a terminal; in a log, one line every ten seconds so the log stays readable."""

    def __init__(
        self,
        total: int,
        position: Callable[[], int],
        *,
        unit: str = "records",
        language: Language = "en",
        unit_one: str | None = None,
    ) -> None:
        """`unit` (and `unit_one`, for a count `language` says in the singular, when given) and the `details` given
        later are in `language`, which the figures are written in too."""
        self._total = max(total, 1)
        self._position = position
        self._unit = unit
        self._unit_one = unit_one or unit
        self._language: Language = language
        self._started = time.monotonic()
        self._shown = 0.0
        self._live = sys.stderr.isatty()
        self._drawn_in_place = False

    def update(self, done: int, details: str = "") -> None:
        now = time.monotonic()
        if now - self._shown < (0.5 if self._live else 10):
            return
        self._shown = now
        self._draw(done, details, now, end="\r" if self._live else "\n")

    def finish(self, done: int, details: str = "") -> None:
        self._draw(done, details, time.monotonic(), end="\n")

    def abandon(self) -> None:
        """Ends a line drawn in place, so that what is said next (why the job stopped) is not written over it."""
        if self._drawn_in_place:
            print(file=sys.stderr, flush=True)
            self._drawn_in_place = False

    def _draw(self, done: int, details: str, now: float, end: str) -> None:
        fraction = min(self._position() / self._total, 1.0)
        rate = done / max(now - self._started, 1e-6)
        bar = "#" * int(fraction * 30)
        suffix = f"  {details}" if details else ""
        if self._language == "fr":
            # 12,5 % and 1 234 fiches: French puts a comma before decimals, a space between thousands and before %.
            share = f"{fraction * 100:5.1f}".replace(".", ",") + "\u00a0%"
            unit = self._unit_one if is_singular(done, "fr") else self._unit
            figures = f"{share}  {format_count(done, 'fr')} {unit}  {format_count(round(rate), 'fr')}"
        else:
            figures = f"{fraction:6.1%}  {done:,} {self._unit}  {rate:,.0f}"
        print(
            f"[{bar:<30}] {figures} {self._unit}/s{suffix}",
            end=end,
            file=sys.stderr,
            flush=True,
        )
        self._drawn_in_place = end == "\r"


async def with_progress(
    job: Callable[[Callable[[Report], None]], Awaitable[Report]],
    *,
    total: int,
    unit: str,
    done: Callable[[Report], int],
    details: Callable[[Report], str],
    position: Callable[[Report], int] | None = None,
    language: Language = "en",
    unit_one: str | None = None,
) -> Report:
    """Runs `job`, which calls the function it is given with its report as it goes, showing each on a `ProgressLine`:
    `done` items so far, at `position` (`done` unless given) out of `total`. `unit`, `unit_one` and the `details` are
    in `language`, as for `ProgressLine`."""
    latest: list[Report] = []
    where = done if position is None else position

    def show(report: Report) -> None:
        latest[:] = [report]
        progress.update(done(report), details(report))

    progress = ProgressLine(
        total, lambda: where(latest[0]) if latest else 0, unit=unit, language=language, unit_one=unit_one
    )
    report = await job(show)
    latest[:] = [report]
    progress.finish(done(report), details(report))
    return report
