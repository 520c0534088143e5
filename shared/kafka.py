"""Kafka glue: a broker with safe delivery defaults, a publisher, and consumers that retry then dead-letter."""

import asyncio
import functools
import logging
import re
import struct
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.producer.message_accumulator import BatchBuilder
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.consumer_progress import BatchProgress
from shared.events import Envelope, event_type, kafka_key
from shared.events.common import SLUG_PATTERN
from shared.gc_tuning import collections_paused
from shared.logs import correlation_id_var, organisation_id_var
from shared.outages import server_unreachable
from shared.records import quick_init
from shared.settings import ServiceSettings
from shared.topics import dead_letter_topic_for

log = logging.getLogger(__name__)

MessageT = TypeVar("MessageT")

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
# The organisation also travels as a header so metrics and dead-letter tools can name it without parsing.
ORGANISATION_HEADER = "parterre-organisation-id"
CORRELATION_HEADER = "parterre-correlation-id"
EVENT_TYPE_HEADER = "parterre-event-type"
UNKNOWN_ORGANISATION = "unknown"
_ORGANISATION_ID = re.compile(SLUG_PATTERN)

# Header names a dead-lettered record carries beside its original bytes, key and headers.
DLQ_REASON = "parterre-dlq-reason"
DLQ_ERROR_TYPE = "parterre-dlq-error-type"
DLQ_ATTEMPTS = "parterre-dlq-attempts"
DLQ_SOURCE_TOPIC = "parterre-dlq-source-topic"
DLQ_SOURCE_PARTITION = "parterre-dlq-source-partition"
DLQ_SOURCE_OFFSET = "parterre-dlq-source-offset"
DLQ_CONSUMER_GROUP = "parterre-dlq-consumer-group"
DLQ_FAILED_AT = "parterre-dlq-failed-at"
# Set when the record was too large to be dead-lettered whole: its size, and how much of it the dead letter keeps.
DLQ_TRUNCATED = "parterre-dlq-truncated"
# What a dead letter keeps of a record too large to go whole: well under Kafka's 1 MB default, headers included.
DEAD_LETTER_VALUE_KEPT = 512 * 1024
_MAX_REASON_LENGTH = 2000
# Longest pause between two tries of a message while Kafka or the store is unreachable: once back, it goes on soon.
MAX_OUTAGE_PAUSE_SECONDS = 5.0
# Longest pause between two failed tries of a message: a message blocks its key's records meanwhile, the settings
# allowed doubling a minute's pause nineteen times (half a year), and a single pause as long as Kafka's poll interval
# (five minutes) would put the consumer out of its group. Many attempts at a long first pause still add up past it.
MAX_RETRY_PAUSE_SECONDS = 60.0


class PermanentMessageError(Exception):
    """A message no retry can fix (it does not parse, or breaks a rule): dead-lettered at once."""


@quick_init
@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: str
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@quick_init
@dataclass(frozen=True)
class ExactRecord:
    """A record sent byte for byte as given, as a dead letter and its replay must be: Kafka tells a record without a
    key (spread over the partitions) from one with an empty key (always on one partition), and a header name may come
    more than once, in an order its readers may depend on."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes | None], ...] = ()


@quick_init
@dataclass(frozen=True)
class ConsumedRecord(Generic[MessageT]):
    message: MessageT
    raw: bytes
    key: bytes | None
    headers: Mapping[str, str]
    topic: str
    partition: int
    offset: int


HANDLERS_GRACE_SECONDS = 15.0
# The most a batch of one partition's records holds (aiokafka's default is 16 KB): room for a consumer batch's outputs
# (500 events of 1-2 KB over 6 partitions), far below the broker's 1 MB message limit. aiokafka sends one batch of a
# partition at a time, so 16 KB batches made identity's 500 outputs about 47 batches, sent in turn: 20 ms a consumer
# batch (p50, 10,000-people streaming), against 6 ms in 6 batches of this size.
MAX_BATCH_BYTES = 256 * 1024


def create_broker(settings: ServiceSettings, *, registry: CollectorRegistry) -> KafkaBroker:
    """A broker whose producer waits for every in-sync replica and never duplicates on retry.

    Consumers default to NACK_ON_ERROR: the offset is committed only once the handler has returned, and an
    exception rewinds the partition so Kafka delivers the message again. FastStream's own default policy
    acknowledges on receipt, before the work is done, and so loses the message if the process dies.
    """
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"parterre-{settings.service_name}",
        acks="all",
        enable_idempotence=True,
        # No wait for more records: a handler hands over its outputs all at once, then waits for their
        # acknowledgement, so they are batched as fully without it, and a linger only adds its wait to every
        # consumer batch (identity at 100 facts/s: 7 of a batch's 21 ms).
        # The bulk producer below, fed row by row, keeps its linger: 7,826 rows/s with it, 7,256 without (one run each).
        linger_ms=0,
        max_batch_size=MAX_BATCH_BYTES,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name=settings.service_name)],
        logger=logging.getLogger(f"parterre.{settings.service_name}.kafka"),
        log_level=logging.DEBUG,
        # Messages under way when the service stops get this long to finish; the rest come again (at least once).
        graceful_timeout=min(HANDLERS_GRACE_SECONDS, settings.shutdown_timeout_seconds),
    )


class RecordPublisher(Protocol):
    async def publish_many(self, records: Iterable[OutgoingRecord]) -> None:
        """Returns only once Kafka has acknowledged every record."""


class KafkaPublisher:
    """Publishes records and returns only once Kafka has acknowledged every one of them."""

    def __init__(self, broker: KafkaBroker, namespace: str = "") -> None:
        self._broker = broker
        # Prefixed to each record's topic: records name the catalog's topics.
        self._namespace = namespace

    async def publish(self, record: OutgoingRecord) -> None:
        await self._broker.publish(
            record.value, self._namespace + record.topic, key=record.key.encode(), headers=_headers_for(record)
        )

    async def publish_exact(self, record: ExactRecord) -> None:
        """Returns once Kafka has acknowledged the record, sent with nothing added or decoded: through the broker's
        aiokafka producer, since FastStream's publish takes headers as text, one value a name, and adds a content
        type."""
        producer = broker_producer(self._broker)
        if producer is None:
            raise RuntimeError(
                "the Kafka broker lends no producer: it is not connected, or FastStream keeps it elsewhere"
            )
        await producer.send_and_wait(
            self._namespace + record.topic, record.value, key=record.key, headers=list(record.headers)
        )

    async def publish_many(self, records: Iterable[OutgoingRecord]) -> None:
        # Packed into batches by the broker's own producer: FastStream's publish pipeline and aiokafka's per-record
        # path cost a consumer batch's 500 outputs several times more CPU.
        producer = broker_producer(self._broker)
        if producer is None:
            raise RuntimeError(
                "the Kafka broker lends no producer: it is not connected, or FastStream keeps it elsewhere"
            )
        await publish_in_batches(producer, records, self._namespace)


def broker_producer(broker: KafkaBroker) -> AIOKafkaProducer | None:
    """The broker's aiokafka producer, or None (not connected, or a FastStream laid out otherwise)."""
    state = getattr(getattr(broker.config, "producer", None), "_producer", None)
    producer = getattr(state, "producer", None) if state else None
    return producer if isinstance(producer, AIOKafkaProducer) else None


async def abandon_sends(producer: AIOKafkaProducer) -> None:
    """After a stop cut short: cancels the producer's sender and closes its connections. Left alone, the sender
    retries its unacknowledged batches for as long as the event loop runs (a test session's, or an application's
    embedding the service)."""
    # aiokafka's stop set the producer closed before it waited; the sender and the client it never reached.
    sender = getattr(producer, "_sender", None)
    try:
        async with asyncio.timeout(5):
            if sender is not None:
                await sender.close()
            await producer.client.close()
    except Exception:  # the process is stopping: what could not be closed is reported, never raised
        log.warning("the Kafka producer's sender could not be cancelled", exc_info=True)


class BulkKafkaPublisher:
    """Publishes many records with aiokafka directly, for paths that send thousands at once.

    The same delivery guarantees and batches as the broker's producer (acks=all, idempotent), on a producer of its
    own that waits a little for more records (see `publish_in_batches`).
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # Created here, not in __init__: aiokafka binds to the running event loop, which a service's
        # construction precedes.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            client_id=f"parterre-{self._settings.service_name}-bulk",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=MAX_BATCH_BYTES,
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is None:
            return
        limit = self._settings.shutdown_timeout_seconds
        # Like the broker's stop, bounded: with Kafka gone, aiokafka retries unacknowledged sends forever.
        try:
            async with asyncio.timeout(limit):
                await self._producer.stop()
        except TimeoutError:
            log.error("Kafka did not let the bulk producer stop within %.0f s", limit)
            await abandon_sends(self._producer)
        self._producer = None

    async def publish_many(self, records: Iterable[OutgoingRecord]) -> None:
        if self._producer is None:
            raise RuntimeError("the bulk publisher is not started")
        await publish_in_batches(self._producer, records, self._settings.kafka_namespace)


# Per producer, per partition: the sends queued to give it a batch (see `publish_in_batches`).
_partition_queues: "weakref.WeakKeyDictionary[AIOKafkaProducer, dict[tuple[str, int], asyncio.Lock]]" = (
    weakref.WeakKeyDictionary()
)


def _partition_queue(producer: AIOKafkaProducer, topic_partition: tuple[str, int]) -> asyncio.Lock:
    queues = _partition_queues.get(producer)
    if queues is None:
        queues = _partition_queues[producer] = {}
    return queues.setdefault(topic_partition, asyncio.Lock())


async def publish_in_batches(producer: AIOKafkaProducer, records: Iterable[OutgoingRecord], namespace: str) -> None:
    """Publishes the records packed into one batch per partition (as many as they fill), each key where Kafka's
    default partitioner puts it and in the order given, and returns once Kafka has acknowledged every batch.

    Calls at once queue here for each partition, one batch handed to aiokafka at a time: aiokafka lets a batch wait
    for the partition's batch before it, but counts the time already waited again at each turn, so that a batch
    behind some dozens was refused (`KafkaTimeoutError`) long before the request timeout."""
    partitions: dict[str, list[int]] = {}
    open_batches: dict[tuple[str, int], BatchBuilder] = {}
    acknowledgements: list[asyncio.Future[Any]] = []

    async def send(topic_partition: tuple[str, int], batch: BatchBuilder) -> None:
        batch.close()
        topic, partition = topic_partition
        async with _partition_queue(producer, topic_partition):
            acknowledgements.append(await producer.send_batch(batch, topic, partition=partition))

    for record in records:
        topic = namespace + record.topic
        known = partitions.get(topic)
        if known is None:
            known = partitions[topic] = sorted(await producer.partitions_for(topic))
        key = record.key.encode()
        topic_partition = (topic, known[kafka_partition_index(key, len(known))])
        headers = [(name, value.encode()) for name, value in _headers_for(record).items()]
        batch = open_batches.get(topic_partition)
        if batch is None:
            batch = open_batches[topic_partition] = producer.create_batch()
        if batch.append(key=key, value=record.value, timestamp=None, headers=headers) is None:
            await send(topic_partition, batch)
            batch = open_batches[topic_partition] = producer.create_batch()
            if batch.append(key=key, value=record.value, timestamp=None, headers=headers) is None:
                raise ValueError(f"a record of {len(record.value)} bytes does not fit in a Kafka batch")
    for topic_partition, batch in open_batches.items():
        await send(topic_partition, batch)
    await asyncio.gather(*acknowledgements)


def retry_pause(first_pause: float, failed_attempts: int) -> float:
    """The pause after `failed_attempts` tries of a message: `first_pause`, doubled after each failure, capped."""
    return min(first_pause * 2.0 ** (failed_attempts - 1), MAX_RETRY_PAUSE_SECONDS)


@functools.lru_cache(maxsize=65_536)
def kafka_partition_index(key: bytes, partitions: int) -> int:
    """Which of `partitions` (sorted by id) a keyed record goes to: what Kafka's Java client and aiokafka's
    default partitioner compute, `(murmur2(key) & 0x7fffffff) % partitions`.

    Written for speed (aiokafka's own murmur2 costs about 25 µs a key) and cached, since one customer's key
    comes back with each of their records.
    """
    multiplier = 0x5BD1E995
    length = len(key)
    hashed = 0x9747B28C ^ length
    whole = length & ~3
    for (word,) in struct.iter_unpack("<I", key[:whole]):
        word = (word * multiplier) & 0xFFFFFFFF
        word ^= word >> 24
        word = (word * multiplier) & 0xFFFFFFFF
        hashed = ((hashed * multiplier) & 0xFFFFFFFF) ^ word
    tail = length & 3
    if tail >= 3:
        hashed ^= key[whole + 2] << 16
    if tail >= 2:
        hashed ^= key[whole + 1] << 8
    if tail >= 1:
        hashed = ((hashed ^ key[whole]) * multiplier) & 0xFFFFFFFF
    hashed ^= hashed >> 13
    hashed = (hashed * multiplier) & 0xFFFFFFFF
    hashed ^= hashed >> 15
    return (hashed & 0x7FFFFFFF) % partitions


def _headers_for(record: OutgoingRecord) -> dict[str, str]:
    return {"content-type": CLOUDEVENTS_CONTENT_TYPE, **record.headers}


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "parterre_consumer_messages",
            "Messages handled by a consumer group, by organisation and outcome (processed, retried, dead_lettered).",
            ["group", "organisation", "outcome"],
            registry=registry,
        )
        self.lag = Gauge(
            "parterre_consumer_lag",
            "Records published to the group's topic and not yet committed by the group, as last measured.",
            ["group", "topic"],
            registry=registry,
        )


def add_consumer(
    broker: KafkaBroker,
    *,
    topic: str,
    group_id: str,
    decode: Callable[[bytes], MessageT],
    handle: Callable[[ConsumedRecord[MessageT]], Awaitable[None]],
    settings: ServiceSettings,
    metrics: ConsumerMetrics,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    concurrency: int = 1,
    handle_batch: Callable[[list[ConsumedRecord[MessageT]]], Awaitable[list[ConsumedRecord[MessageT]]]] | None = None,
) -> None:
    """Subscribe `handle` to `topic` with at-least-once delivery; `handle` must make the effect exactly once.

    With `concurrency` above 1, records with different keys are handled concurrently (one key's in order):
    only for handlers whose effects stay exact when two of them race, as identity's unique claims do.

    Records arrive in batches and are handled one at a time, in partition order. Each is decoded (a failure
    there is permanent), then handled with up to `consumer_max_attempts` attempts and a doubling pause; a
    record that still fails goes to the group's dead-letter topic with its reason, original bytes, key and
    headers. A failure that says Kafka or the store is unreachable (`server_unreachable`) is no fault of the
    record and spends no attempt: the record is tried again, with pauses up to `MAX_OUTAGE_PAUSE_SECONDS`, for as
    long as the server is away, and never dead-lettered for it. The batch's offsets are committed once every
    record in it is handled or dead-lettered, and before that as far as it has got without a gap, after each dead
    letter and every `PROGRESS_COMMIT_SECONDS` (see `shared.consumer_progress`). If the process dies first, the
    batch is delivered again from the last commit; if the batch fails (even the dead-letter publish), it is read
    again from each partition's first record not handled. That is why every handler must be idempotent.

    With `handle_batch`, the decoded records of a batch go to it first, all at once; it returns those it left
    undone, which are then handled one at a time as above. It must leave, of each key's records, all from the
    first one it leaves on. Should it fail, every record of the batch is handled one at a time: its effects
    must be as exactly-once as `handle`'s, whatever part of its work was done.
    """
    dead_letter_topic = dead_letter_topic_for(group_id)
    publisher = KafkaPublisher(broker)

    async def consume_batch(message: KafkaMessage) -> None:
        with collections_paused():
            await consume_records(message)

    async def consume_records(message: KafkaMessage) -> None:
        records = message.raw_message if isinstance(message.raw_message, tuple) else (message.raw_message,)
        progress = BatchProgress(records, time.monotonic())
        try:
            await consume_with_progress(message, records, progress)
        except BaseException:
            # FastStream's nack seeks each partition back to the earliest record of `raw_message`: from the first one
            # not handled, rather than from the batch's start, records dead-lettered and committed are not met again.
            message.raw_message = progress.not_handled(records)
            raise

    async def consume_with_progress(
        message: KafkaMessage, records: tuple[ConsumerRecord[Any, Any], ...], progress: BatchProgress
    ) -> None:
        committing = asyncio.Lock()

        async def consume_and_note(raw_record: ConsumerRecord[Any, Any]) -> None:
            dead_lettered = await consume_in_context(raw_record)
            progress.handled(raw_record)
            if dead_lettered or progress.due(time.monotonic()):
                async with committing:
                    await commit_progress(message.consumer, progress)

        if handle_batch is not None:
            left = await consume_together(records)
            left_positions = {(record.topic, record.partition, record.offset) for record in left}
            for raw_record in records:
                if (raw_record.topic, raw_record.partition, raw_record.offset) not in left_positions:
                    progress.handled(raw_record)
            records = left
        if concurrency <= 1:
            for raw_record in records:
                await consume_and_note(raw_record)
            return
        # Records of one key stay in order; different keys run side by side, at most `concurrency` at once.
        # Every record is handled before the batch is committed, so at-least-once still holds.
        by_key: dict[bytes | None, list[ConsumerRecord[Any, Any]]] = {}
        for raw_record in records:
            by_key.setdefault(raw_record.key, []).append(raw_record)
        slots = asyncio.Semaphore(concurrency)

        async def consume_key(key_records: list[ConsumerRecord[Any, Any]]) -> None:
            async with slots:
                for raw_record in key_records:
                    await consume_and_note(raw_record)

        async with asyncio.TaskGroup() as tasks:
            for key_records in by_key.values():
                tasks.create_task(consume_key(key_records))

    async def consume_together(records: tuple[ConsumerRecord[Any, Any], ...]) -> tuple[ConsumerRecord[Any, Any], ...]:
        """The batch handler's share of the records; returns the rest, to handle one at a time."""
        assert handle_batch is not None
        decoded: list[ConsumedRecord[MessageT]] = []
        # A record that does not decode is dead-lettered one at a time, and its key's later records follow it there,
        # in order: given to the batch handler, they would be handled before it, and again after it.
        undecoded_keys: set[bytes | None] = set()
        for raw_record in records:
            if raw_record.key in undecoded_keys:
                continue
            try:
                message = decode(raw_record.value or b"")
            except Exception:
                # Left to the one-at-a-time path, which dead-letters it (see `undecoded_keys`).
                undecoded_keys.add(raw_record.key)
                continue
            decoded.append(
                ConsumedRecord(
                    message=message,
                    raw=raw_record.value or b"",
                    key=raw_record.key,
                    headers=decode_headers(raw_record.headers),
                    topic=raw_record.topic,
                    partition=raw_record.partition,
                    offset=raw_record.offset,
                )
            )
        try:
            undone = await handle_batch(decoded)
        except Exception as exc:  # the records are handled one at a time instead, with retries and dead letters
            log.warning("batch of %d records failed, handling them one at a time: %r", len(records), exc)
            return records
        left = {(record.topic, record.partition, record.offset) for record in undone}
        done = {(record.topic, record.partition, record.offset) for record in decoded} - left
        for raw_record in records:
            if (raw_record.topic, raw_record.partition, raw_record.offset) in done:
                metrics.messages.labels(
                    group_id,
                    decode_headers(raw_record.headers).get(ORGANISATION_HEADER, UNKNOWN_ORGANISATION),
                    "processed",
                ).inc()
        # Of each key, everything from the first record not done: one key's records stay in order.
        blocked: set[bytes | None] = set()
        rest: list[ConsumerRecord[Any, Any]] = []
        for raw_record in records:
            if raw_record.key in blocked or (raw_record.topic, raw_record.partition, raw_record.offset) not in done:
                blocked.add(raw_record.key)
                rest.append(raw_record)
        return tuple(rest)

    async def consume_in_context(raw_record: ConsumerRecord[Any, Any]) -> bool:
        """Handles the record, or dead-letters it: says which."""
        headers = decode_headers(raw_record.headers)
        organisation = headers.get(ORGANISATION_HEADER, "")
        if not _ORGANISATION_ID.fullmatch(organisation):
            # A metric label and a log field: a header no Parterre producer would write must not open new series.
            organisation = UNKNOWN_ORGANISATION
        correlation_token = correlation_id_var.set(headers.get(CORRELATION_HEADER))
        organisation_token = organisation_id_var.set(organisation)
        try:
            return await consume_one(raw_record, headers, organisation)
        finally:
            correlation_id_var.reset(correlation_token)
            organisation_id_var.reset(organisation_token)

    async def consume_one(raw_record: ConsumerRecord[Any, Any], headers: dict[str, str], organisation: str) -> bool:
        raw: bytes = raw_record.value or b""
        attempts = 0
        failure: BaseException | None = None
        try:
            decoded = decode(raw)
        except Exception as exc:  # any decoding error is the message's fault, not the consumer's
            failure = exc
        else:
            record = ConsumedRecord(
                message=decoded,
                raw=raw,
                key=raw_record.key,
                headers=headers,
                topic=raw_record.topic,
                partition=raw_record.partition,
                offset=raw_record.offset,
            )
            outage = 0
            while attempts < settings.consumer_max_attempts:
                attempts += 1
                try:
                    await handle(record)
                except PermanentMessageError as exc:
                    failure = exc
                    break
                except Exception as exc:
                    failure = exc
                    if server_unreachable(exc):
                        # Dead-lettering a good message because a server restarts would lose it: wait for the server.
                        attempts -= 1
                        pause = min(
                            max(settings.consumer_retry_backoff_seconds, 0.1) * 2**outage, MAX_OUTAGE_PAUSE_SECONDS
                        )
                        outage += 1
                        log.warning(
                            "a server is unreachable while handling %s[%d]@%d, trying again in %.1f s: %r",
                            raw_record.topic,
                            raw_record.partition,
                            raw_record.offset,
                            pause,
                            exc,
                        )
                        metrics.messages.labels(group_id, organisation, "retried").inc()
                        await sleep(pause)
                        continue
                    log.warning(
                        "attempt %d/%d failed on %s[%d]@%d: %r",
                        attempts,
                        settings.consumer_max_attempts,
                        raw_record.topic,
                        raw_record.partition,
                        raw_record.offset,
                        exc,
                    )
                    if attempts < settings.consumer_max_attempts:
                        metrics.messages.labels(group_id, organisation, "retried").inc()
                        await sleep(retry_pause(settings.consumer_retry_backoff_seconds, attempts))
                else:
                    metrics.messages.labels(group_id, organisation, "processed").inc()
                    return False
        assert failure is not None
        # The record's own key and headers as they came (a replay sends them back), the reason after them.
        dead_letter = ExactRecord(
            topic=dead_letter_topic,
            key=raw_record.key,
            value=raw,
            headers=(
                *raw_record.headers,
                *_encoded_headers(
                    {
                        DLQ_REASON: _describe(failure)[:_MAX_REASON_LENGTH],
                        DLQ_ERROR_TYPE: type(failure).__name__,
                        DLQ_ATTEMPTS: str(attempts),
                        DLQ_SOURCE_TOPIC: raw_record.topic,
                        DLQ_SOURCE_PARTITION: str(raw_record.partition),
                        DLQ_SOURCE_OFFSET: str(raw_record.offset),
                        DLQ_CONSUMER_GROUP: group_id,
                        DLQ_FAILED_AT: datetime.now(UTC).isoformat(),
                    }
                ),
            ),
        )
        try:
            await publisher.publish_exact(dead_letter)
        except MessageSizeTooLargeError:
            # A record near Kafka's size limit does not fit with the headers added: failing here for good, it would
            # rewind its batch forever, and hold every record behind it. Its first bytes are kept; the whole record
            # stays in its topic at the offset the headers give, until the topic's retention.
            kept = raw[:DEAD_LETTER_VALUE_KEPT]
            truncated = _encoded_headers({DLQ_TRUNCATED: f"{len(raw)} bytes, the first {len(kept)} kept"})
            await publisher.publish_exact(replace(dead_letter, value=kept, headers=(*dead_letter.headers, *truncated)))
        metrics.messages.labels(group_id, organisation, "dead_lettered").inc()
        log.error(
            "dead-lettered %s[%d]@%d after %d attempt(s): %s",
            raw_record.topic,
            raw_record.partition,
            raw_record.offset,
            attempts,
            _describe(failure),
        )
        return True

    subscriber = broker.subscriber(
        topic,
        group_id=group_id,
        batch=True,
        max_records=settings.consumer_batch_max_records,
        batch_timeout_ms=settings.consumer_batch_timeout_ms,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        parser=parsed_whatever_their_headers,
        decoder=_records_read_by_the_handler,
    )
    subscriber(consume_batch)
    poll_without_pause(subscriber)


async def commit_progress(consumer: object, progress: BatchProgress) -> None:
    """Commits what the batch has handled without a gap, where that has moved on since its last commit."""
    positions = progress.to_commit()
    # FastStream's test broker stands a consumer in that commits nothing and takes no offsets.
    if not positions or not isinstance(consumer, AIOKafkaConsumer):
        return
    try:
        await consumer.commit(
            {TopicPartition(topic, partition): position for (topic, partition), position in positions.items()}
        )
    except KafkaError as exc:
        # The group moved the partitions on (a rebalance, or this consumer dropped for a batch longer than its poll
        # interval): their new owner starts from the last commit, and this batch's own commit at its end fails too.
        log.warning("could not commit a long batch's progress, %s: %r", positions, exc)
        # Tried again in a while (or at the next dead letter), not after every record the batch has left.
        progress.committed({}, time.monotonic())
        return
    progress.committed(positions, time.monotonic())


async def parsed_whatever_their_headers(
    records: tuple[ConsumerRecord[Any, Any], ...],
    parse: Callable[[tuple[ConsumerRecord[Any, Any], ...]], Awaitable[Any]],
) -> Any:
    """FastStream's parse of a batch, which a header value that is no UTF-8 text (or null) does not stop.

    FastStream decodes every header value as UTF-8 before the handler runs. One that failed lost the whole batch
    without a word: neither handled nor rewound, it was committed past by the next. The handler reads the records as
    they came (`raw_message`), their headers through `decode_headers`; FastStream sees them made text."""
    try:
        return await parse(records)
    except (UnicodeDecodeError, AttributeError):
        parsed = await parse(tuple(replace(record, headers=_headers_as_text(record.headers)) for record in records))
        parsed.raw_message = records
        return parsed


def _headers_as_text(raw_headers: Iterable[tuple[str, bytes | None]]) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, (value or b"").decode(errors="replace").encode()) for name, value in raw_headers)


def poll_without_pause(subscriber: Any) -> None:
    """Has FastStream's batch `subscriber` ask Kafka again as soon as a wait for records ends with none.

    Its own pauses as long again after such a wait (`batch_timeout_ms`), not listening: a record sent then waited
    the pause out, up to 100 ms at each stage it crossed while the platform was quiet. At 200 events/s from ingest
    to profile, eight runs with the pause had a p95 of 352-475 ms and a p99 of 471-495; six without it, a p95 of
    242-246 ms and a p99 of 248-403. The wait itself still ends as soon as a record comes, and without one lasts
    `batch_timeout_ms`: an idle consumer asks ten times a second, not in a loop (6.0 ms of CPU a second for an
    idle identity service, against 4.7 with the pause)."""
    timeout_ms = getattr(subscriber, "batch_timeout_ms", None)
    max_records = getattr(subscriber, "max_records", None)
    if not isinstance(timeout_ms, int) or timeout_ms < 1 or not callable(getattr(subscriber, "get_msg", None)):
        raise RuntimeError(
            f"{type(subscriber).__name__} is no batch subscriber as FastStream lays them out here: its wait for "
            "records cannot be made to skip the pause after it"
        )

    async def get_msg(consumer: Any) -> tuple[ConsumerRecord[Any, Any], ...]:
        fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return tuple(record for records in fetched.values() for record in records)

    # The instance's own attribute comes before its class's method, which the consume loop calls through `self`.
    subscriber.get_msg = get_msg


async def _records_read_by_the_handler(_message: Any) -> None:
    # `consume_batch` decodes each raw record itself: FastStream's own JSON parse of every record would be thrown away
    # (a few per cent of a consumer's CPU under load).
    return None


def _describe(failure: BaseException) -> str:
    text = str(failure).strip()
    return f"{type(failure).__name__}: {text}" if text else type(failure).__name__


def _encoded_headers(headers: Mapping[str, str]) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, value.encode()) for name, value in headers.items())


def decode_headers(raw_headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    """A record's headers as text: a value that is no UTF-8 is read with replacement characters, a null one as empty."""
    return {name: (value or b"").decode(errors="replace") for name, value in raw_headers}


def record_for(envelope: Envelope) -> OutgoingRecord:
    """The Kafka record of an event: on its type's topic, keyed so one entity's events stay in order."""
    return OutgoingRecord(
        topic=event_type(envelope.type).topic.name,
        key=kafka_key(envelope),
        value=envelope.to_json_bytes(),
        headers={
            ORGANISATION_HEADER: envelope.organisation_id,
            CORRELATION_HEADER: envelope.correlation_id or envelope.id,
            EVENT_TYPE_HEADER: envelope.type,
        },
    )
