"""The local stack runs one real broker and one real store per root, stops them fully, and says what blocks it."""

import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.stack import (
    FERRETDB_PPROF_ENV,
    LocalStack,
    LocalStackError,
    MissingToolError,
    PortBusyError,
    StackConfig,
)
from infra.local.wire import BsonDocument, decode_bson, encode_bson, kafka_brokers, mongo_command

# Away from the default stack (9092/9093/27017) and the test session's own (29092/29093/27217), which a
# developer or this very test run may have up.
KAFKA_PORT = 19092
CONTROLLER_PORT = 19093
MONGO_PORT = 27117


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(
        tmp_path / "stack", kafka_port=KAFKA_PORT, controller_port=CONTROLLER_PORT, mongo_port=MONGO_PORT
    )


@pytest.fixture
def stack(config: StackConfig) -> Iterator[LocalStack]:
    stack = LocalStack(config)
    yield stack
    stack.down()


def _up(stack: LocalStack) -> None:
    try:
        stack.up()
    except MissingToolError as missing:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(missing))


def _servers_under(root: Path) -> dict[str, list[int]]:
    """Live processes whose command line mentions root, by kind; read from /proc, not from the stack's code."""
    found: dict[str, list[int]] = {"kafka": [], "ferretdb": []}
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if not any(str(root) in argument for argument in argv):
            continue
        if "kafka.Kafka" in argv:
            found["kafka"].append(int(entry.name))
        elif Path(argv[0]).name == "ferretdb":
            found["ferretdb"].append(int(entry.name))
    return found


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_up_twice_keeps_one_broker_and_one_store(stack: LocalStack, config: StackConfig) -> None:
    _up(stack)
    pids_after_first_up = {status.name: status.pid for status in stack.status()}

    # A new LocalStack, as a second pytest session or terminal would build, must find the running servers.
    second = LocalStack(config).up()

    assert second.started is False
    assert second.kafka_bootstrap == f"127.0.0.1:{KAFKA_PORT}"
    assert second.mongo_url == f"mongodb://127.0.0.1:{MONGO_PORT}/"
    statuses = stack.status()
    assert {status.name: status.pid for status in statuses} == pids_after_first_up
    assert all(status.healthy for status in statuses)
    servers = _servers_under(config.root)
    assert servers == {"kafka": [pids_after_first_up["kafka"]], "ferretdb": [pids_after_first_up["ferretdb"]]}
    assert kafka_brokers("127.0.0.1", KAFKA_PORT)[0].port == KAFKA_PORT
    assert mongo_command("127.0.0.1", MONGO_PORT, {"buildInfo": 1, "$db": "admin"}).get("ferretdbVersion")


def test_ferretdb_serves_its_profiles_where_asked(
    stack: LocalStack, config: StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        pprof_port = probe.getsockname()[1]
    monkeypatch.setenv(FERRETDB_PPROF_ENV, f"127.0.0.1:{pprof_port}")
    _up(stack)

    with urllib.request.urlopen(f"http://127.0.0.1:{pprof_port}/debug/pprof/cmdline", timeout=5) as answer:
        command_line = answer.read().decode().split("\0")

    assert Path(command_line[0]).name == "ferretdb"
    assert f"-sqlite-dir={config.root / 'data' / 'ferretdb'}" in command_line
    # Kept by a later `up` that does not ask for them; one asking for them elsewhere is told to stop it first.
    monkeypatch.delenv(FERRETDB_PPROF_ENV)
    assert LocalStack(config).up().started is False
    monkeypatch.setenv(FERRETDB_PPROF_ENV, f"127.0.0.1:{pprof_port + 1}")
    with pytest.raises(LocalStackError, match="other settings than requested"):
        LocalStack(config).up()


def test_down_leaves_no_process_and_no_open_port(stack: LocalStack, config: StackConfig) -> None:
    _up(stack)

    stopped = stack.down()

    assert len(stopped) == 2
    assert _servers_under(config.root) == {"kafka": [], "ferretdb": []}
    assert not [port for port in (KAFKA_PORT, CONTROLLER_PORT, MONGO_PORT) if _accepts_connections(port)]
    assert not list(config.run_dir.glob("*.pid"))
    assert not [status for status in stack.status() if status.running]
    assert stack.down() == []


def test_busy_port_is_reported_clearly(stack: LocalStack, config: StackConfig) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", MONGO_PORT))
        squatter.listen()

        with pytest.raises(PortBusyError) as raised:
            stack.up()

    message = str(raised.value)
    assert f"port {MONGO_PORT}" in message
    assert "PARTERRE_LOCAL_MONGO_PORT" in message
    assert f"pid {os.getpid()}" in message
    # Nothing is half-started: the broker's ports were free, but it must not have been launched either.
    assert _servers_under(config.root) == {"kafka": [], "ferretdb": []}


def test_stale_pid_file_is_ignored(stack: LocalStack, config: StackConfig) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    config.run_dir.mkdir(parents=True)
    (config.run_dir / "kafka.pid").write_text(f"{finished.pid}\n")
    # A live process that is not ours (this test) must be neither mistaken for the store nor signalled.
    (config.run_dir / "ferretdb.pid").write_text(f"{os.getpid()}\n")

    _up(stack)

    pids = {status.name: status.pid for status in stack.status()}
    assert finished.pid not in pids.values()
    assert os.getpid() not in pids.values()
    assert (config.run_dir / "ferretdb.pid").read_text().strip() == str(pids["ferretdb"])
    assert stack.down() == [f"ferretdb (pid {pids['ferretdb']})", f"kafka (pid {pids['kafka']})"]


def test_one_server_stopped_comes_back_on_its_port_with_its_data(stack: LocalStack, config: StackConfig) -> None:
    _up(stack)
    before = {status.name: status.pid for status in stack.status()}
    formatted = (config.data_dir / "kafka" / "meta.properties").read_text()
    mongo_command(
        "127.0.0.1", MONGO_PORT, {"insert": "kept", "documents": [{"_id": "here", "n": 1}], "$db": "restarts"}
    )

    assert stack.stop("kafka") == [f"kafka (pid {before['kafka']})"]
    # The store goes on meanwhile: only the broker is away.
    during = {status.name: status for status in stack.status()}
    assert during["kafka"].pid is None
    assert not _accepts_connections(KAFKA_PORT)
    assert during["ferretdb"].pid == before["ferretdb"]
    assert during["ferretdb"].healthy
    assert stack.stop("ferretdb") == [f"ferretdb (pid {before['ferretdb']})"]
    assert _servers_under(config.root) == {"kafka": [], "ferretdb": []}

    assert stack.up().started
    assert all(status.healthy for status in stack.status())
    # The same storage, not a new cluster, and the store's documents are still there.
    assert (config.data_dir / "kafka" / "meta.properties").read_text() == formatted
    found = mongo_command("127.0.0.1", MONGO_PORT, {"find": "kept", "filter": {"_id": "here"}, "$db": "restarts"})
    cursor = found["cursor"]
    assert isinstance(cursor, dict)
    assert cursor["firstBatch"] == [{"_id": "here", "n": 1}]


def test_stopping_a_server_the_stack_does_not_have_is_refused(stack: LocalStack) -> None:
    with pytest.raises(LocalStackError, match="no server 'zookeeper'"):
        stack.stop("zookeeper")


def test_the_minimal_bson_codec_round_trips_a_command() -> None:
    command: BsonDocument = {
        "ping": 1,
        "$db": "admin",
        "big": 2**40,
        "ratio": 0.5,
        "flag": True,
        "none": None,
        "list": [1, "a"],
    }

    assert decode_bson(encode_bson(command)) == command


def test_a_cluster_id_that_starts_with_a_dash_still_formats_the_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid as uuid_module

    # 0xf8 as the first byte makes the URL-safe base64 id start with "-".
    monkeypatch.setattr(uuid_module, "uuid4", lambda: uuid_module.UUID(bytes=b"\xf8" + b"\x01" * 15))
    stack = LocalStack(StackConfig(root=tmp_path / "dash", kafka_port=19392, controller_port=19393, mongo_port=27417))
    try:
        endpoints = stack.up()
        assert endpoints.started
    finally:
        stack.down()
