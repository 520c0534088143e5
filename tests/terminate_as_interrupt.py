"""A pytest plugin: SIGTERM ends the session as Ctrl-C does, its fixtures torn down.

By default SIGTERM ends Python at once, and the servers the session started (they run in sessions of their own, out
of reach of a signal to the process group) keep running, holding their ports against the next run."""

import signal
from types import FrameType

import pytest


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    signal.signal(signal.SIGTERM, _interrupted)
