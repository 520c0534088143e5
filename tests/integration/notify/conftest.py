"""The notify service's test harness: its own topics and consumer groups, loopback receivers allowed, fast retries."""

import pytest

from services.notify.bootstrap import CHANGES_GROUP, TRIGGERS_GROUP
from services.notify.settings import NotifySettings
from shared.settings import ServiceSettings
from shared.topic_admin import ensure_topics
from shared.topics import all_topic_partitions, dead_letter_partitions
from tests.integration.notify.support import NotifyHarness


@pytest.fixture
async def harness(settings: ServiceSettings, unique_name: str) -> NotifyHarness:
    changes_topic, triggers_topic = f"test.changes.{unique_name}", f"test.triggers.{unique_name}"
    group_prefix = f"test-{unique_name}-"
    dead_letters = dead_letter_partitions(
        *(settings.kafka_namespace + group_prefix + group.group_id for group in (CHANGES_GROUP, TRIGGERS_GROUP))
    )
    await ensure_topics(
        settings.kafka_bootstrap, {**all_topic_partitions(), changes_topic: 2, triggers_topic: 2, **dead_letters}
    )
    notify_settings = NotifySettings(
        **settings.model_dump(),
        notify_allow_loopback=True,
        notify_allow_plain_http=True,
        # 5 ms, 300 ms, 1.8 s, …: the standard schedule's shape in a test's time.
        notify_retry_delay_scale=0.001,
        notify_retry_jitter=0,
        notify_poll_seconds=0.05,
        notify_attempt_timeout_seconds=2,
    )
    return NotifyHarness(notify_settings, unique_name, changes_topic, triggers_topic, group_prefix)
