"""The AsyncAPI 3 document and the human event catalog, generated from the topic catalog and the event registry."""

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from shared.events import Envelope, EventType, all_event_types, build_envelope
from shared.topics import CONSUMER_GROUPS, TOPICS, Topic

_REF_TEMPLATE = "#/components/schemas/{model}"
_EXAMPLE_TIME = datetime(2026, 10, 3, 19, 30, tzinfo=UTC)
_EXAMPLE_NAMESPACE = uuid.UUID("5b0f0c52-8f4e-4b59-9d3c-0d8b6f0b7a11")
_BINDING_VERSION = "0.5.0"


def _channel_id(topic: Topic) -> str:
    return topic.name.removeprefix("parterre.").replace(".", "_")


def _message_id(event: EventType) -> str:
    return event.name.removeprefix("parterre.").replace(".", "_")


def _example_envelope(event: EventType) -> dict[str, Any]:
    data = event.model.model_validate(event.example)
    envelope = build_envelope(
        data,
        organisation_id="theatre-du-nord",
        source="/orgs/theatre-du-nord/sources/example",
        id=str(uuid.uuid5(_EXAMPLE_NAMESPACE, event.name)),
        time=_EXAMPLE_TIME,
        correlation_id=str(uuid.uuid5(_EXAMPLE_NAMESPACE, f"{event.name}/correlation")),
    )
    return envelope.to_wire()


def asyncapi_document() -> dict[str, Any]:
    events = all_event_types()
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (Envelope, "validation"),
        *((event.model, "validation") for event in events),
    ]
    keys_to_refs, definitions = models_json_schema(models, ref_template=_REF_TEMPLATE, by_alias=True)
    schemas: dict[str, Any] = dict(sorted(definitions.get("$defs", {}).items()))
    envelope_ref = keys_to_refs[(Envelope, "validation")]

    messages: dict[str, Any] = {}
    for event in events:
        messages[_message_id(event)] = {
            "name": event.name,
            "title": event.model.__name__,
            "summary": event.description,
            "contentType": "application/cloudevents+json",
            "payload": {
                "allOf": [
                    envelope_ref,
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event.name},
                            "schemaversion": {"const": event.schema_version},
                            "data": keys_to_refs[(event.model, "validation")],
                        },
                        "required": ["type", "data"],
                    },
                ]
            },
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": event.topic.key},
                    "bindingVersion": _BINDING_VERSION,
                }
            },
            "examples": [{"name": "example", "payload": _example_envelope(event)}],
        }

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in TOPICS:
        channel_id = _channel_id(topic)
        carried = [event for event in events if event.topic == topic]
        channels[channel_id] = {
            "address": topic.name,
            "description": topic.description,
            "messages": {
                _message_id(event): {"$ref": f"#/components/messages/{_message_id(event)}"} for event in carried
            },
            "bindings": {
                "kafka": {"topic": topic.name, "partitions": topic.partitions, "bindingVersion": _BINDING_VERSION}
            },
        }
        message_refs = [{"$ref": f"#/channels/{channel_id}/messages/{_message_id(event)}"} for event in carried]
        for producer in topic.producers:
            operations[f"{producer}_sends_{channel_id}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"The {producer} service publishes to {topic.name}.",
                "messages": message_refs,
            }
        for group in (group for group in CONSUMER_GROUPS if group.topic == topic):
            operations[f"{group.service}_receives_{channel_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"The {group.service} service consumes {topic.name} as group {group.group_id}; "
                f"messages failing every attempt go to {group.dead_letter_topic}.",
                "messages": message_refs,
                "bindings": {
                    "kafka": {
                        "groupId": {"type": "string", "enum": [group.group_id]},
                        "bindingVersion": _BINDING_VERSION,
                    }
                },
            }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Parterre events",
            "version": "1",
            "description": "CloudEvents 1.0 in structured mode on Kafka: every topic of the platform and every "
            "event type it carries. Generated from the code by `make docs`.",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The local broker started by `make infra-up`.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def events_markdown() -> str:
    events = all_event_types()
    lines = [
        "# Parterre event catalog",
        "",
        "Generated from `shared/topics.py` and `shared/events/` by `make docs`; do not edit by hand.",
        "Every event is a CloudEvents 1.0 envelope (structured mode) whose `data` follows the type's schema;",
        "the full schemas and an example of each type are in [asyncapi.json](asyncapi.json).",
        "",
        "## Topics",
        "",
        "| topic | partitions | key | produced by | consumed by (group) |",
        "|---|---|---|---|---|",
    ]
    for topic in TOPICS:
        groups = ", ".join(f"{group.service} (`{group.group_id}`)" for group in CONSUMER_GROUPS if group.topic == topic)
        lines.append(
            f"| `{topic.name}` | {topic.partitions} | {topic.key} | {', '.join(topic.producers)} | {groups or '—'} |"
        )
    lines += [
        "",
        "Each consumer group has its own dead-letter topic, `parterre.deadletter.<group>`, where a message that failed",
        "every attempt lands with its original bytes, key and headers, and `parterre-dlq-*` headers giving the reason.",
        "The service that owns the group lists them (`GET /v1/dead-letters`) and replays one to the group's topic",
        "(`POST /v1/dead-letters/{id}/replay`) with its original bytes, key and headers, plus `parterre-dlq-replay-of`",
        "naming the entry it replays; consumers handle it as any redelivery. Key and headers go back as they came: a",
        "message without a key is replayed without one (not with an empty key, which Kafka puts on one partition), and",
        "a header given twice is sent twice, in its place. A message dead-lettered twice (its consumer stopped between",
        "the dead letter and its commit) is listed once, with `copies` saying how many dead letters it has; replaying",
        "either is replaying the message, and the other is then refused (`409 already_replayed`) unless `again=true`.",
        "A message too large to be dead-lettered whole keeps its first 512 KB (`truncated` in the listing gives its",
        "size): its replay reads the whole message back from the group's topic, and is refused (`409 truncated`) once",
        "that topic's retention deleted it. A message too near Kafka's size limit to take `parterre-dlq-replay-of` is",
        "replayed without it, exactly as it first came (the replay is still counted in the listing).",
        "",
        "## Event types",
    ]
    for topic in TOPICS:
        lines += ["", f"### On `{topic.name}`", "", "| type | schema | what it says |", "|---|---|---|"]
        for event in (event for event in events if event.topic == topic):
            lines.append(f"| `{event.name}` | `{event.model.__name__}` {event.schema_version} | {event.description} |")
    return "\n".join(lines) + "\n"
