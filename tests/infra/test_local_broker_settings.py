"""The local stack's broker runs with the settings `infra/local` writes for it, as the broker itself reports them."""

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from infra.local.stack import KAFKA_NODE_ID
from tests.conftest import Servers

pytestmark = [pytest.mark.kafka]

# DescribeConfigs' answer: (error code, error message, resource type, resource name, [entry, ...]), each entry
# (name, value, read only, source, sensitive, synonyms); source 4 is the broker's own properties file.
STATIC_BROKER_CONFIG = 4


async def _broker_setting(bootstrap: str, name: str) -> tuple[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        answers = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.BROKER, str(KAFKA_NODE_ID), {name: None})]
        )
    finally:
        await admin.close()
    (error_code, error_message, _type, _name, entries), *_ = answers[0].resources
    assert error_code == 0, error_message
    found = {entry[0]: (entry[1], entry[3]) for entry in entries}
    assert name in found, f"the broker does not know {name}: {sorted(found)}"
    return found[name]


async def test_offset_commits_are_not_held_by_the_group_coordinator(servers: Servers) -> None:
    if servers.origin != "local stack":
        pytest.skip("only the local stack's broker is configured by infra/local")
    value, source = await _broker_setting(servers.kafka_bootstrap, "group.coordinator.append.linger.ms")
    assert (value, source) == ("0", STATIC_BROKER_CONFIG)


async def test_topics_are_never_created_by_writing_to_them(servers: Servers) -> None:
    # A topic missing from the catalog must fail here as it does in production, not get one partition silently.
    if servers.origin != "local stack":
        pytest.skip("only the local stack's broker is configured by infra/local")
    value, source = await _broker_setting(servers.kafka_bootstrap, "auto.create.topics.enable")
    assert (value, source) == ("false", STATIC_BROKER_CONFIG)
