"""Signals asking a run to stop (SIGTERM, SIGHUP), taken as Ctrl-C is: its `finally` blocks and clean-ups run."""

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class StoppedError(KeyboardInterrupt):
    """A signal asking the run to stop, taken as Ctrl-C is; `exit_code` is the shell's for it (128 + its number)."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.exit_code = 128 + signal_number


def stop_as_by_ctrl_c(signal_number: int, _frame: FrameType | None) -> None:
    """A signal handler raising `StoppedError`."""
    raise StoppedError(signal_number)


STOP_SIGNALS = (signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else []))


@contextlib.contextmanager
def stopped_as_by_ctrl_c() -> Iterator[None]:
    """SIGTERM and SIGHUP (`timeout`, a terminal closed, a service manager, a CI job cancelled) stop the run as Ctrl-C
    does while the block runs: by their default effect, Python ends at once, and what the run started or wrote
    (scratch files, servers) stays behind."""
    if threading.current_thread() is not threading.main_thread():
        # Only the main thread may set handlers: run from another (a test, an embedding program), signals stay as set.
        yield
        return
    previous = {number: signal.signal(number, stop_as_by_ctrl_c) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            # None: a handler set outside Python, which cannot be put back from here.
            if handler is not None:
                signal.signal(number, handler)
