"""A server that cannot be reached is told apart from a message that cannot be handled."""

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NotLeaderForPartitionError, RecordTooLargeError
from pymongo.errors import AutoReconnect, DuplicateKeyError, ServerSelectionTimeoutError

from shared.kafka import PermanentMessageError
from shared.outages import server_unreachable


class ProfileBusyError(Exception):
    """A handler's own error, raised while the store was away."""


@pytest.mark.parametrize(
    "error",
    [
        ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused"),
        AutoReconnect("127.0.0.1:27017: connection closed"),
        KafkaConnectionError("Unable to connect"),
        KafkaTimeoutError(),
        NotLeaderForPartitionError(),
    ],
    ids=type,
)
def test_kafka_or_the_store_away_is_a_server_unreachable(error: Exception) -> None:
    assert server_unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        DuplicateKeyError("E11000"),
        RecordTooLargeError(),
        PermanentMessageError("unknown event type"),
        ValueError("no performance with this id"),
        ConnectionError("a plain socket error is no server of ours"),
    ],
    ids=type,
)
def test_a_failure_of_the_message_is_not(error: Exception) -> None:
    assert not server_unreachable(error)


def test_an_error_raised_from_an_unreachable_store_is_one_too() -> None:
    def apply() -> None:
        try:
            raise AutoReconnect("connection closed")
        except AutoReconnect as cause:
            raise ProfileBusyError("per_anne") from cause

    with pytest.raises(ProfileBusyError) as raised:
        apply()

    assert server_unreachable(raised.value)


def test_a_handler_s_own_error_raised_from_none_after_an_outage_is_not_one() -> None:
    # `from None` says the outage is not the cause: counting it as one would retry a poison message forever.
    def apply() -> None:
        try:
            raise ServerSelectionTimeoutError("connection refused")
        except ServerSelectionTimeoutError:
            raise ValueError("no performance with this id") from None

    with pytest.raises(ValueError, match="no performance") as raised:
        apply()

    assert not server_unreachable(raised.value)
