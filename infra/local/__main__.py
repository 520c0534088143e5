"""Command line of the local stack: `python3 -m infra.local up|down|status` from the repository root."""

import argparse
import sys
import time
from collections.abc import Sequence

from infra.local.stack import (
    CONTROLLER_PORT_ENV,
    KAFKA_PORT_ENV,
    MONGO_PORT_ENV,
    LocalStack,
    LocalStackError,
    StackConfig,
)

EXIT_OK = 0
EXIT_FAILED = 1
# As in LSB init scripts: `status` answers 3 when the service is not (fully) running.
EXIT_NOT_RUNNING = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m infra.local",
        description=(
            "A real Apache Kafka broker and a real FerretDB (MongoDB wire protocol) on 127.0.0.1, without Docker. "
            "Needs java 17+, and once, mvn and go to fetch and build them into .local/cache/."
        ),
        epilog=(
            f"Ports: {KAFKA_PORT_ENV} (9092), {CONTROLLER_PORT_ENV} (9093), {MONGO_PORT_ENV} (27017). "
            "Data, logs and pid files live in .local/data, .local/logs and .local/run."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{up,down,status,env}")
    commands.add_parser("up", help="start both servers (reusing running ones) and print their endpoints")
    commands.add_parser("down", help="stop both servers")
    commands.add_parser("status", help=f"show what runs; exit code {EXIT_NOT_RUNNING} unless both are healthy")
    commands.add_parser(
        "env",
        help="print PARTERRE_KAFKA_BOOTSTRAP and PARTERRE_MONGO_URL for this stack, a NAME=value a line, for `env`",
    )
    arguments = parser.parse_args(argv)
    if arguments.command == "env":
        # What the services `make up` starts are given: `make topics` and `make demo` reach the same servers.
        config = StackConfig.from_environment()
        print(f"PARTERRE_KAFKA_BOOTSTRAP={config.kafka_bootstrap}")
        print(f"PARTERRE_MONGO_URL={config.mongo_url}")
        return EXIT_OK

    try:
        stack = LocalStack(StackConfig.from_environment())
        if arguments.command == "up":
            return _up(stack)
        if arguments.command == "down":
            return _down(stack)
        return _status(stack)
    except LocalStackError as error:
        print(f"infra.local: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("infra.local: interrupted", file=sys.stderr)
        return 130


def _up(stack: LocalStack) -> int:
    started = time.monotonic()
    endpoints = stack.up()
    elapsed = time.monotonic() - started
    if endpoints.started:
        print(f"infra.local: ready in {elapsed:.1f} s", file=sys.stderr)
    else:
        print("infra.local: already running and healthy", file=sys.stderr)
    # Endpoints on stdout, one per line, so scripts can read them.
    print(f"kafka {endpoints.kafka_bootstrap}")
    print(f"mongodb {endpoints.mongo_url}")
    return EXIT_OK


def _down(stack: LocalStack) -> int:
    stopped = stack.down()
    print(f"stopped {' and '.join(stopped)}" if stopped else "nothing was running")
    return EXIT_OK


def _status(stack: LocalStack) -> int:
    statuses = stack.status()
    for status in statuses:
        if status.pid is None:
            state = "stopped"
        else:
            state = f"pid {status.pid}, {'healthy' if status.healthy else 'NOT ANSWERING'}"
        print(f"{status.name:<9} {status.address:<45} {state:<28} log {status.log_file}")
    return EXIT_OK if all(status.healthy for status in statuses) else EXIT_NOT_RUNNING


if __name__ == "__main__":
    sys.exit(main())
