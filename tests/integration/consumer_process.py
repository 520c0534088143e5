"""A consumer in its own process, so a test can kill it with SIGKILL in the middle of a message.

Usage: python consumer_process.py BOOTSTRAP TOPIC GROUP JOURNAL [HANG_ON_ID]
It appends `start <id>` and `done <id>` lines to JOURNAL, and never finishes HANG_ON_ID.
"""

import asyncio
import json
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from shared.kafka import ConsumedRecord, ConsumerMetrics, add_consumer, create_broker
from shared.settings import ServiceSettings


async def main(bootstrap: str, topic: str, group_id: str, journal: Path, hang_on: str | None) -> None:
    settings = ServiceSettings(kafka_bootstrap=bootstrap)
    registry = CollectorRegistry()
    broker = create_broker(settings, registry=registry)

    def note(line: str) -> None:
        with journal.open("a") as file:
            file.write(line + "\n")

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        message_id = consumed.message["id"]
        note(f"start {message_id}")
        if message_id == hang_on:
            await asyncio.Event().wait()
        note(f"done {message_id}")

    add_consumer(
        broker,
        topic=topic,
        group_id=group_id,
        decode=json.loads,
        handle=handle,
        settings=settings,
        metrics=ConsumerMetrics(registry),
    )
    await broker.start()
    note("ready")
    await asyncio.Event().wait()


if __name__ == "__main__":
    arguments = sys.argv[1:]
    hang_on = arguments[4] if len(arguments) > 4 else None
    asyncio.run(main(arguments[0], arguments[1], arguments[2], Path(arguments[3]), hang_on))
