"""Telling a server that cannot be reached for now from a message that cannot be handled."""

from aiokafka.errors import KafkaError, KafkaTimeoutError
from pymongo.errors import ConnectionFailure


def server_unreachable(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, says that Kafka or the store could not be reached or did
    not answer in time: a restart, a network cut. Trying again later can succeed with the very same message."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionFailure | KafkaTimeoutError):
            return True
        if isinstance(current, KafkaError) and current.retriable:
            return True
        # `raise ... from None` disowns the error being handled: it is not what this one was raised from.
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return False
