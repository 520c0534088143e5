"""How far a consumer batch has got, partition by partition: what may be committed before the batch ends.

Kafka drops a consumer from its group once `max_poll_interval_ms` (five minutes by default) passes without a poll,
and the batch it was handling is delivered again from the group's last commit. A batch whose records fail their
attempts one after another (500 records, three attempts and 1.5 s of pauses each: over 12 minutes) would be
delivered again and again from its start, never getting past it, its dead letters written once a round. Committing
what is handled as the batch goes keeps each round further on than the last; committing once a record is
dead-lettered keeps it from being dead-lettered again when its batch comes back after a crash.
"""

from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

# Well within Kafka's five-minute poll interval, and rare enough to cost nothing beside a batch that takes this long.
PROGRESS_COMMIT_SECONDS = 60.0

Partition = tuple[str, int]


class PositionedRecord(Protocol):
    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


RecordT = TypeVar("RecordT", bound=PositionedRecord)


class BatchProgress:
    """The records of one batch, which of them are handled, and the offsets that may be committed for them: in each
    partition, the offset after the last record handled with every record before it handled too (records of other
    keys are handled side by side, out of partition order)."""

    def __init__(self, records: Iterable[PositionedRecord], started_at: float) -> None:
        self._offsets: dict[Partition, list[int]] = {}
        for record in records:
            self._offsets.setdefault((record.topic, record.partition), []).append(record.offset)
        for offsets in self._offsets.values():
            offsets.sort()
        # Per partition, how many of its records, from the first, are handled; and the handled ones beyond them.
        self._handled_from_start = dict.fromkeys(self._offsets, 0)
        self._handled_beyond: dict[Partition, set[int]] = {partition: set() for partition in self._offsets}
        self._committed: dict[Partition, int] = {}
        self._last_commit_at = started_at

    def handled(self, record: PositionedRecord) -> None:
        partition = (record.topic, record.partition)
        offsets = self._offsets[partition]
        beyond = self._handled_beyond[partition]
        beyond.add(record.offset)
        start = self._handled_from_start[partition]
        while start < len(offsets) and offsets[start] in beyond:
            beyond.discard(offsets[start])
            start += 1
        self._handled_from_start[partition] = start

    def not_handled(self, records: Iterable[RecordT]) -> tuple[RecordT, ...]:
        """Of `records`, those from each partition's first record not handled on: where the batch must be read again
        should it fail (the records before are handled, those after may be too, and are handled again)."""
        first_left: dict[Partition, int] = {}
        for partition, start in self._handled_from_start.items():
            offsets = self._offsets[partition]
            if start < len(offsets):
                first_left[partition] = offsets[start]
        return tuple(
            record
            for record in records
            if (partition := (record.topic, record.partition)) in first_left and record.offset >= first_left[partition]
        )

    def to_commit(self) -> dict[Partition, int]:
        """Per partition, the next offset to read, where it has moved on since the last commit."""
        positions: dict[Partition, int] = {}
        for partition, start in self._handled_from_start.items():
            if start == 0:
                continue
            position = self._offsets[partition][start - 1] + 1
            if self._committed.get(partition) != position:
                positions[partition] = position
        return positions

    def due(self, now: float) -> bool:
        """Whether the batch has run long enough since its start or its last commit to commit what it has done."""
        return now - self._last_commit_at >= PROGRESS_COMMIT_SECONDS

    def committed(self, positions: Mapping[Partition, int], now: float) -> None:
        self._committed.update(positions)
        self._last_commit_at = now
