"""Background tasks ended when a service stops, and steps run side by side."""

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any

# How long a task that goes on after its cancellation is given before it is cancelled again: far longer than the
# clean-up a cancelled task does (an attempt storing its outcome).
CANCEL_AGAIN_SECONDS = 5.0


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancels `tasks` and returns once every one has ended, cancelling again every `CANCEL_AGAIN_SECONDS` one that
    goes on. Python 3.11's `asyncio.wait_for` (CPython issue 86296, fixed in 3.12), which PyMongo awaits every command
    through, loses a cancellation that arrives as the awaited answer does: a loop would then go on for good, and its
    service would never stop. What the tasks ended with is left to them: each logs its own failures."""
    pending = {task for task in tasks if not task.done()}
    try:
        while pending:
            for task in pending:
                task.cancel()
            done, pending = await asyncio.wait(pending, timeout=CANCEL_AGAIN_SECONDS)
            for task in done:
                if not task.cancelled():
                    # Retrieved, so that asyncio does not log it again as never retrieved.
                    task.exception()
    except BaseException:
        # The caller is cancelled in turn: those still running are cancelled once more on its way out.
        for task in pending:
            task.cancel()
        raise


async def side_by_side(*steps: Coroutine[Any, Any, Any]) -> list[Any]:
    """Runs independent steps at once (writes to different documents), and returns their results, in order, when
    all are done. The first failure is raised as it is, as the steps one after the other would have raised it (a
    store gone, a crash); the others are cancelled."""
    try:
        async with asyncio.TaskGroup() as running:
            tasks = [running.create_task(step) for step in steps]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]
