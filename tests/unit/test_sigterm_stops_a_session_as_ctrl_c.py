"""SIGTERM to a test session (a CI job cancelled, `kill`) tears its fixtures down, as Ctrl-C does: the servers a
session started are stopped, not left holding their ports."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

A_SESSION_WITH_SERVERS = """
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def servers():
    yield
    (HERE / "stopped").write_text("servers stopped")


def test_waiting_on_them(servers):
    (HERE / "started").write_text("")
    time.sleep(60)
"""


def _terminated_session(tmp_path: Path, *plugins: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_session.py").write_text(textwrap.dedent(A_SESSION_WITH_SERVERS), encoding="utf-8")
    options = [option for plugin in plugins for option in ("-p", plugin)]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(tmp_path)]
    session = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy()
    )
    until = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert session.poll() is None, session.communicate()[0]
        assert time.monotonic() < until, "the test never started"
        time.sleep(0.05)
    session.send_signal(signal.SIGTERM)
    output, _ = session.communicate(timeout=30)
    return subprocess.CompletedProcess(command, session.returncode, output)


def test_sigterm_tears_the_session_fixtures_down(tmp_path: Path) -> None:
    ended = _terminated_session(tmp_path, "tests.terminate_as_interrupt")

    assert (tmp_path / "stopped").read_text() == "servers stopped", ended.stdout
    assert ended.returncode != 0


def test_without_the_plugin_sigterm_would_leave_them_running(tmp_path: Path) -> None:
    _terminated_session(tmp_path)

    assert not (tmp_path / "stopped").exists()
