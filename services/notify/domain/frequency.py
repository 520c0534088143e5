"""How many marketing messages a person may receive in a rolling window."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class FrequencyCap:
    """At most `limit` messages per `window` to one person; a message already counted is always admitted again."""

    limit: int = 3
    window: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= timedelta(0):
            raise ValueError("a frequency cap admits at least one message in a positive window")

    def recent(self, sent: Mapping[str, datetime], now: datetime) -> dict[str, datetime]:
        """The messages of `sent` that still count at `now`."""
        return {message: at for message, at in sent.items() if now - self.window < at <= now}

    def admits(self, sent: Mapping[str, datetime], message_id: str, now: datetime) -> bool:
        if message_id in sent:
            return True
        return len(self.recent(sent, now)) < self.limit
