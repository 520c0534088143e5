"""The event loop the services run on, and that a benchmark running a service in its own process uses too."""

import asyncio

from shared.service import run_as_served


async def _running_loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_a_coroutine_run_as_the_services_are_runs_on_uvloop_and_returns_its_result() -> None:
    assert run_as_served(_running_loop_module()).startswith("uvloop")


def test_asyncio_s_own_loop_is_left_as_it_was() -> None:
    assert run_as_served(_running_loop_module()).startswith("uvloop")
    assert asyncio.run(_running_loop_module()) == "asyncio.unix_events"
