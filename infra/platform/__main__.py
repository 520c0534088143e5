"""`python -m infra.platform up|down|status`, run by `make up`, `make down` and `make status` after the local
stack is up: the services and the console in the background, their URLs, and the pipeline's lag and dead letters."""

import argparse
import asyncio
import json
import os
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from infra.local.stack import StackConfig
from infra.platform.fleet import Fleet, FleetError, ServiceState
from infra.platform.kafka_state import DISTINCT_COUNT_LIMIT, pipeline_state

EXIT_NOT_RUNNING = 3


def fleet_from_environment(root: Path | None = None) -> Fleet:
    config = StackConfig.from_environment(root)
    return Fleet(root=config.root, kafka_bootstrap=config.kafka_bootstrap, mongo_url=config.mongo_url)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.platform", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the services not running and wait until all are ready")
    commands.add_parser("down", help="stop the services")
    commands.add_parser(
        "status",
        help=f"what runs, the lag per consumer group, dead letters; exit {EXIT_NOT_RUNNING} "
        "unless every service is ready",
    )
    arguments = parser.parse_args(argv)
    fleet = fleet_from_environment()
    try:
        if arguments.command == "up":
            states = fleet.up()
            print()
            _print_services(states)
            return 0
        if arguments.command == "down":
            fleet.down()
            return 0
    except FleetError as error:
        print(f"infra.platform: error: {error}", file=sys.stderr)
        return 1
    states = fleet.status()
    _print_services(states)
    try:
        groups = asyncio.run(pipeline_state(fleet.kafka_bootstrap, _namespace(states)))
    except Exception as error:  # a status report says what it could not read; it does not crash
        print(f"\nKafka: not readable ({type(error).__name__}: {error})")
    else:
        print(f"\n{'consumer group':<32} {'topic':<42} {'lag':>8} {'dead letters':>13}")
        for group in groups:
            dead_letters = f"{group.dead_letters:,}" + ("" if group.dead_letters_distinct else "*")
            print(f"{group.group_id:<32} {group.topic:<42} {group.lag:>8,} {dead_letters:>13}")
        if not all(group.dead_letters_distinct for group in groups):
            print(
                f"* more than {DISTINCT_COUNT_LIMIT:,} records: counted as records, a message dead-lettered twice "
                "(a consumer stopped before it committed) counts twice"
            )
    return 0 if all(state.ready for state in states) else EXIT_NOT_RUNNING


def _namespace(states: list[ServiceState]) -> str:
    """The Kafka namespace the running services use (the demo's is `demo.`), else the environment's."""
    for state in states:
        if state.ready:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{state.port}/healthz", timeout=2) as answer:
                    return str(json.loads(answer.read()).get("kafka_namespace", ""))
            except (OSError, ValueError):
                continue
    return os.environ.get("PARTERRE_KAFKA_NAMESPACE", "")


def _print_services(states: list[ServiceState]) -> None:
    for state in states:
        pid = f"pid {state.pid}" if state.pid else "-"
        print(f"{state.name:<9} {state.url + '/docs':<30} {pid:<12} {state.detail}")
    if all(state.ready for state in states):
        print("\nEach service: API docs at /docs, metrics at /metrics; logs under .local/logs/")


if __name__ == "__main__":
    sys.exit(main())
