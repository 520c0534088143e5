"""The topic catalog is consistent: unique names, a dead-letter topic per consumer group, known services."""

from shared.topics import CONSUMER_GROUPS, TOPICS, all_topic_partitions

SERVICES = {"ingest", "identity", "profile", "notify"}


def test_every_topic_name_is_unique_and_versioned() -> None:
    names = [topic.name for topic in TOPICS]
    assert len(names) == len(set(names))
    assert all(name.startswith("parterre.") and name.endswith(".v1") for name in names)


def test_every_consumer_group_reads_a_catalog_topic_its_service_is_declared_to_consume() -> None:
    for group in CONSUMER_GROUPS:
        assert group.topic in TOPICS
        assert group.service in group.topic.consumers


def test_producers_and_consumers_are_known_services() -> None:
    for topic in TOPICS:
        assert set(topic.producers) | set(topic.consumers) <= SERVICES


def test_each_consumer_group_has_its_own_dead_letter_topic_among_the_topics_to_create() -> None:
    wanted = all_topic_partitions()
    dead_letter_topics = {group.dead_letter_topic for group in CONSUMER_GROUPS}
    assert len(dead_letter_topics) == len(CONSUMER_GROUPS)
    assert dead_letter_topics <= set(wanted)
    assert all(wanted[topic.name] == topic.partitions for topic in TOPICS)
