"""What profile emits: profile fields that changed, segments entered or exited, and marketing triggers fired."""

from typing import Any

from pydantic import ConfigDict, Field

from shared.events.common import (
    Channel,
    ConsentPurpose,
    ContactValue,
    EventData,
    ExternalId,
    Language,
    Moment,
    PersonId,
    ShortText,
)

_SEGMENT_EXAMPLE: dict[str, Any] = {
    "segment": "abonnes-2026-2027",
    "person_id": "per_7f3a9c2e41d8",
    "at": "2026-09-02T18:31:11Z",
}


class ProfileChangedV1(EventData):
    """Fields of a person's profile changed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person_id": "per_7f3a9c2e41d8",
                    "changed": {
                        "tickets_bought": 14,
                        "last_performance_at": "2026-10-17T20:00:00-04:00",
                        "preferred_language": "fr",
                        "phone": None,
                    },
                    "profile_version": 37,
                }
            ]
        }
    )

    person_id: PersonId = Field(description="Whose profile changed.")
    changed: dict[str, Any] = Field(
        min_length=1, description="New value of each changed field, by field name; `null` means the field was cleared."
    )
    profile_version: int = Field(ge=1, description="The profile's version after the change; grows by one per change.")


class ProfileErasedV1(EventData):
    """A person's profile was erased: whoever holds data about them must drop it and send them nothing more."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"person_id": "per_7f3a9c2e41d8", "at": "2027-01-15T14:02:00Z"}]}
    )

    person_id: PersonId = Field(description="Who was erased.")
    at: Moment = Field(description="When the profile was erased.")


class SegmentEnteredV1(EventData):
    """A person now belongs to a segment."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SEGMENT_EXAMPLE]})

    segment: ShortText = Field(description="The segment's name, as in the segment definitions.")
    person_id: PersonId = Field(description="Who entered it.")
    at: Moment = Field(description="When the person entered it.")


class SegmentExitedV1(EventData):
    """A person no longer belongs to a segment."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_SEGMENT_EXAMPLE, "at": "2027-07-01T04:00:00Z"}]})

    segment: ShortText = Field(description="The segment's name, as in the segment definitions.")
    person_id: PersonId = Field(description="Who left it.")
    at: Moment = Field(description="When the person left it.")


class ContactPoint(EventData):
    """A way to reach a person that their consent allows for this trigger."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"channel": "email", "value": "elise.gagnon@example.com"}]}
    )

    channel: Channel = Field(description="How to reach the person.")
    value: ContactValue = Field(description="The address or number on that channel.")


class TriggerFiredV1(EventData):
    """A marketing rule fired for a person; at most once per person, rule and period."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "trigger_id": "trg_5b1e0f9a7c3d4e21",
                    "rule": "relance-abonnement-non-renouvele",
                    "purpose": "marketing_email",
                    "dedupe_key": "relance-abonnement-non-renouvele:per_7f3a9c2e41d8:2027-2028",
                    "person_id": "per_7f3a9c2e41d8",
                    "language": "fr",
                    "contact_points": [{"channel": "email", "value": "elise.gagnon@example.com"}],
                    "facts": {"last_season": "2026-2027", "plan": "Abonnement 5 pièces", "seasons_subscribed": 4},
                    "fired_at": "2027-07-02T13:00:00Z",
                }
            ]
        }
    )

    trigger_id: ExternalId = Field(
        description="Deterministic id derived from the rule and the dedupe key, so a re-fire carries the same id."
    )
    rule: ShortText = Field(description="The rule's name, as in the trigger rule definitions.")
    purpose: ConsentPurpose | None = Field(
        default=None,
        description=(
            "The consent a message to the person for this trigger needs, checked again when it is sent; "
            "absent for a rule that is not a message to the person (an alert to staff)."
        ),
    )
    dedupe_key: ExternalId = Field(description="The rule fires at most once per dedupe key (person and period).")
    person_id: PersonId = Field(description="Who the trigger is about.")
    language: Language = Field(description="The language to address the person in.")
    contact_points: list[ContactPoint] = Field(
        default_factory=list,
        max_length=20,
        description="The contact points consent allows for this trigger's purpose; empty means none may be used.",
    )
    facts: dict[str, Any] = Field(
        default_factory=dict, description="What the receiving tool needs to personalise the message."
    )
    fired_at: Moment = Field(description="When the rule fired.")
