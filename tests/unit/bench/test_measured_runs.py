"""A measured command's memory counts the processes it starts, not only its own."""

import subprocess
import sys
import textwrap
import time

from bench.support import peak_rss_kb, resident_kb_with_children, run_measured

# Holds 80 MB in a child process while the parent itself stays small.
HOLDING = "import time; held = b'x' * 80_000_000; print(flush=True); time.sleep(2)"
HOLDING_CHILD = textwrap.dedent(
    f"""
    import subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", {HOLDING!r}], stdout=subprocess.PIPE)
    child.stdout.readline()
    print("ready", flush=True)
    child.wait()
    """
)


def memory_once_ready(script: str) -> tuple[int, int]:
    """Runs `script` until it prints `ready`: its memory with its children's then, and its own peak, in kB."""
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline() == b"ready\n"
        return resident_kb_with_children(parent.pid), peak_rss_kb(parent.pid)
    finally:
        parent.wait()


def test_the_memory_of_a_commands_children_is_counted_with_its_own() -> None:
    together, alone = memory_once_ready(HOLDING_CHILD)
    # The parent alone is far below what the child holds: only the child can bring the total there.
    assert alone < 60_000
    assert together >= 78_000


SHARING_CHILD = textwrap.dedent(
    """
    import os, time
    held = b"x" * 80_000_000
    if os.fork() == 0:
        time.sleep(2)
        os._exit(0)
    print("ready", flush=True)
    os.wait()
    """
)


def test_pages_a_forked_child_shares_with_its_parent_count_once() -> None:
    together, _alone = memory_once_ready(SHARING_CHILD)
    assert 78_000 <= together < 120_000


def test_a_process_that_has_ended_has_no_memory() -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    time.sleep(0.1)
    assert resident_kb_with_children(ended.pid) == 0


def test_a_measured_run_reports_the_peak_of_the_command_and_its_children() -> None:
    run = run_measured([sys.executable, "-c", HOLDING_CHILD], {})
    assert run.returncode == 0
    assert run.peak_rss_mb >= 78
