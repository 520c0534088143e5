"""Processes and ports on this Linux machine, seen through /proc: find ours, stop them, find who holds a port."""

import contextlib
import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ArgvMatcher = Callable[[list[str]], bool]

# Popen objects of servers this Python process started, kept so they are reaped (no zombies left while a
# long pytest session runs) and never garbage-collected with a "still running" ResourceWarning.
_children: dict[int, "subprocess.Popen[bytes]"] = {}
_exit_codes: dict[int, int] = {}
_EXITED_STATES = ("Z", "X")
_PF_KTHREAD = 0x00200000


def spawn_detached(argv: list[str], *, log_file: Path, cwd: Path, env: dict[str, str] | None = None) -> int:
    """Start argv in its own session, stdout and stderr appended to log_file, and return its pid."""
    with log_file.open("ab") as log:
        child = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C in the terminal that ran `up` must not reach the servers.
            start_new_session=True,
            close_fds=True,
        )
    _children[child.pid] = child
    return child.pid


def process_argv(pid: int) -> list[str] | None:
    """The command line of a live process, or None when it is gone, a zombie or a kernel thread."""
    # A JVM in its first milliseconds can show an empty cmdline while alive (observed with Java 17); a
    # false "gone" would make up() report a healthy start as a crash, so read again for a moment.
    for _ in range(50):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if raw:
            return raw.rstrip(b"\0").decode(errors="replace").split("\0")
        fields = _stat_fields(pid)
        if fields is None or fields[0] in _EXITED_STATES or int(fields[6]) & _PF_KTHREAD:
            return None
        time.sleep(0.01)
    return None


def is_alive(pid: int) -> bool:
    """Whether pid is a process that has not exited (zombies count as exited)."""
    return _start_time(pid) is not None


def _start_time(pid: int) -> str | None:
    """When a live process started (clock ticks since boot): with the pid, it names one process for good."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in _EXITED_STATES:
        return None
    return fields[19]


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat from the state letter on (index 0 = state, 1 = ppid, …)."""
    if pid in _children:
        _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name before them is parenthesised and may itself contain spaces or ')'.
    return stat.rpartition(")")[2].split()


def find_processes(matches: ArgvMatcher) -> list[int]:
    """Pids of live processes whose command line satisfies matches."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = process_argv(int(entry.name))
            if argv is not None and matches(argv):
                found.append(int(entry.name))
    return sorted(found)


def read_pid_file(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def write_pid_file(path: Path, pid: int) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(f"{pid}\n")
    partial.replace(path)


def remove_file(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def terminate(pids: Iterable[int], *, matches: ArgvMatcher, grace_seconds: float) -> list[int]:
    """SIGTERM the pids whose command line matches, SIGKILL those alive after the grace period; return survivors.

    The command line is checked right before SIGTERM and the process start time before SIGKILL, so a pid
    reused by an unrelated process since it was recorded is never signalled.
    """
    targets = {pid: start for pid in pids if _matches(pid, matches) and (start := _start_time(pid)) is not None}
    for pid in targets:
        _signal(pid, signal.SIGTERM)
    survivors = _wait_for_exit(targets, grace_seconds)
    for pid in survivors:
        _signal(pid, signal.SIGKILL)
    return list(_wait_for_exit(survivors, 10.0))


def _matches(pid: int, matches: ArgvMatcher) -> bool:
    argv = process_argv(pid)
    return argv is not None and matches(argv)


def _signal(pid: int, signal_number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal_number)


def _wait_for_exit(processes: dict[int, str], timeout: float) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    alive = dict(processes)
    while alive:
        # Liveness, not the command line: an exiting process loses its cmdline before it releases its
        # ports and files, and the start time tells a reused pid from ours.
        alive = {pid: start for pid, start in alive.items() if _start_time(pid) == start}
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return alive


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _exit_codes[pid] = child.returncode
        del _children[pid]


def exit_code(pid: int) -> int | None:
    """How a server started by this Python process ended, when it has."""
    _reap(pid)
    return _exit_codes.get(pid)


def port_accepts_connections(host: str, port: int, *, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now (SO_REUSEADDR, as Kafka and Go servers use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def wait_until_port_closed(host: str, port: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while port_accepts_connections(host, port, timeout=0.2):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def describe_listener(port: int) -> str | None:
    """'pid 123: python3 -m http.server' for the process listening on a TCP port, when /proc tells us."""
    pid = listening_pid(port)
    if pid is None:
        return None
    argv = process_argv(pid)
    return f"pid {pid}: {' '.join(argv) if argv else '?'}"


def listening_pid(port: int) -> int | None:
    """The process listening on a TCP port of this machine, when /proc tells us."""
    inodes = _listening_socket_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and wanted & _open_file_links(entry):
            return int(entry.name)
    return None


def _open_file_links(process_dir: Path) -> set[str]:
    links: set[str] = set()
    try:
        descriptors = list((process_dir / "fd").iterdir())
    except OSError:
        # Other users' processes are unreadable unless we are root; fine, the owner is only a hint.
        return links
    for descriptor in descriptors:
        # Descriptors come and go while we look (the listing's own among them).
        with contextlib.suppress(OSError):
            links.add(os.readlink(descriptor))
    return links


def _listening_socket_inodes(port: int) -> set[str]:
    listen_state = "0A"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == listen_state:
                inodes.add(fields[9])
    return inodes
