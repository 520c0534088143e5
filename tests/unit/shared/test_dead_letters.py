"""What a dead-letter record says, read without a server: ids, reasons, previews and the headers a replay sends."""

import json
from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord

from shared.dead_letters import PREVIEW_CHARACTERS, REPLAY_OF_HEADER, DeadLetterId, dead_letter_from
from shared.kafka import (
    CORRELATION_HEADER,
    DLQ_ATTEMPTS,
    DLQ_CONSUMER_GROUP,
    DLQ_ERROR_TYPE,
    DLQ_FAILED_AT,
    DLQ_REASON,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    ORGANISATION_HEADER,
)

DEAD_LETTER_TOPIC = "staging.parterre.deadletter.staging.parterre-identity"
FAILED_AT = datetime(2026, 10, 3, 23, 15, 2, tzinfo=UTC)


def dead_letter_record(
    value: bytes, headers: dict[str, str], *, key: bytes | None = b"billetterie:C-1", offset: int = 41
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=DEAD_LETTER_TOPIC,
        partition=0,
        offset=offset,
        timestamp=int(datetime(2026, 10, 3, 23, 15, 3, tzinfo=UTC).timestamp() * 1000),
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value),
        headers=[(name, text.encode()) for name, text in headers.items()],
    )


def consumer_headers(**extra: str) -> dict[str, str]:
    """The headers the shared consumer writes when it gives up on a record."""
    return {
        ORGANISATION_HEADER: "theatre-du-nord",
        CORRELATION_HEADER: "import-2026-10-03",
        DLQ_REASON: "EventValidationError: data.amount: not a number",
        DLQ_ERROR_TYPE: "EventValidationError",
        DLQ_ATTEMPTS: "0",
        DLQ_SOURCE_TOPIC: "staging.parterre.audience.facts.v1",
        DLQ_SOURCE_PARTITION: "4",
        DLQ_SOURCE_OFFSET: "1234",
        DLQ_CONSUMER_GROUP: "staging.parterre-identity",
        DLQ_FAILED_AT: FAILED_AT.isoformat(),
        **extra,
    }


@pytest.mark.parametrize("offset", [0, 7, 123_456_789])
def test_an_id_names_the_topic_partition_and_offset_and_reads_back(offset: int) -> None:
    dead_letter_id = DeadLetterId(DEAD_LETTER_TOPIC, 2, offset)

    assert str(dead_letter_id) == f"{DEAD_LETTER_TOPIC}:2:{offset}"
    assert DeadLetterId.parse(str(dead_letter_id)) == dead_letter_id


@pytest.mark.parametrize(
    "text", ["", "topic", "topic:1", "topic:1:", ":1:2", "topic:-1:2", "topic:1:x", "topic:1:2:3", "topic:１:2"]
)
def test_a_malformed_id_reads_as_none(text: str) -> None:
    assert DeadLetterId.parse(text) is None


def test_a_record_that_is_not_json_is_read_with_its_reason_and_a_bounded_preview() -> None:
    value = b"\xff\xfe garbled export " + "é".encode() * 5000

    entry = dead_letter_from(dead_letter_record(value, consumer_headers()), "staging.parterre-identity")

    assert entry.id == DeadLetterId(DEAD_LETTER_TOPIC, 0, 41)
    assert entry.organisation_id == "theatre-du-nord"
    assert entry.reason == "EventValidationError: data.amount: not a number"
    assert (entry.error_type, entry.attempts) == ("EventValidationError", 0)
    assert (entry.source_topic, entry.source_partition, entry.source_offset) == (
        "staging.parterre.audience.facts.v1",
        4,
        1234,
    )
    assert entry.dead_lettered_at == FAILED_AT
    assert entry.key == "billetterie:C-1"
    assert (entry.event_type, entry.event_id) == (None, None)
    assert len(entry.preview) == PREVIEW_CHARACTERS
    assert entry.preview.startswith("\ufffd\ufffd garbled export é")


def test_a_record_nested_deeper_than_json_is_read_is_listed_all_the_same() -> None:
    value = b"[" * 5000

    entry = dead_letter_from(dead_letter_record(value, consumer_headers()), "staging.parterre-identity")

    assert (entry.event_type, entry.event_id) == (None, None)
    assert entry.preview.startswith("[[[")


def test_an_event_of_an_unknown_type_is_named_by_its_type_and_id_and_organisation() -> None:
    value = json.dumps(
        {"id": "evt-9", "type": "parterre.ticket.purchased.v2", "organisationid": "festival-sud", "data": {"n": 1}}
    ).encode()
    headers = consumer_headers()
    del headers[ORGANISATION_HEADER]

    entry = dead_letter_from(dead_letter_record(value, headers), "staging.parterre-identity")

    assert (entry.event_type, entry.event_id) == ("parterre.ticket.purchased.v2", "evt-9")
    assert entry.organisation_id == "festival-sud"
    assert entry.preview == value.decode()


@pytest.mark.parametrize("value", [b"[1, 2]", b'"text"', b"null", b"", b'{"id": 7, "type": ["x"]}'])
def test_json_that_is_no_event_names_no_event(value: bytes) -> None:
    entry = dead_letter_from(dead_letter_record(value, consumer_headers()), "staging.parterre-identity")

    assert (entry.event_type, entry.event_id) == (None, None)


def test_a_record_without_the_consumers_headers_is_read_from_what_kafka_says() -> None:
    record = dead_letter_record(b"{}", {}, key=None)

    entry = dead_letter_from(record, "staging.parterre-identity")

    assert entry.organisation_id is None
    assert (entry.reason, entry.source_topic, entry.source_offset, entry.attempts, entry.key) == (None,) * 5
    assert entry.dead_lettered_at == datetime(2026, 10, 3, 23, 15, 3, tzinfo=UTC)
    assert entry.group_id == "staging.parterre-identity"


def test_a_replay_sends_the_original_headers_without_those_the_consumer_added() -> None:
    headers = consumer_headers(**{REPLAY_OF_HEADER: f"{DEAD_LETTER_TOPIC}:0:3"})

    entry = dead_letter_from(dead_letter_record(b"{}", headers), "staging.parterre-identity")

    assert entry.replay_of == f"{DEAD_LETTER_TOPIC}:0:3"
    assert entry.original_headers == {
        ORGANISATION_HEADER: "theatre-du-nord",
        CORRELATION_HEADER: "import-2026-10-03",
    }
