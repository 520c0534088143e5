"""Every command a MongoDB client sends, to count what a piece of work costs the store."""

from typing import Any

from pymongo import monitoring


class CommandLog(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[tuple[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append((event.command_name, event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def count(self, name: str, collection: str | None = None) -> int:
        """Commands `name` (find, insert, update…), on `collection` if given."""
        return sum(
            1
            for command_name, command in self.commands
            if command_name == name and (collection is None or command[command_name] == collection)
        )

    def found_ids(self) -> list[str]:
        """What each find looked for, after its collection: its `_id`, or its whole filter when it looks by
        something else."""
        return [
            f"{command['find']}:{command['filter'].get('_id', command['filter'])}"
            for name, command in self.commands
            if name == "find"
        ]
