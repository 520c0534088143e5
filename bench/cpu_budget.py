"""Where a run's machine time goes: the CPU seconds each process of it spent, read from Linux's /proc.

The goals are set for one two-core machine with everything on it, so 2,000 events/s leaves each event 1 ms of
CPU across every process; a figure per process says which part spends what. A process this machine does not
run (a server in a container, on another host) cannot be read and is left out, by name."""

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.support import Servers
from infra.local.processes import listening_pid

PROC = Path("/proc")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds the process has used so far, or None if it is gone or not readable."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces: the fields that follow are counted from its end.
    fields = stat.rsplit(")", 1)[1].split()
    user_ticks, system_ticks = int(fields[11]), int(fields[12])
    return (user_ticks + system_ticks) / os.sysconf("SC_CLK_TCK")


def process_name(pid: int) -> str | None:
    """The process's command name as the kernel keeps it (at most 15 characters), or None if it is gone."""
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return None


def kafka_pid(servers: Servers) -> int | None:
    """The broker's process, if it runs on this machine (the first broker named: the benchmark's servers are one)."""
    broker = urllib.parse.urlsplit(f"//{servers.kafka_bootstrap.split(',')[0]}")
    return _local_server(broker.hostname, broker.port or 9092)


def store_pid(servers: Servers) -> int | None:
    """The store's process, if it runs on this machine."""
    store = urllib.parse.urlsplit(servers.mongo_url)
    return _local_server(store.hostname, store.port or 27017)


def _local_server(host: str | None, port: int) -> int | None:
    # A server in a container is reached through a proxy listening here: its CPU is not the server's.
    if host not in LOOPBACK or (pid := listening_pid(port)) is None or process_name(pid) == "docker-proxy":
        return None
    return pid


@dataclass(frozen=True)
class Spent:
    """CPU seconds per process name, and the names that could not be read."""

    seconds: Mapping[str, float]
    unseen: tuple[str, ...]

    def per_event_note(self, events: int) -> str:
        parts = [
            f"{name} {1000 * seconds / events:.2f}"
            for name, seconds in sorted(self.seconds.items(), key=lambda item: -item[1])
        ]
        note = "ms of CPU per event: " + ", ".join(parts)
        if self.unseen:
            note += f"; not measured (not a process of this machine, or gone): {', '.join(self.unseen)}"
        return note


class CpuMeter:
    """The CPU each named process spends between `start` and `stop`."""

    def __init__(self, processes: Mapping[str, int | None]) -> None:
        self._processes = dict(processes)
        # Per name read at the start: its pid and the CPU seconds it had used then.
        self._started: dict[str, tuple[int, float]] = {}

    def start(self) -> None:
        self._started = {
            name: (pid, seconds)
            for name, pid in self._processes.items()
            if pid is not None and (seconds := cpu_seconds(pid)) is not None
        }

    def stop(self) -> Spent:
        spent: dict[str, float] = {}
        for name, (pid, before) in self._started.items():
            if (after := cpu_seconds(pid)) is not None:
                spent[name] = after - before
        unseen = tuple(name for name in self._processes if name not in spent)
        return Spent(spent, unseen)
