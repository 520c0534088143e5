"""The topic catalog: every Kafka topic Parterre uses, who writes it, who reads it, and what its key is."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    key: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class ConsumerGroup:
    group_id: str
    service: str
    topic: Topic

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_topic_for(self.group_id)


# Partition counts bound how many instances of a consumer can share the work; six lets a small
# deployment scale to six instances per service without re-partitioning (which would reorder keys).
AUDIENCE_FACTS = Topic(
    name="parterre.audience.facts.v1",
    partitions=6,
    key="the upstream customer: `source:external_id`, else the lower-cased email, else the event id",
    producers=("ingest",),
    consumers=("identity",),
    description="Validated facts from box offices, shops, newsletter and social tools, not yet resolved.",
)
IDENTITY_RESOLUTIONS = Topic(
    name="parterre.identity.resolutions.v1",
    partitions=6,
    key="person id (the survivor's, for merges and unmerges)",
    producers=("identity",),
    consumers=("profile",),
    description="Facts resolved to one person, and the merges and unmerges between persons, in order per person.",
)
PROFILE_CHANGES = Topic(
    name="parterre.profile.changes.v1",
    partitions=6,
    key="person id",
    producers=("profile",),
    consumers=("notify",),
    description="Profile fields that changed, and segments entered or exited.",
)
PROFILE_TRIGGERS = Topic(
    name="parterre.profile.triggers.v1",
    partitions=6,
    key="person id",
    producers=("profile",),
    consumers=("notify",),
    description="Marketing triggers fired by the profile rules, at most once per person, rule and period.",
)
PRIVACY_REQUESTS = Topic(
    name="parterre.privacy.requests.v1",
    partitions=1,
    key="the source the request concerns",
    producers=("ingest",),
    consumers=(),
    description="Privacy requests about a whole upstream source (a shop that removed the app), for the operators "
    "who carry them out; requests about one person travel with the audience facts.",
)
NOTIFY_DELIVERIES = Topic(
    name="parterre.notify.deliveries.v1",
    partitions=3,
    key="subscription id",
    producers=("notify",),
    consumers=(),
    description="The outcome of each delivery attempt to a marketing tool, for operators and audits.",
)

TOPICS: tuple[Topic, ...] = (
    AUDIENCE_FACTS,
    IDENTITY_RESOLUTIONS,
    PROFILE_CHANGES,
    PROFILE_TRIGGERS,
    PRIVACY_REQUESTS,
    NOTIFY_DELIVERIES,
)

CONSUMER_GROUPS: tuple[ConsumerGroup, ...] = (
    ConsumerGroup("parterre-identity", "identity", AUDIENCE_FACTS),
    ConsumerGroup("parterre-profile", "profile", IDENTITY_RESOLUTIONS),
    ConsumerGroup("parterre-notify-changes", "notify", PROFILE_CHANGES),
    ConsumerGroup("parterre-notify-triggers", "notify", PROFILE_TRIGGERS),
)

DEAD_LETTER_PARTITIONS = 1


def dead_letter_topic_for(group_id: str) -> str:
    """Each consumer group has its own dead-letter topic, so a replay goes back to that consumer alone."""
    return f"parterre.deadletter.{group_id}"


def dead_letter_partitions(*group_ids: str) -> dict[str, int]:
    """The dead-letter topics of these consumer groups (ids as they join, namespace included), with their partition
    count: a group of its own (a test's, a benchmark's) needs its topic created as the catalog's are, since a broker
    that creates none on demand holds its first dead letter until the publish times out."""
    return {dead_letter_topic_for(group_id): DEAD_LETTER_PARTITIONS for group_id in group_ids}


def all_topic_partitions(namespace: str = "") -> dict[str, int]:
    """Every topic the platform needs, dead-letter topics included, with its partition count; names carry the
    namespace of the platform they belong to (see `ServiceSettings.kafka_namespace`)."""
    wanted = {namespace + topic.name: topic.partitions for topic in TOPICS}
    wanted.update(dead_letter_partitions(*(namespace + group.group_id for group in CONSUMER_GROUPS)))
    return wanted
