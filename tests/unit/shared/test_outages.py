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
