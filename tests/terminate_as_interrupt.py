"""A pytest plugin: SIGTERM and SIGHUP end the session as Ctrl-C does, its fixtures torn down.

By default such a signal ends Python at once, and the servers the session started (they run in sessions of their own,
out of reach of a signal to the process group) keep running, holding their ports against the next run."""

import signal

import pytest

from shared.signals import STOP_SIGNALS, stop_as_by_ctrl_c


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for number in STOP_SIGNALS:
        signal.signal(number, stop_as_by_ctrl_c)
