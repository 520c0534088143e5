"""A long command shows how far it got as it goes, and its final count when done."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from shared.progress import with_progress


@dataclass
class Walk:
    visited: int = 0
    slots: int = 0


async def walk(show: Callable[[Walk], None]) -> Walk:
    report = Walk()
    for _ in range(3):
        report.visited += 5
        report.slots += 1
        show(report)
    return report


async def test_a_job_run_with_progress_returns_its_report_and_ends_on_its_final_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = await with_progress(
        walk,
        total=4,
        unit="profiles",
        done=lambda report: report.visited,
        details=lambda report: f"{report.slots} of 4 slots",
        position=lambda report: report.slots,
    )

    assert report == Walk(visited=15, slots=3)
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    # The bar follows the position (3 slots of 4), the count the items done.
    assert " 75.0%  15 profiles" in last_line
    assert last_line.endswith("3 of 4 slots")


async def test_without_a_position_the_bar_follows_the_count(capsys: pytest.CaptureFixture[str]) -> None:
    await with_progress(walk, total=30, unit="persons", done=lambda report: report.visited, details=lambda _: "")

    assert " 50.0%  15 persons" in capsys.readouterr().err.strip().splitlines()[-1]
