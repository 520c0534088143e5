"""A hung asynchronous test is cut before pytest-timeout, failing with the awaits it was stuck in."""

import asyncio
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, bounded


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


def _run_pytest_on(tmp_path: Path, test_source: str, *options: str) -> subprocess.CompletedProcess[str]:
    """A pytest session of its own over one test file, with this project's hooks and its ini's 300 s limit."""
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\ntimeout = 300\n")
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_runtest_call, pytest_runtest_protocol\n")
    (tmp_path / "test_inner.py").write_text(test_source)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *options, str(tmp_path / "test_inner.py")],
        cwd=tmp_path,
        # Only this file's limits: none a caller's environment adds.
        env={
            **{name: value for name, value in os.environ.items() if name not in ("PYTEST_ADDOPTS", "PYTEST_TIMEOUT")},
            "PYTHONPATH": str(REPO_ROOT),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


HANGING = """
import asyncio


async def test_waits_for_an_answer_that_never_comes():
    await asyncio.Event().wait()
"""


def test_a_hung_test_is_cut_before_the_limit_given_on_the_command_line_naming_where_it_waited(tmp_path: Path) -> None:
    # Cut at 9 s: 3 s left for the report before pytest-timeout's own limit, even on a busy machine.
    session = _run_pytest_on(tmp_path, HANGING, "--timeout=12")

    assert session.returncode == 1, session.stdout + session.stderr
    assert "TimeoutError" in session.stdout
    assert "await asyncio.Event().wait()" in session.stdout
    assert "from pytest-timeout" not in session.stdout, "pytest-timeout's own limit came first"


def test_a_limit_on_the_test_itself_is_kept_too(tmp_path: Path) -> None:
    marked = HANGING.replace("\n\nasync def", "\nimport pytest\n\n\n@pytest.mark.timeout(timeout=12)\nasync def")

    session = _run_pytest_on(tmp_path, marked)

    assert session.returncode == 1, session.stdout + session.stderr
    assert "TimeoutError" in session.stdout
    assert "from pytest-timeout" not in session.stdout
