"""Dead-lettered records of a service's consumer groups: read back from their topics, and replayed to the topic
their group reads, each replay recorded in the store."""

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import MessageSizeTooLargeError
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.kafka import (
    DLQ_ATTEMPTS,
    DLQ_ERROR_TYPE,
    DLQ_FAILED_AT,
    DLQ_REASON,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    DLQ_TRUNCATED,
    ORGANISATION_HEADER,
    ExactRecord,
    decode_headers,
)
from shared.mongo import Document, NumberedList
from shared.topics import dead_letter_topic_for

DEAD_LETTER_REPLAYS = "dead_letter_replays"
# How far back a listing looks: the newest records of each dead-letter partition, whatever their organisation.
# Dead letters are rare and small (one event each), so this reads a few megabytes at most.
SCAN_RECORDS_PER_PARTITION = 1000
# A preview shows what a poison message looks like without returning a whole (possibly huge) value.
PREVIEW_CHARACTERS = 300
# Longest wait for Kafka while reading dead letters back.
READ_SECONDS = 10.0
# Every header the consumer adds when it dead-letters a record starts with this; a replay strips them all, so
# the record goes back with its original headers only.
DEAD_LETTER_HEADER_PREFIX = "parterre-dlq-"
# Set on a replayed record, so a replay that fails again is listed as a new dead letter naming the entry it
# replays. It starts with the prefix above: replaying that new entry replaces it rather than adding a second one.
REPLAY_OF_HEADER = "parterre-dlq-replay-of"
# Kafka topic names are at most 249 of these characters.
_DEAD_LETTER_ID = re.compile(r"(?P<topic>[A-Za-z0-9._-]{1,249}):(?P<partition>[0-9]{1,9}):(?P<offset>[0-9]{1,19})")


@dataclass(frozen=True)
class DeadLetterId:
    """Where a dead letter lies: `<dead-letter topic>:<partition>:<offset>`. Kafka topic names never hold a colon."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> "DeadLetterId | None":
        match = _DEAD_LETTER_ID.fullmatch(text)
        if match is None:
            return None
        return cls(match["topic"], int(match["partition"]), int(match["offset"]))


@dataclass(frozen=True)
class DeadLetterSource:
    """One consumer group of the service: the topic it reads and the topic it dead-letters to (both namespaced)."""

    group_id: str
    topic: str

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_topic_for(self.group_id)


@dataclass(frozen=True)
class DeadLetter:
    id: DeadLetterId
    group_id: str
    # From the record's organisation header, else from the event it carries; None when neither names one.
    organisation_id: str | None
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    reason: str | None
    error_type: str | None
    attempts: int | None
    dead_lettered_at: datetime
    # The original record's key as Kafka gave it: None when it had none, which is not the same as empty.
    key: bytes | None
    event_type: str | None
    event_id: str | None
    replay_of: str | None
    value: bytes
    headers: tuple[tuple[str, bytes | None], ...]
    # Set when the record was too large to be dead-lettered whole: its size and how much of it `value` keeps. The
    # whole record is still in its source topic, at the position the dead letter names, until that topic's retention.
    truncated: str | None = None

    @property
    def preview(self) -> str:
        return self.value[: PREVIEW_CHARACTERS * 4].decode(errors="replace")[:PREVIEW_CHARACTERS]

    @property
    def key_text(self) -> str | None:
        """The key to show: bytes that are no UTF-8 read with replacement characters (a replay sends `key`)."""
        return None if self.key is None else self.key.decode(errors="replace")

    @property
    def original_headers(self) -> tuple[tuple[str, bytes | None], ...]:
        """The record's headers as it came, in order and a name given twice kept twice, without those added when it
        was dead-lettered."""
        return tuple((name, value) for name, value in self.headers if not name.startswith(DEAD_LETTER_HEADER_PREFIX))

    @property
    def failed_record(self) -> str:
        """The record whose failure this is, named by the group's dead-letter topic and where the group read it: two
        dead letters of one record (a consumer stopped between the dead letter and its commit writes it again) name
        the same. A dead letter that does not say where its record was names itself."""
        if self.source_topic is None or self.source_partition is None or self.source_offset is None:
            return str(self.id)
        # A slash, never in a topic name, keeps these apart from dead-letter ids.
        return f"{self.id.topic}/{self.source_topic}:{self.source_partition}:{self.source_offset}"


def dead_letter_from(record: ConsumerRecord[Any, Any], group_id: str) -> DeadLetter:
    """What a dead-letter record says; never fails, whatever its bytes or headers (a poison message is expected to
    be malformed)."""
    headers = decode_headers(record.headers)
    value: bytes = record.value or b""
    attributes = _event_attributes(value)
    return DeadLetter(
        id=DeadLetterId(record.topic, record.partition, record.offset),
        group_id=group_id,
        organisation_id=headers.get(ORGANISATION_HEADER) or attributes.get("organisationid"),
        source_topic=headers.get(DLQ_SOURCE_TOPIC),
        source_partition=_number(headers.get(DLQ_SOURCE_PARTITION)),
        source_offset=_number(headers.get(DLQ_SOURCE_OFFSET)),
        reason=headers.get(DLQ_REASON),
        error_type=headers.get(DLQ_ERROR_TYPE),
        attempts=_number(headers.get(DLQ_ATTEMPTS)),
        dead_lettered_at=_moment(headers.get(DLQ_FAILED_AT)) or datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key,
        event_type=attributes.get("type"),
        event_id=attributes.get("id"),
        replay_of=headers.get(REPLAY_OF_HEADER),
        value=value,
        headers=tuple(record.headers),
        truncated=headers.get(DLQ_TRUNCATED),
    )


def one_per_record(entries: Iterable[DeadLetter]) -> list[tuple[DeadLetter, int]]:
    """Of the dead letters of each failed record, the first given, with how many there are; in the order given."""
    firsts: dict[str, DeadLetter] = {}
    copies: dict[str, int] = {}
    for entry in entries:
        firsts.setdefault(entry.failed_record, entry)
        copies[entry.failed_record] = copies.get(entry.failed_record, 0) + 1
    return [(entry, copies[record]) for record, entry in firsts.items()]


def _event_attributes(value: bytes) -> dict[str, str]:
    """The string attributes of a JSON object, when the value is one: enough to name an event whose type or data
    the consumer refused, without validating it."""
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        # Not JSON, or nested deeper than the parser goes: a poison message is listed all the same.
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {name: attribute for name, attribute in parsed.items() if isinstance(attribute, str)}


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class DeadLetterReader:
    """Reads dead-letter topics with a short-lived consumer that belongs to no group: it assigns partitions and seeks,
    so reading commits nothing and never disturbs a consumer group. One reader per request, closed after it."""

    def __init__(self, bootstrap: str, client_id: str) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, client_id=client_id, group_id=None, enable_auto_commit=False
        )

    async def __aenter__(self) -> "DeadLetterReader":
        await self._admin.start()
        try:
            await self._consumer.start()
            # A consumer without a group starts a background task that must run once before `stop` cancels it:
            # cancelled before its first step, aiokafka's `stop` raises CancelledError (a request that reads
            # nothing, such as one for an unknown id, would stop it that early).
            await asyncio.sleep(0)
        except BaseException:
            await self._admin.close()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        try:
            await self._consumer.stop()
        finally:
            await self._admin.close()

    async def newest(self, sources: Sequence[DeadLetterSource], per_partition: int) -> list[DeadLetter]:
        """The last `per_partition` records of each partition of the sources' dead-letter topics, newest first."""
        by_topic = {source.dead_letter_topic: source for source in sources}
        existing = await self._partitions(by_topic)
        partitions = [TopicPartition(topic, number) for topic, numbers in existing.items() for number in numbers]
        if not partitions:
            return []
        starts = await self._consumer.beginning_offsets(partitions)
        ends = await self._consumer.end_offsets(partitions)
        wanted = {
            partition: (max(starts[partition], ends[partition] - per_partition), ends[partition])
            for partition in partitions
        }
        records = await self._read(wanted)
        found = [dead_letter_from(record, by_topic[record.topic].group_id) for record in records]
        return sorted(found, key=lambda entry: (entry.dead_lettered_at, entry.id.offset), reverse=True)

    async def one(self, source: DeadLetterSource, dead_letter_id: DeadLetterId) -> DeadLetter | None:
        """The record at `dead_letter_id`, if the topic still holds it."""
        if dead_letter_id.topic != source.dead_letter_topic:
            return None
        existing = await self._partitions([dead_letter_id.topic])
        if dead_letter_id.partition not in existing.get(dead_letter_id.topic, ()):
            return None
        partition = TopicPartition(dead_letter_id.topic, dead_letter_id.partition)
        start = (await self._consumer.beginning_offsets([partition]))[partition]
        end = (await self._consumer.end_offsets([partition]))[partition]
        if not start <= dead_letter_id.offset < end:
            return None
        records = await self._read({partition: (dead_letter_id.offset, dead_letter_id.offset + 1)})
        matching = [record for record in records if record.offset == dead_letter_id.offset]
        return dead_letter_from(matching[0], source.group_id) if matching else None

    async def whole(self, dead_letter: DeadLetter) -> bytes | None:
        """The value of the record a truncated dead letter was cut from, read in its source topic; None once that
        topic's retention deleted it (or the dead letter does not say where it was)."""
        if (
            dead_letter.source_topic is None
            or dead_letter.source_partition is None
            or dead_letter.source_offset is None
        ):
            return None
        existing = await self._partitions([dead_letter.source_topic])
        if dead_letter.source_partition not in existing.get(dead_letter.source_topic, ()):
            return None
        partition = TopicPartition(dead_letter.source_topic, dead_letter.source_partition)
        offset = dead_letter.source_offset
        start = (await self._consumer.beginning_offsets([partition]))[partition]
        end = (await self._consumer.end_offsets([partition]))[partition]
        if not start <= offset < end:
            return None
        records = await self._read({partition: (offset, offset + 1)})
        matching = [record for record in records if record.offset == offset]
        return (matching[0].value or b"") if matching else None

    async def _partitions(self, topics: Iterable[str]) -> dict[str, list[int]]:
        """The partitions of those of `topics` that exist. Asked of every topic at once, since asking for one by
        name lets a broker that auto-creates topics create a dead-letter topic nobody wrote to."""
        wanted = set(topics)
        return {
            description["topic"]: sorted(entry["partition"] for entry in description["partitions"])
            for description in await self._admin.describe_topics()
            if description["topic"] in wanted
        }

    async def _read(self, wanted: Mapping[TopicPartition, tuple[int, int]]) -> list[ConsumerRecord[Any, Any]]:
        """Every record from each partition's first offset up to (not including) its last; raises TimeoutError if
        Kafka does not hand them over within READ_SECONDS."""
        self._consumer.assign(list(wanted))
        for partition, (first, _) in wanted.items():
            self._consumer.seek(partition, first)
        remaining = {partition for partition, (first, last) in wanted.items() if first < last}
        records: list[ConsumerRecord[Any, Any]] = []
        async with asyncio.timeout(READ_SECONDS):
            while remaining:
                batches = await self._consumer.getmany(*remaining, timeout_ms=500)
                for partition, batch in batches.items():
                    records.extend(record for record in batch if record.offset < wanted[partition][1])
                # By position rather than by the last offset seen: offsets may have gaps (transaction markers).
                for partition in list(remaining):
                    if await self._consumer.position(partition) >= wanted[partition][1]:
                        remaining.discard(partition)
        return records


@dataclass(frozen=True)
class Replay:
    at: datetime
    token_id: str
    token_name: str
    topic: str


@dataclass(frozen=True)
class ReplayHistory:
    count: int
    last: Replay


class AlreadyReplayedError(Exception):
    def __init__(self, history: ReplayHistory) -> None:
        super().__init__(f"replayed {history.count} time(s), last at {history.last.at.isoformat()}")
        self.history = history


class ReplayLog:
    """Who replayed which failed record, when. The first replay of a record is the document whose `_id` is the
    dead letter's `failed_record`: inserting it is the one write that only one of two racing replays can win, be they
    of one dead letter or of two dead letters of the same record, on MongoDB and FerretDB alike. Later replays, asked
    for on purpose, are a `NumberedList` under that id, written as inserts too, so none is lost to a concurrent one.

    Replays recorded before they were filed by record are filed under the dead letter's own id, and still read there.
    """

    # Replay records read at once: round trips overlap without flooding the store.
    READS_AT_ONCE = 64

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self._again = NumberedList(collection)

    async def _filed_under(self, dead_letter: DeadLetter) -> str:
        """The `_id` its replays are filed under: its record's, or its own when it was replayed before replays were
        filed by record (none is filed under a dead letter's own id since, unless it names no record)."""
        own = str(dead_letter.id)
        if dead_letter.failed_record != own and await self._collection.find_one({"_id": own}, {"_id": 1}) is not None:
            return own
        return dead_letter.failed_record

    async def claim_first(self, dead_letter: DeadLetter, replay: Replay) -> bool:
        """Records the record's first replay; False if it had one already, through this dead letter or another."""
        try:
            await self._collection.insert_one(
                {"_id": await self._filed_under(dead_letter), **_replay_document(dead_letter, replay)}
            )
        except DuplicateKeyError:
            return False
        return True

    async def release_first(self, dead_letter: DeadLetter) -> None:
        """Forgets a first replay that could not be published, so the record can be replayed again without `again`."""
        await self._collection.delete_one({"_id": await self._filed_under(dead_letter)})

    async def add_again(self, dead_letter: DeadLetter, replay: Replay) -> None:
        await self._again.append(await self._filed_under(dead_letter), _replay_document(dead_letter, replay))

    async def history(self, dead_letter: DeadLetter) -> ReplayHistory | None:
        """The replays of the dead letter's record, through this dead letter or another of the same record."""
        filed_under = await self._filed_under(dead_letter)
        first = await self._collection.find_one({"_id": filed_under})
        if first is None:
            return None
        again = await self._again.length(filed_under)
        last = first if again == 0 else await self._collection.find_one({"_id": f"{filed_under}#{again}"})
        return ReplayHistory(count=1 + again, last=_replay_from(last or first))

    async def histories(self, dead_letters: Iterable[DeadLetter]) -> dict[DeadLetterId, ReplayHistory]:
        """Each dead letter's history, for those whose record was replayed; every read is by exact `_id`, which
        FerretDB indexes."""
        entries = list(dead_letters)
        found: dict[DeadLetterId, ReplayHistory] = {}
        for start in range(0, len(entries), self.READS_AT_ONCE):
            chunk = entries[start : start + self.READS_AT_ONCE]
            for entry, history in zip(
                chunk, await asyncio.gather(*(self.history(entry) for entry in chunk)), strict=True
            ):
                if history is not None:
                    found[entry.id] = history
        return found


def _replay_document(dead_letter: DeadLetter, replay: Replay) -> Document:
    return {
        # Which of the record's dead letters was replayed: the `_id` names the record.
        "dead_letter_id": str(dead_letter.id),
        "organisation_id": dead_letter.organisation_id,
        "group_id": dead_letter.group_id,
        "replayed_at": replay.at,
        "token_id": replay.token_id,
        "token_name": replay.token_name,
        "topic": replay.topic,
    }


def _replay_from(document: Document) -> Replay:
    return Replay(
        at=document["replayed_at"],
        token_id=document["token_id"],
        token_name=document["token_name"],
        topic=document["topic"],
    )


async def replay_dead_letter(
    dead_letter: DeadLetter,
    source: DeadLetterSource,
    *,
    token_id: str,
    token_name: str,
    again: bool,
    log: ReplayLog,
    publish: Callable[[ExactRecord], Awaitable[None]],
) -> Replay:
    """Publishes the dead letter's original bytes, key and headers, as they came, to the topic its group reads, so
    that group alone handles it again; raises AlreadyReplayedError if its record was replayed before (through this
    dead letter or another of the same record) and `again` is not set.

    Consumers' effects are idempotent, so a replay of a message already applied changes nothing, and one that
    still fails is dead-lettered again as a new entry naming this one.
    """
    replay = Replay(at=datetime.now(UTC), token_id=token_id, token_name=token_name, topic=source.topic)
    record = ExactRecord(
        topic=source.topic,
        key=dead_letter.key,
        value=dead_letter.value,
        headers=(*dead_letter.original_headers, (REPLAY_OF_HEADER, str(dead_letter.id).encode())),
    )
    while not await log.claim_first(dead_letter, replay):
        if again:
            # Published before it is recorded: a replay asked for again is wanted whatever the log holds, and one
            # that fails to publish leaves no record claiming it happened.
            await _publish_fitting(publish, record)
            await log.add_again(dead_letter, replay)
            return replay
        history = await log.history(dead_letter)
        if history is not None:
            raise AlreadyReplayedError(history)
        # Released meanwhile by a replay that could not publish: the entry is free to claim again.
    try:
        await _publish_fitting(publish, record)
    except BaseException:
        # Shielded: a request cancelled mid-publish must still leave the entry replayable.
        with contextlib.suppress(Exception):
            await asyncio.shield(log.release_first(dead_letter))
        raise
    return replay


async def _publish_fitting(publish: Callable[[ExactRecord], Awaitable[None]], replayed: ExactRecord) -> None:
    """Publishes the replay; a record too near Kafka's size limit to take the replay's own header, last, goes without
    it, exactly as it first came: the replay log still records it, only a dead letter it makes again names no first.
    Such records are the ones cut to fit as dead letters, whose replay reads them whole from their topic."""
    try:
        await publish(replayed)
    except MessageSizeTooLargeError:
        await publish(replace(replayed, headers=replayed.headers[:-1]))
