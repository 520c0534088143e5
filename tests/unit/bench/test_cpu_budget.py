"""The benchmark's CPU budget reads each process's CPU time and finds a server by the port it listens on."""

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cpu_budget import CpuMeter, Spent, _local_server, cpu_seconds, process_name
from infra.local.processes import listening_pid


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "30"])
    # Until `sleep` runs, the child is still a copy of this process, named as it is: wait for it to be asleep.
    deadline = time.monotonic() + 10
    while not _asleep_in(process.pid, "sleep") and time.monotonic() < deadline:
        time.sleep(0.01)
    yield process
    process.kill()
    process.wait()


def _asleep_in(pid: int, program: str) -> bool:
    try:
        running = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return running == program and state == "S"


def _spend_cpu(seconds: float) -> None:
    started = time.process_time()
    while time.process_time() - started < seconds:
        sum(range(1000))


def test_the_cpu_a_process_spends_is_counted() -> None:
    before = cpu_seconds(os.getpid())
    assert before is not None
    _spend_cpu(0.2)
    after = cpu_seconds(os.getpid())
    assert after is not None
    # Clock ticks are a hundredth of a second: the 0.2 s spent shows, give or take a tick.
    assert after - before >= 0.15


def test_a_process_that_ended_has_no_cpu_time(sleeper: subprocess.Popen[bytes]) -> None:
    assert cpu_seconds(sleeper.pid) is not None
    sleeper.kill()
    sleeper.wait()
    assert cpu_seconds(sleeper.pid) is None
    assert process_name(sleeper.pid) is None


def test_a_process_is_named_by_its_command(sleeper: subprocess.Popen[bytes]) -> None:
    assert process_name(sleeper.pid) == "sleep"


def test_the_process_listening_on_a_port_is_found(listener: int) -> None:
    assert listening_pid(listener) == os.getpid()


def test_a_port_nobody_listens_on_has_no_process() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bound_only:
        bound_only.bind(("127.0.0.1", 0))
        port = bound_only.getsockname()[1]
        assert listening_pid(port) is None


def test_only_a_server_on_this_machine_is_measured(listener: int) -> None:
    assert _local_server("127.0.0.1", listener) == os.getpid()
    assert _local_server("localhost", listener) == os.getpid()
    # Another host's server may listen on the same port number as a process here.
    assert _local_server("kafka.example.org", listener) is None


def test_the_meter_counts_each_process_and_names_those_it_cannot_read(sleeper: subprocess.Popen[bytes]) -> None:
    meter = CpuMeter({"benchmark": os.getpid(), "sleeper": sleeper.pid, "store": None})
    meter.start()
    _spend_cpu(0.2)
    spent = meter.stop()
    assert spent.seconds["benchmark"] >= 0.15
    assert spent.seconds["sleeper"] < 0.05
    assert spent.unseen == ("store",)


def test_a_process_gone_before_the_end_is_named_as_not_measured(sleeper: subprocess.Popen[bytes]) -> None:
    meter = CpuMeter({"benchmark": os.getpid(), "sleeper": sleeper.pid})
    meter.start()
    sleeper.kill()
    sleeper.wait()
    spent = meter.stop()
    assert set(spent.seconds) == {"benchmark"}
    assert spent.unseen == ("sleeper",)


def test_the_note_gives_milliseconds_per_event_largest_first() -> None:
    spent = Spent({"profile": 3.0, "store": 6.0, "ingest": 0.5}, unseen=("Kafka",))
    assert spent.per_event_note(2000) == (
        "ms of CPU per event: store 3.00, profile 1.50, ingest 0.25; "
        "not measured (not a process of this machine, or gone): Kafka"
    )
