"""A hung asynchronous test is cut before pytest-timeout, failing with the awaits it was stuck in."""

import asyncio
import traceback

import pytest

from tests.conftest import bounded


async def _waiting_for_an_answer_that_never_comes() -> None:
    await asyncio.Event().wait()


async def test_a_test_past_its_limit_fails_naming_the_await_it_was_stuck_in() -> None:
    with pytest.raises(TimeoutError) as raised:
        await bounded(_waiting_for_an_answer_that_never_comes, 0.05)()
    stuck = traceback.extract_tb(raised.value.__cause__.__traceback__)  # type: ignore[union-attr]
    assert "_waiting_for_an_answer_that_never_comes" in [frame.name for frame in stuck]


async def test_a_test_within_its_limit_runs_with_its_arguments_and_returns_as_it_would() -> None:
    async def adds(a: int, *, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    assert await bounded(adds, 5)(2, b=3) == 5
