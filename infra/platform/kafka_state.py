"""What Kafka says about the pipeline: how far behind each consumer group is, and what each dead-letter topic
holds."""

import sys
from dataclasses import dataclass

from shared.consumer_lag import LagReader
from shared.dead_letters import DeadLetter, DeadLetterReader, DeadLetterSource
from shared.topics import CONSUMER_GROUPS, dead_letter_topic_for


@dataclass(frozen=True)
class GroupState:
    group_id: str
    topic: str
    # Records published and not yet committed by the group, over all partitions.
    lag: int
    # Messages of the group's topic dead-lettered, each counted once (see `distinct_messages`); past
    # `DISTINCT_COUNT_LIMIT` records, the records themselves (`dead_letters_distinct` is then False).
    dead_letters: int
    dead_letters_distinct: bool = True


# Dead letters read back to count each message once: a few megabytes, read in well under the reader's 10 s. Past it the
# topic's record count is given as it is, which a message dead-lettered twice counts twice.
DISTINCT_COUNT_LIMIT = 10_000


async def pipeline_state(
    bootstrap: str, namespace: str = "", *, distinct_count_limit: int = DISTINCT_COUNT_LIMIT
) -> list[GroupState]:
    """The catalog's groups, in the platform's namespace (see `ServiceSettings.kafka_namespace`)."""
    states = []
    async with LagReader(bootstrap) as reader:
        for group in CONSUMER_GROUPS:
            group_id, topic = namespace + group.group_id, namespace + group.topic.name
            dead_letters = await reader.records(dead_letter_topic_for(group_id))
            distinct = dead_letters <= distinct_count_limit
            if dead_letters and distinct:
                dead_letters = await _distinct_dead_letters(bootstrap, DeadLetterSource(group_id, topic))
            states.append(GroupState(group_id, topic, await reader.lag(group_id, topic), dead_letters, distinct))
    return states


async def _distinct_dead_letters(bootstrap: str, source: DeadLetterSource) -> int:
    async with DeadLetterReader(bootstrap, client_id="parterre-pipeline-state") as reader:
        return distinct_messages(await reader.newest([source], per_partition=sys.maxsize))


def distinct_messages(dead_letters: list[DeadLetter]) -> int:
    """How many messages the dead letters stand for. A consumer that dead-letters a message and dies before it
    commits the message's offset meets the message again and dead-letters it a second time (Kafka delivers at
    least once): both records name the same place in the source topic."""
    return len({entry.failed_record for entry in dead_letters})
