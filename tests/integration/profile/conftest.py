"""The profile service's test harness, on a resolutions topic and consumer group of its own."""

from collections.abc import AsyncIterator

import pytest

from services.profile.settings import ProfileSettings
from shared.settings import ServiceSettings
from shared.topic_admin import ensure_topics
from shared.topics import PROFILE_CHANGES, PROFILE_TRIGGERS, all_topic_partitions, dead_letter_partitions
from tests.integration.kafka_support import TopicTail
from tests.integration.profile.support import ProfileHarness


@pytest.fixture
async def harness(settings: ServiceSettings, unique_name: str) -> AsyncIterator[ProfileHarness]:
    resolutions_topic, group_id = f"test.resolutions.{unique_name}", f"test-profile-{unique_name}"
    await ensure_topics(
        settings.kafka_bootstrap,
        {**all_topic_partitions(), resolutions_topic: 6, **dead_letter_partitions(settings.kafka_namespace + group_id)},
    )
    changes = await TopicTail(settings.kafka_bootstrap, PROFILE_CHANGES.name, unique_name).start()
    triggers = await TopicTail(settings.kafka_bootstrap, PROFILE_TRIGGERS.name, unique_name).start()
    yield ProfileHarness(
        ProfileSettings(**settings.model_dump()),
        unique_name,
        resolutions_topic,
        group_id,
        changes,
        triggers,
    )
    await changes.stop()
    await triggers.stop()
