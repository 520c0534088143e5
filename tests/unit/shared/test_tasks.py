"""Background tasks end when their service stops, even one whose cancellation was lost; steps run side by side."""

import asyncio

import pytest

import shared.tasks
from shared.tasks import cancel_and_wait, side_by_side

# Far longer than ending the tasks takes: reached only if they do not end.
HANG_GUARD_SECONDS = 30


async def _loses_its_first_cancellation(cancellations: list[int]) -> None:
    """A loop whose first cancellation is lost, as Python 3.11's `asyncio.wait_for` loses one arriving with the
    awaited answer: it goes on until cancelled again."""
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancellations.append(1)
            if len(cancellations) > 1:
                raise


async def _fails(cancellations: list[int]) -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        cancellations.append(1)
        raise RuntimeError("failed while stopping") from None


async def test_a_task_that_lost_its_cancellation_is_cancelled_again_until_it_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shared.tasks, "CANCEL_AGAIN_SECONDS", 0.01)
    losing: list[int] = []
    failing: list[int] = []
    tasks = [
        asyncio.create_task(_loses_its_first_cancellation(losing)),
        asyncio.create_task(_fails(failing)),
        asyncio.create_task(asyncio.Event().wait()),
    ]
    await asyncio.sleep(0)

    async with asyncio.timeout(HANG_GUARD_SECONDS):
        await cancel_and_wait(tasks)

    assert all(task.done() for task in tasks)
    assert (len(losing), len(failing)) == (2, 1)
    assert isinstance(tasks[1].exception(), RuntimeError)
    assert tasks[2].cancelled()


async def test_tasks_ended_already_are_left_as_they_are() -> None:
    finished = asyncio.create_task(asyncio.sleep(0))
    await finished

    await cancel_and_wait([finished])

    assert not finished.cancelled()


async def test_steps_side_by_side_run_at_once_and_all_finish() -> None:
    started: list[str] = []
    both_started = asyncio.Event()
    finished: list[str] = []

    async def step(name: str) -> None:
        started.append(name)
        if len(started) == 2:
            both_started.set()
        # Each waits for the other to have begun: one after the other, they would never end.
        await both_started.wait()
        finished.append(name)

    results = await asyncio.wait_for(side_by_side(step("person"), step("blocks")), HANG_GUARD_SECONDS)

    assert sorted(finished) == ["blocks", "person"]
    assert results == [None, None]


async def test_steps_side_by_side_give_their_results_in_the_order_given() -> None:
    async def answer(value: int, pause: float) -> int:
        await asyncio.sleep(pause)
        return value

    assert await side_by_side(answer(1, 0.02), answer(2, 0), answer(3, 0.01)) == [1, 2, 3]


async def test_a_step_s_failure_is_raised_as_it_is_and_the_other_steps_are_cancelled() -> None:
    cancelled: list[str] = []

    async def waits() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("waits")
            raise

    async def fails() -> None:
        await asyncio.sleep(0)
        raise LookupError("the store refused it")

    with pytest.raises(LookupError, match="the store refused it"):
        await asyncio.wait_for(side_by_side(waits(), fails()), HANG_GUARD_SECONDS)
    assert cancelled == ["waits"]
