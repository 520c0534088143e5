"""What every benchmark needs: real servers, sample events, and a result row."""

import contextlib
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.local.stack import LocalStack, StackConfig
from shared.events import Envelope, all_event_types, build_envelope
from shared.mongo import mongo_client
from shared.topic_admin import delete_namespace_topics

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    goal: str = ""
    note: str = ""


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as aligned text columns, the first row a header underlined."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    mongo_url: str


@contextlib.contextmanager
def servers() -> Iterator[Servers]:
    """The servers named by KAFKA_BOOTSTRAP / MONGO_URL, else the local stack (stopped again if started here)."""
    if os.environ.get("KAFKA_BOOTSTRAP") and os.environ.get("MONGO_URL"):
        yield Servers(os.environ["KAFKA_BOOTSTRAP"], os.environ["MONGO_URL"])
        return
    stack = LocalStack(StackConfig.for_tests())
    endpoints = stack.up()
    try:
        yield Servers(endpoints.kafka_bootstrap, endpoints.mongo_url)
    finally:
        if endpoints.started:
            stack.down()


async def discard_run(servers: Servers, database: str, namespace: str) -> None:
    """Drops a run's database and deletes its topics. The topics go even when the store cannot be reached (its
    error is raised after): a broker keeping every failed run's topics slows the runs after it."""
    try:
        async with mongo_client(servers.mongo_url, app_name="parterre-bench") as client:
            await client.drop_database(database)
    finally:
        await delete_namespace_topics(servers.kafka_bootstrap, namespace)


def ticket_purchases(count: int, organisation_id: str, customers: int = 5000) -> list[Envelope]:
    """Realistic ticket purchases: the catalog's example with a distinct id and customer each."""
    ticket = next(event for event in all_event_types() if event.name == "parterre.ticket.purchased.v1")
    base = ticket.model.model_validate(ticket.example)
    start = datetime(2026, 9, 1, 12, tzinfo=UTC)
    envelopes = []
    for number in range(count):
        person = base.person.model_copy(update={"external_id": f"c{number % customers}"})  # type: ignore[attr-defined]
        data = base.model_copy(update={"person": person, "order_id": f"o{number}"})
        envelopes.append(
            build_envelope(
                data,
                organisation_id=organisation_id,
                source=f"/orgs/{organisation_id}/sources/bench",
                id=str(uuid.uuid4()),
                time=start + timedelta(seconds=number),
            )
        )
    return envelopes


@contextlib.contextmanager
def service_process(module: str, environment: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A service started the way operators start it (`python -m services.<name>`), stopped afterwards."""
    log_path = REPO_ROOT / ".local" / "logs" / f"bench-{module.rsplit('.', 1)[-1]}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, **environment, "PYTHONPATH": str(REPO_ROOT), "PARTERRE_LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        _wait_until_ready(process, port, log_path)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_ready(process: subprocess.Popen[bytes], port: int, log_path: Path, seconds: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the service exited before it was ready; {log_path} ends with:\n{error}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the service did not answer /readyz on port {port} within {seconds} s")


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user and system), from /proc: what it cost, whatever else ran."""
    with open(f"/proc/{pid}/stat") as stat:
        # Fields after the command name, which is in parentheses and may contain spaces.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class MeasuredRun:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float


def run_measured(command: list[str], environment: dict[str, str]) -> MeasuredRun:
    """Runs a command to its end, timing it and sampling its peak memory twice a second, with its own children's."""
    started = time.perf_counter()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The child's own peak (VmHWM of its exec'd image): `ru_maxrss` would also count the pages of this
    # benchmark process, which the child inherits at fork until it execs. A process the command starts (the
    # batch's line preparer) counts too: the resident memory of all of them together, as sampled.
    peak_kb = 0
    while process.poll() is None:
        peak_kb = max(peak_kb, peak_rss_kb(process.pid), resident_kb_with_children(process.pid))
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    stdout, stderr = process.communicate()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    return MeasuredRun(seconds, peak_kb / 1024, process.returncode, stdout.decode(), stderr.decode(), cpu)


def peak_rss_kb(pid: int) -> int:
    return _status_kb(pid, "VmHWM:")


def resident_kb_with_children(pid: int) -> int:
    """The resident memory of `pid` and of every process below it, now. A page they share (a forked child shares
    its parent's until either writes it) is counted once, in shares: their proportional set sizes."""
    total, waiting, seen = 0, [pid], set()
    while waiting:
        current = waiting.pop()
        if current in seen:
            continue
        seen.add(current)
        total += _proportional_kb(current)
        waiting.extend(_children_of(current))
    return total


def _proportional_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return next((int(line.split()[1]) for line in rollup if line.startswith("Pss:")), 0)
    except OSError:
        # A kernel without it: resident pages, shared ones counted in each process.
        return _status_kb(pid, "VmRSS:")


def _children_of(pid: int) -> list[int]:
    children: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                children.extend(int(child) for child in (task / "children").read_text().split())
    except OSError:
        pass
    return children


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith(field)), 0)
    except OSError:
        return 0
