"""Start, check and stop a real single-node Kafka broker and a real FerretDB on 127.0.0.1, without Docker."""

import abc
import base64
import contextlib
import fcntl
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from infra.local import processes
from infra.local.artefacts import (
    KAFKA_LOG4J_CONFIG,
    Artefacts,
    BuildError,
    LocalStackError,
    MissingToolError,
    Progress,
    check_tools,
    tail,
)
from infra.local.wire import kafka_broker_answers, mongo_ping_answers

__all__ = [
    "BuildError",
    "Endpoints",
    "LocalStack",
    "LocalStackError",
    "MissingToolError",
    "PortBusyError",
    "ServerStartError",
    "ServerStatus",
    "ServerStopError",
    "StackConfig",
]

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO_ROOT / ".local"
TEST_ROOT = DEFAULT_ROOT / "test-stack"
# Jars and the FerretDB binary are the same for every stack, so tests with their own roots share them.
SHARED_CACHE = DEFAULT_ROOT / "cache"
KAFKA_PORT_ENV = "PARTERRE_LOCAL_KAFKA_PORT"
CONTROLLER_PORT_ENV = "PARTERRE_LOCAL_CONTROLLER_PORT"
MONGO_PORT_ENV = "PARTERRE_LOCAL_MONGO_PORT"
# An address (127.0.0.1:6060) on which FerretDB serves Go's CPU profiles, to see where its time goes under load.
FERRETDB_PPROF_ENV = "PARTERRE_LOCAL_FERRETDB_PPROF"
KAFKA_NODE_ID = 1
# Fixed-size heap, as Kafka's own scripts do; 512 MB is plenty for tests and keeps the broker under ~0.8 GB.
KAFKA_JVM_OPTIONS = ("-Xms512m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true")
# "info" would log every client connection; warnings and errors are what a failed test needs.
FERRETDB_LOG_LEVEL = "warn"
HEALTH_PROBE_TIMEOUT = 1.0
# Separate from start_timeout and generous: a format killed halfway leaves a data directory Kafka rejects.
FORMAT_TIMEOUT = 180.0


class PortBusyError(LocalStackError):
    """A port the stack needs is held by a program that is not part of this stack."""


class ServerStartError(LocalStackError):
    """A server did not become healthy; the message carries the tail of its log."""


class ServerStopError(LocalStackError):
    """A server of ours, or its port, outlived down()."""


def _port_from_environment(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise LocalStackError(f"{variable}={raw!r} is not a TCP port number (1-65535); fix or unset it.")
    return int(raw)


@dataclass(frozen=True)
class StackConfig:
    """Where one stack keeps its data, logs and pid files, and the ports it listens on (all on 127.0.0.1)."""

    root: Path
    kafka_port: int = field(default_factory=lambda: _port_from_environment(KAFKA_PORT_ENV, 9092))
    controller_port: int = field(default_factory=lambda: _port_from_environment(CONTROLLER_PORT_ENV, 9093))
    mongo_port: int = field(default_factory=lambda: _port_from_environment(MONGO_PORT_ENV, 27017))
    cache_dir: Path = SHARED_CACHE
    start_timeout: float = 60.0
    stop_timeout: float = 30.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())
        object.__setattr__(self, "cache_dir", Path(self.cache_dir).resolve())
        ports = (self.kafka_port, self.controller_port, self.mongo_port)
        if len(set(ports)) != len(ports) or not all(0 < port < 65536 for port in ports):
            raise LocalStackError(f"the Kafka, controller and MongoDB ports must be distinct TCP ports, got {ports}")

    @classmethod
    def from_environment(cls, root: Path | None = None) -> "StackConfig":
        """The default stack (root `<repo>/.local`), ports from PARTERRE_LOCAL_*_PORT when set."""
        return cls(root if root is not None else DEFAULT_ROOT)

    @classmethod
    def for_tests(cls) -> "StackConfig":
        """The stack `make test` and `make bench` start: its own data and ports, so what they publish never
        waits in the topics of the stack `make up` and `make demo` use."""
        return cls(TEST_ROOT, kafka_port=29092, controller_port=29093, mongo_port=27217)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://{HOST}:{self.mongo_port}/"


@dataclass(frozen=True)
class Endpoints:
    """Where clients connect; started is False when up() found both servers already running and healthy."""

    kafka_bootstrap: str
    mongo_url: str
    started: bool


@dataclass(frozen=True)
class ServerStatus:
    name: str
    pid: int | None
    address: str
    healthy: bool
    log_file: Path

    @property
    def running(self) -> bool:
        return self.pid is not None


@dataclass(frozen=True)
class _Port:
    number: int
    role: str
    environment_variable: str
    config_field: str


@dataclass(frozen=True)
class _Launch:
    """A server process this call started, and where its logs stood before, so errors show only its lines."""

    pid: int
    log_offsets: dict[Path, int]


class _Server(abc.ABC):
    name: str

    def __init__(self, config: StackConfig, artefacts: Artefacts) -> None:
        self.config = config
        self.artefacts = artefacts

    @property
    def pid_file(self) -> Path:
        return self.config.run_dir / f"{self.name}.pid"

    @property
    @abc.abstractmethod
    def console_log(self) -> Path:
        """Where the process's stdout and stderr go."""

    @property
    def log_files(self) -> list[Path]:
        """The logs worth showing when it fails, most telling first."""
        return [self.console_log]

    @property
    @abc.abstractmethod
    def ports(self) -> list[_Port]: ...

    @property
    @abc.abstractmethod
    def address(self) -> str: ...

    @abc.abstractmethod
    def is_ours(self, argv: list[str]) -> bool:
        """Whether a command line is this server of this stack root (the marker that makes signalling safe)."""

    @abc.abstractmethod
    def settings_differ(self, argv: list[str]) -> bool:
        """Whether a running instance was started with other settings than the current config."""

    @abc.abstractmethod
    def is_healthy(self) -> bool: ...

    def needs_maven(self) -> bool:
        return False

    def needs_go(self) -> bool:
        return False

    @abc.abstractmethod
    def prepare(self, java: str | None, progress: Progress) -> None:
        """Fetch or build artefacts and write configuration; nothing runs yet."""

    @abc.abstractmethod
    def command(self, java: str | None) -> list[str]: ...

    def launch(self, java: str | None) -> _Launch:
        offsets = {path: path.stat().st_size if path.exists() else 0 for path in self.log_files}
        pid = processes.spawn_detached(self.command(java), log_file=self.console_log, cwd=self.config.root)
        processes.write_pid_file(self.pid_file, pid)
        return _Launch(pid, offsets)

    def running_pids(self) -> list[int]:
        """Our live processes for this server: the recorded pid first, then any orphan found in /proc."""
        found = processes.find_processes(self.is_ours)
        recorded = processes.read_pid_file(self.pid_file)
        if recorded in found:
            found.remove(recorded)
            found.insert(0, recorded)
        return found


class _KafkaServer(_Server):
    name = "kafka"

    @property
    def properties_file(self) -> Path:
        return self.config.run_dir / "kafka.properties"

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir / "kafka"

    @property
    def console_log(self) -> Path:
        # What the JVM prints before log4j is up, and StorageTool's output.
        return self.config.logs_dir / "kafka.console.log"

    @property
    def log_files(self) -> list[Path]:
        # kafka.log is written by log4j (infra/local/kafka/log4j2.properties).
        return [self.config.logs_dir / "kafka.log", self.console_log]

    @property
    def ports(self) -> list[_Port]:
        return [
            _Port(self.config.kafka_port, "Kafka clients", KAFKA_PORT_ENV, "kafka_port"),
            _Port(self.config.controller_port, "Kafka KRaft controller", CONTROLLER_PORT_ENV, "controller_port"),
        ]

    @property
    def address(self) -> str:
        return f"{self.config.kafka_bootstrap} (controller {HOST}:{self.config.controller_port})"

    def is_ours(self, argv: list[str]) -> bool:
        return "kafka.Kafka" in argv and str(self.properties_file) in argv

    def settings_differ(self, argv: list[str]) -> bool:
        try:
            return self.properties_file.read_text() != self._properties()
        except OSError:
            return True

    def is_healthy(self) -> bool:
        return kafka_broker_answers(HOST, self.config.kafka_port, node_id=KAFKA_NODE_ID, timeout=HEALTH_PROBE_TIMEOUT)

    def needs_maven(self) -> bool:
        return not self.artefacts.kafka_ready()

    def prepare(self, java: str | None, progress: Progress) -> None:
        self.artefacts.ensure_kafka(progress)
        self.properties_file.write_text(self._properties())
        if not (self.data_dir / "meta.properties").exists():
            progress(f"formatting Kafka storage in {self.data_dir} (first start only)…")
            self._format_storage(java)

    def command(self, java: str | None) -> list[str]:
        return self._java_command(java, "kafka.Kafka", str(self.properties_file))

    def _java_command(self, java: str | None, main_class: str, *arguments: str) -> list[str]:
        if java is None:
            raise MissingToolError("Kafka needs java, and none was found.")
        return [
            java,
            *KAFKA_JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={KAFKA_LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={self.config.logs_dir}",
            "-cp",
            # Expanded by the JVM itself, not by a shell.
            f"{self.artefacts.kafka_lib}/*",
            main_class,
            *arguments,
        ]

    def _format_storage(self, java: str | None) -> None:
        # Kafka wants a cluster id of 16 random bytes in unpadded URL-safe base64.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        console_log = self.console_log
        offset = console_log.stat().st_size if console_log.exists() else 0
        # `--cluster-id=…` in one word: an id may start with "-", which the tool would take for an option.
        storage_arguments = [
            "format",
            f"--cluster-id={cluster_id}",
            "-c",
            str(self.properties_file),
            "--ignore-formatted",
        ]
        argv = self._java_command(java, "kafka.tools.StorageTool", *storage_arguments)
        with console_log.open("ab") as log:
            try:
                result = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=FORMAT_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise ServerStartError(
                    f"Formatting Kafka storage in {self.data_dir} took longer than {FORMAT_TIMEOUT:.0f} s. "
                    f"Last lines of {console_log}:\n{tail(console_log, since_byte=offset)}"
                ) from None
        if result.returncode != 0:
            raise ServerStartError(
                f"Formatting Kafka storage in {self.data_dir} failed (exit code {result.returncode}). "
                f"Last lines of {console_log}:\n{tail(console_log, since_byte=offset)}"
            )

    def _properties(self) -> str:
        controller = f"{HOST}:{self.config.controller_port}"
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(KAFKA_NODE_ID),
            # Static voters: storage is formatted without --standalone.
            "controller.quorum.voters": f"{KAFKA_NODE_ID}@{controller}",
            "listeners": f"PLAINTEXT://{self.config.kafka_bootstrap},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{self.config.kafka_bootstrap}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "default.replication.factor": "1",
            # As in production (docker-compose.yml): topics come from the catalog, and one missing from it fails here.
            "auto.create.topics.enable": "false",
            # One broker: every internal topic must be satisfied by a single replica, and a few partitions
            # instead of 50 make the first consumer group / transaction start quickly.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "share.coordinator.state.topic.num.partitions": "1",
            # The default 3 s delay would be added to every test's first group join.
            "group.initial.rebalance.delay.ms": "0",
            # Kafka 4.1's group coordinator holds each offset commit up to 5 ms, hoping to write several at once: on
            # this machine a commit took 5.5-6.1 ms at p50 against 0.5-1.0 with no hold. Each consumer commits after
            # every batch and fetches the next only then: identity given 1,000 facts/s spent 6 of 25 s waiting on
            # commits. Later Kafka releases flush as soon as nothing more is queued (KAFKA-19826).
            "group.coordinator.append.linger.ms": "0",
        }
        lines = [f"{key}={value}" for key, value in settings.items()]
        return "# Written by infra/local/stack.py at every start; edits are overwritten.\n" + "\n".join(lines) + "\n"


class _FerretDBServer(_Server):
    name = "ferretdb"

    @property
    def sqlite_dir(self) -> Path:
        return self.config.data_dir / "ferretdb"

    @property
    def console_log(self) -> Path:
        return self.config.logs_dir / "ferretdb.log"

    @property
    def ports(self) -> list[_Port]:
        return [_Port(self.config.mongo_port, "FerretDB's MongoDB wire protocol", MONGO_PORT_ENV, "mongo_port")]

    @property
    def address(self) -> str:
        return self.config.mongo_url

    @property
    def _listen_argument(self) -> str:
        return f"-listen-addr={HOST}:{self.config.mongo_port}"

    def is_ours(self, argv: list[str]) -> bool:
        return Path(argv[0]).name == "ferretdb" and f"-sqlite-dir={self.sqlite_dir}" in argv

    def settings_differ(self, argv: list[str]) -> bool:
        # One serving profiles nobody asked for is kept; one asked to serve them and not doing so must start again.
        profiles = self._pprof_argument()
        return self._listen_argument not in argv or (profiles is not None and profiles not in argv)

    @staticmethod
    def _pprof_argument() -> str | None:
        address = os.environ.get(FERRETDB_PPROF_ENV)
        return f"-pprof-addr={address}" if address else None

    def is_healthy(self) -> bool:
        return mongo_ping_answers(HOST, self.config.mongo_port, timeout=HEALTH_PROBE_TIMEOUT)

    def needs_go(self) -> bool:
        return not self.artefacts.ferretdb_ready()

    def prepare(self, java: str | None, progress: Progress) -> None:
        self.artefacts.ensure_ferretdb(progress)
        self.sqlite_dir.mkdir(parents=True, exist_ok=True)

    def command(self, java: str | None) -> list[str]:
        profiles = self._pprof_argument()
        return [
            str(self.artefacts.ferretdb_binary),
            self._listen_argument,
            f"-sqlite-dir={self.sqlite_dir}",
            f"-log-level={FERRETDB_LOG_LEVEL}",
            *([profiles] if profiles else []),
        ]


def _print_progress(message: str) -> None:
    print(f"infra.local: {message}", file=sys.stderr, flush=True)


class LocalStack:
    """One Kafka broker and one FerretDB for a StackConfig; up() is idempotent, down() leaves nothing behind."""

    def __init__(self, config: StackConfig, *, progress: Progress = _print_progress) -> None:
        self.config = config
        self._progress = progress
        artefacts = Artefacts(config.cache_dir)
        self._kafka = _KafkaServer(config, artefacts)
        self._ferretdb = _FerretDBServer(config, artefacts)
        # FerretDB first: it is ready in a fraction of a second and its failures are cheaper to report.
        self._servers: list[_Server] = [self._ferretdb, self._kafka]

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(self.config.kafka_bootstrap, self.config.mongo_url, started=False)

    def up(self) -> Endpoints:
        """Start whatever is not running yet and wait until both servers answer real requests."""
        with self._lock():
            running: dict[_Server, int] = {}
            for server in self._servers:
                pid = self._adopt_running(server)
                if pid is not None:
                    running[server] = pid
            to_start = [server for server in self._servers if server not in running]
            if not to_start:
                self._wait_until_healthy(running, {})
                return self.endpoints
            self._check_ports_free(to_start)
            java = check_tools(
                java=self._kafka in to_start,
                maven=any(server.needs_maven() for server in to_start),
                go=any(server.needs_go() for server in to_start),
            )
            for server in to_start:
                server.prepare(java, self._progress)
            launches: dict[_Server, _Launch] = {}
            try:
                for server in to_start:
                    self._progress(f"starting {server.name} on {server.address}…")
                    launches[server] = server.launch(java)
                self._wait_until_healthy(running, launches)
            except BaseException:
                # All or nothing: a half-started stack would be mistaken for a running one by the next up().
                with contextlib.suppress(LocalStackError):
                    self._stop(list(launches))
                raise
            return Endpoints(self.config.kafka_bootstrap, self.config.mongo_url, started=True)

    def down(self) -> list[str]:
        """Stop both servers (SIGTERM, then SIGKILL after stop_timeout); return what was stopped."""
        with self._lock():
            return self._stop(self._servers)

    def stop(self, name: str) -> list[str]:
        """Stop one server (`kafka` or `ferretdb`) as down() would, its data kept; up() starts it again on the same
        ports and data. For tests that take the broker or the store away in the middle of a run."""
        servers = {server.name: server for server in self._servers}
        if name not in servers:
            raise LocalStackError(f"no server {name!r} in the local stack; it has {', '.join(sorted(servers))}")
        with self._lock():
            return self._stop([servers[name]])

    def status(self) -> list[ServerStatus]:
        statuses = []
        for server in self._servers:
            pids = server.running_pids()
            pid = pids[0] if pids else None
            statuses.append(
                ServerStatus(
                    name=server.name,
                    pid=pid,
                    address=server.address,
                    healthy=pid is not None and server.is_healthy(),
                    log_file=server.log_files[0],
                )
            )
        return statuses

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        # Two pytest sessions (or a terminal and a test run) calling up() at once must not start two brokers.
        for directory in (self.config.data_dir, self.config.logs_dir, self.config.run_dir):
            directory.mkdir(parents=True, exist_ok=True)
        with (self.config.run_dir / ".stack.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _adopt_running(self, server: _Server) -> int | None:
        pids = server.running_pids()
        if not pids:
            processes.remove_file(server.pid_file)
            return None
        pid = pids[0]
        argv = processes.process_argv(pid) or []
        if server.settings_differ(argv):
            raise LocalStackError(
                f"{server.name} of the stack in {self.config.root} is already running (pid {pid}) with other "
                f"settings than requested ({server.address}). Stop it first (`python3 -m infra.local down` "
                "for the default stack, LocalStack.down() otherwise) and run up again."
            )
        if processes.read_pid_file(server.pid_file) != pid:
            processes.write_pid_file(server.pid_file, pid)
        return pid

    def _check_ports_free(self, servers: list[_Server]) -> None:
        busy = [port for server in servers for port in server.ports if not processes.port_is_free(HOST, port.number)]
        if not busy:
            return
        descriptions = []
        for port in busy:
            holder = processes.describe_listener(port.number)
            held_by = f" by {holder}" if holder else ""
            descriptions.append(f"port {port.number} ({port.role}) is already in use{held_by}")
        raise PortBusyError(
            f"The local stack cannot start: on {HOST}, {'; '.join(descriptions)}, and not by this stack "
            f"(root {self.config.root}). Free it (`ss -ltnp 'sport = :{busy[0].number}'` names the program "
            "holding it) or choose another port: set "
            + " ".join(f"{port.environment_variable}=<free port>" for port in busy)
            + " before `python3 -m infra.local up`, or pass StackConfig("
            + ", ".join(f"{port.config_field}=..." for port in busy)
            + ") from Python."
        )

    def _wait_until_healthy(self, running: dict[_Server, int], launches: dict[_Server, _Launch]) -> None:
        deadline = time.monotonic() + self.config.start_timeout
        pending = {server: launch.pid for server, launch in launches.items()} | running
        while pending:
            for server, pid in list(pending.items()):
                if server.is_healthy():
                    del pending[server]
                elif not processes.is_alive(pid):
                    code = processes.exit_code(pid)
                    ended = f"exited with code {code}" if code is not None else "exited"
                    raise ServerStartError(
                        f"{server.name} (pid {pid}) {ended} before answering on {server.address}. "
                        + self._log_tails(server, launches.get(server))
                    )
            if pending and time.monotonic() > deadline:
                server, pid = next(iter(pending.items()))
                raise ServerStartError(
                    f"{server.name} (pid {pid}) did not answer on {server.address} within "
                    f"{self.config.start_timeout:.0f} s. "
                    + self._log_tails(server, launches.get(server))
                    + " If it is stuck, `python3 -m infra.local down` stops it."
                )
            if pending:
                time.sleep(0.1)

    def _log_tails(self, server: _Server, launch: _Launch | None) -> str:
        sections = []
        for log_file in server.log_files:
            since = launch.log_offsets.get(log_file, 0) if launch else 0
            if log_file.exists() and log_file.stat().st_size > since:
                sections.append(f"Last lines of {log_file}:\n{tail(log_file, since_byte=since)}")
        return "\n".join(sections) or f"It wrote nothing to {' or '.join(map(str, server.log_files))}."

    def _stop(self, servers: list[_Server]) -> list[str]:
        targets = {server: server.running_pids() for server in servers}

        def is_any_of_ours(argv: list[str]) -> bool:
            return any(server.is_ours(argv) for server in servers)

        all_pids = [pid for pids in targets.values() for pid in pids]
        survivors = processes.terminate(all_pids, matches=is_any_of_ours, grace_seconds=self.config.stop_timeout)
        for server in servers:
            processes.remove_file(server.pid_file)
        problems = [f"pid {pid} survived SIGKILL" for pid in survivors]
        for server, pids in targets.items():
            if not pids:
                continue
            for port in server.ports:
                if not processes.wait_until_port_closed(HOST, port.number, timeout=5.0):
                    problems.append(f"port {port.number} ({port.role}) still accepts connections")
        if problems:
            raise ServerStopError(
                f"The local stack in {self.config.root} did not stop cleanly: {'; '.join(problems)}. "
                "Check with `ss -ltnp` and `ps -ef`."
            )
        return [f"{server.name} (pid {', '.join(map(str, pids))})" for server, pids in targets.items() if pids]
