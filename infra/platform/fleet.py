"""The services as background processes: started with the project's Python, logs and pids under `.local/`,
ready when their `/readyz` answers 200."""

import contextlib
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.local.processes import (
    describe_listener,
    is_alive,
    port_is_free,
    process_argv,
    read_pid_file,
    remove_file,
    spawn_detached,
    write_pid_file,
)

# The console calls the other four, so it starts last.
SERVICES = ("ingest", "identity", "profile", "notify", "console")
DEFAULT_PORTS = {"ingest": 8001, "identity": 8002, "profile": 8003, "notify": 8004, "console": 8005}
READY_SECONDS = 90.0
STOP_GRACE_SECONDS = 15.0


def free_port() -> int:
    """A local port nothing listens on now, for a service started on demand."""
    return free_ports(1)[0]


def free_ports(count: int) -> tuple[int, ...]:
    """`count` different local ports nothing listens on now, for services started together.

    Every probe stays bound until all are chosen: a port freed by one probe may be handed to the next, and two
    services given one port leave one of them unable to start while the other answers its readiness check.
    """
    with contextlib.ExitStack() as probes:
        ports = []
        for _ in range(count):
            probe = probes.enter_context(socket.socket())
            probe.bind(("127.0.0.1", 0))
            ports.append(int(probe.getsockname()[1]))
        return tuple(ports)


class FleetError(Exception):
    """A service did not start or stop; the message says which and where its log is."""


@dataclass(frozen=True)
class ServiceState:
    name: str
    port: int
    pid: int | None
    ready: bool
    detail: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Fleet:
    root: Path
    kafka_bootstrap: str
    mongo_url: str
    # Settings every service gets on top of the environment (the demo allows its local receiver, say).
    extra_environment: tuple[tuple[str, str], ...] = ()
    ports: tuple[tuple[str, int], ...] = tuple(DEFAULT_PORTS.items())

    def port(self, name: str) -> int:
        return dict(self.ports)[name]

    def log_file(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.root / "run" / f"{name}.pid"

    def up(self, progress: Callable[[str], None] = print) -> list[ServiceState]:
        """Starts the services not running yet, then waits until every one is ready; raises FleetError with the
        log's tail when one stops or stays unready."""
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        (self.root / "run").mkdir(parents=True, exist_ok=True)
        self._check_ports_free()
        for name in SERVICES:
            if self._running_pid(name) is not None:
                progress(f"{name}: already running")
                continue
            environment = {
                **os.environ,
                "PARTERRE_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
                "PARTERRE_MONGO_URL": self.mongo_url,
                "PARTERRE_HTTP_PORT": str(self.port(name)),
                # Where the console finds the services' APIs; the other services ignore these.
                **{f"PARTERRE_CONSOLE_{peer.upper()}_URL": f"http://127.0.0.1:{self.port(peer)}" for peer in SERVICES},
                **dict(self.extra_environment),
            }
            pid = spawn_detached(
                [sys.executable, "-m", f"services.{name}"],
                log_file=self.log_file(name),
                cwd=Path.cwd(),
                env=environment,
            )
            write_pid_file(self.pid_file(name), pid)
            progress(f"{name}: started (pid {pid}), log {self.log_file(name)}")
        deadline = time.monotonic() + READY_SECONDS
        states = self.status()
        while not all(state.ready for state in states):
            for state in states:
                if state.pid is None:
                    raise FleetError(f"{state.name} stopped while starting:\n{self._tail(state.name)}")
            if time.monotonic() > deadline:
                waiting = ", ".join(f"{state.name} ({state.detail})" for state in states if not state.ready)
                raise FleetError(f"not ready after {READY_SECONDS:.0f} s: {waiting}; see {self.root / 'logs'}")
            time.sleep(0.25)
            states = self.status()
        return states

    def _check_ports_free(self) -> None:
        """Raises FleetError naming each port another program holds, before any service is started: started, the
        others would run on while the one that cannot listen stops, its log saying so among earlier runs'."""
        busy = []
        for name in SERVICES:
            port = self.port(name)
            if self._running_pid(name) is None and not port_is_free("127.0.0.1", port):
                holder = describe_listener(port)
                busy.append(f"{name}'s port {port} is already in use" + (f" by {holder}" if holder else ""))
        if busy:
            raise FleetError(
                f"the services cannot start: {'; '.join(busy)}. Stop that program (`ss -ltnp 'sport = :PORT'` "
                "names it) and start again; nothing was started."
            )

    def down(self, progress: Callable[[str], None] = print) -> None:
        """Stops every service: SIGTERM, then SIGKILL after a grace period (they commit and close on SIGTERM)."""
        running = {name: pid for name in SERVICES if (pid := self._running_pid(name)) is not None}
        for name, pid in running.items():
            # A service may have exited since it was found running: nothing left to stop then.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            progress(f"{name}: stopping (pid {pid})")
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while any(is_alive(pid) for pid in running.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for name, pid in running.items():
            if is_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                progress(f"{name}: killed after {STOP_GRACE_SECONDS:.0f} s")
        for name in SERVICES:
            remove_file(self.pid_file(name))

    def status(self) -> list[ServiceState]:
        states = []
        for name in SERVICES:
            pid = self._running_pid(name)
            if pid is None:
                states.append(ServiceState(name, self.port(name), None, False, "not running"))
                continue
            ready, detail = _readiness(self.port(name))
            states.append(ServiceState(name, self.port(name), pid, ready, detail))
        return states

    def pids(self) -> dict[str, int | None]:
        """Each service's process, None for one not running."""
        return {name: self._running_pid(name) for name in SERVICES}

    def _running_pid(self, name: str) -> int | None:
        pid = read_pid_file(self.pid_file(name))
        if pid is None or not is_alive(pid):
            return None
        argv = process_argv(pid) or []
        # A pid reused by another program since is not ours.
        return pid if f"services.{name}" in argv else None

    def _tail(self, name: str, lines: int = 25) -> str:
        try:
            text = self.log_file(name).read_text(errors="replace").splitlines()
        except OSError:
            return f"(no log at {self.log_file(name)})"
        return "\n".join(text[-lines:]) + f"\n(full log: {self.log_file(name)})"


def _readiness(port: int) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return answer.status == 200, "ready"
    except urllib.error.HTTPError as error:
        try:
            body = json.loads(error.read() or b"{}")
        except ValueError:
            body = {}
        return False, f"not ready: {body.get('checks', error.reason)}"
    except OSError:
        return False, "not answering yet"
