"""What a dead-letter record says, read without a server: ids, reasons, previews and the headers a replay sends."""

import json
from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord

from shared.dead_letters import (
    DEAD_LETTER_HEADER_PREFIX,
    PREVIEW_CHARACTERS,
    REPLAY_OF_HEADER,
    DeadLetter,
    DeadLetterId,
    dead_letter_from,
    one_per_record,
)
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
    value: bytes,
    headers: dict[str, str] | list[tuple[str, bytes | None]],
    *,
    key: bytes | None = b"billetterie:C-1",
    offset: int = 41,
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
        headers=[(name, text.encode()) for name, text in headers.items()] if isinstance(headers, dict) else headers,
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
    assert entry.key == b"billetterie:C-1"
    assert entry.key_text == "billetterie:C-1"
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
    assert entry.original_headers == (
        (ORGANISATION_HEADER, b"theatre-du-nord"),
        (CORRELATION_HEADER, b"import-2026-10-03"),
    )


def test_a_replay_sends_the_original_headers_in_order_as_bytes_a_name_given_twice_kept_twice() -> None:
    original = [
        ("traceparent", b"00-first"),
        (ORGANISATION_HEADER, b"theatre-du-nord"),
        ("x-export-batch", b"\xff\xfe\x00"),
        ("traceparent", b"00-second"),
        ("x-empty", None),
    ]
    added = [
        (name, value.encode())
        for name, value in consumer_headers().items()
        if name.startswith(DEAD_LETTER_HEADER_PREFIX)
    ]

    entry = dead_letter_from(dead_letter_record(b"{}", [*original, *added]), "staging.parterre-identity")

    assert entry.original_headers == tuple(original)
    assert entry.reason == "EventValidationError: data.amount: not a number"


@pytest.mark.parametrize(("key", "shown"), [(None, None), (b"", ""), (b"C-1", "C-1"), (b"\xffC-1", "\ufffdC-1")])
def test_a_key_is_kept_as_kafka_gave_it_and_shown_as_text(key: bytes | None, shown: str | None) -> None:
    entry = dead_letter_from(dead_letter_record(b"{}", consumer_headers(), key=key), "staging.parterre-identity")

    assert entry.key == key
    assert entry.key_text == shown


def dead_letter_at(offset: int, source_offset: int | None) -> DeadLetter:
    headers = consumer_headers()
    if source_offset is None:
        del headers[DLQ_SOURCE_OFFSET]
    else:
        headers[DLQ_SOURCE_OFFSET] = str(source_offset)
    return dead_letter_from(dead_letter_record(b"{}", headers, offset=offset), "staging.parterre-identity")


def test_the_dead_letters_of_one_failed_record_name_it_alike_and_other_records_otherwise() -> None:
    first, again, other = dead_letter_at(41, 1234), dead_letter_at(42, 1234), dead_letter_at(43, 1235)
    unplaced, other_unplaced = dead_letter_at(44, None), dead_letter_at(45, None)

    assert first.failed_record == again.failed_record
    assert len({first.failed_record, other.failed_record, unplaced.failed_record, other_unplaced.failed_record}) == 4
    # Replays filed before they were filed by record are under a dead letter's id: the two never meet.
    assert unplaced.failed_record == str(unplaced.id)
    assert DeadLetterId.parse(first.failed_record) is None


def test_a_record_dead_lettered_twice_is_listed_once_with_its_copies_counted_in_the_order_given() -> None:
    newest, other, older = dead_letter_at(42, 1234), dead_letter_at(41, 1235), dead_letter_at(40, 1234)

    assert one_per_record([newest, other, older]) == [(newest, 2), (other, 1)]
