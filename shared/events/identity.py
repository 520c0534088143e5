"""What identity emits: facts resolved to a person, merges and unmerges between persons, and households."""

from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.events.common import EventData, ExternalId, LongText, Moment, PersonId, ShortText
from shared.events.envelope import Envelope

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class MatchMethod(StrEnum):
    NEW = "new"
    EXTERNAL_ID = "external_id"
    EMAIL = "email"
    PHONE = "phone"
    PROBABILISTIC = "probabilistic"
    REVIEW_PENDING = "review_pending"


class Match(EventData):
    """How identity decided which person a fact is about."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"method": "email", "confidence": 1.0, "matched_identifiers": ["email"]}],
        }
    )

    method: MatchMethod = Field(
        description="`new` when a person was created; `review_pending` when a person was created provisionally "
        "and a possible duplicate awaits a reviewer."
    )
    confidence: float = Field(ge=0, le=1, description="How sure the match is, from 0 to 1; 1 for exact matches.")
    matched_identifiers: list[ShortText] = Field(
        default_factory=list,
        max_length=50,
        description="Identifier types that matched, e.g. `email` or `external_id:shopify-boutique`.",
    )


class PersonResolvedV1(EventData):
    """An upstream fact, now known to be about one person."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "original": {
                        "specversion": "1.0",
                        "id": "mailchimp-principal:subscribe:8a25ff1d98:1788373868",
                        "source": "/orgs/theatre-du-nord/sources/mailchimp-principal",
                        "type": "parterre.newsletter.subscribed.v1",
                        "time": "2026-09-02T14:31:08-04:00",
                        "datacontenttype": "application/json",
                        "organisationid": "theatre-du-nord",
                        "schemaversion": "1.0",
                        "ingesttime": "2026-09-02T18:31:09.412Z",
                        "data": {
                            "person": {"source": "mailchimp-principal", "email": "Elise.Gagnon@example.com"},
                            "list_id": "a6b5da1054",
                            "list_name": "Infolettre du Théâtre du Nord",
                        },
                    },
                    "person_id": "per_7f3a9c2e41d8",
                    "match": {"method": "email", "confidence": 1.0, "matched_identifiers": ["email"]},
                }
            ]
        }
    )

    original: Envelope = Field(description="The upstream event exactly as ingest published it.")
    person_id: PersonId = Field(description="The person the fact is about.")
    match: Match = Field(description="How the person was found or created.")
    history_of: PersonId | None = Field(
        default=None,
        description="For a fact resolved to a person others are merged into, by it or before it: the one merged whose "
        "history the fact is part of: who brought the strongest identifier it names (an upstream id before an email), "
        "as an unmerge decides whose a record is; undoing their merge gives the fact back to them. None: the fact is "
        "`person_id`'s own.",
    )

    @field_validator("history_of")
    @classmethod
    def _history_of_someone_else(cls, history_of: str | None, info: ValidationInfo) -> str | None:
        if history_of is not None and info.data.get("person_id") == history_of:
            raise PydanticCustomError("history_of_oneself", "A fact that is the person's own names no one else")
        return history_of

    @field_serializer("original")
    def _as_published(self, original: Envelope) -> dict[str, Any]:
        return original.to_wire()


class MergeDecider(StrEnum):
    RULE = "rule"
    REVIEWER = "reviewer"


class MergeEvidence(EventData):
    """One identifier two persons shared, which justified merging them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "identifier_type": "email",
                    "value_hash": "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592",
                }
            ]
        }
    )

    identifier_type: ShortText = Field(description="e.g. `email`, `phone`, `external_id:billetterie-principale`.")
    # The merge log outlives erasure requests, so the hash is preferred: it proves the match without keeping the value.
    value_hash: Sha256Hex | None = Field(
        default=None, description="SHA-256 (hex) of the normalised identifier value; preferred over `value`."
    )
    value: ShortText | None = Field(default=None, description="The identifier value itself, when it is not personal.")

    @model_validator(mode="after")
    def _has_value_or_hash(self) -> Self:
        if self.value_hash is None and self.value is None:
            raise PydanticCustomError("evidence_empty", "Evidence needs a value_hash or a value")
        return self


class PersonsMergedV1(EventData):
    """Persons found to be one: their history now belongs to the survivor."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "merge_id": "mrg_2026-09-02_0042",
                    "survivor_person_id": "per_7f3a9c2e41d8",
                    "merged_person_ids": ["per_19b0c7d2aa05"],
                    "reason": "Même adresse courriel et même nom dans la billetterie et la boutique",
                    "evidence": [
                        {
                            "identifier_type": "email",
                            "value_hash": "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592",
                        },
                        {"identifier_type": "external_id:shopify-boutique", "value": "207119551"},
                    ],
                    "decided_by": "rule",
                    "merged_at": "2026-09-02T18:31:10Z",
                }
            ]
        }
    )

    merge_id: ExternalId = Field(description="Deterministic id of this merge; an unmerge names it.")
    survivor_person_id: PersonId = Field(description="The person that remains.")
    merged_person_ids: list[PersonId] = Field(
        min_length=1, max_length=100, description="The persons folded into the survivor; they no longer exist."
    )
    reason: LongText = Field(description="Why, for a person auditing the merge.")
    evidence: list[MergeEvidence] = Field(
        default_factory=list, max_length=50, description="The identifiers that matched."
    )
    decided_by: MergeDecider = Field(description="An automatic rule, or a reviewer confirming a pending match.")
    merged_at: Moment = Field(description="When the merge was decided.")
    household_id: ExternalId | None = Field(
        default=None,
        description="The household the survivor is in from now on: the last merged person's that was in one. "
        "None: the survivor keeps its own.",
    )

    @field_validator("merged_person_ids")
    @classmethod
    def _survivor_is_not_merged_into_itself(cls, merged: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("survivor_person_id") in merged:
            raise PydanticCustomError("merge_into_self", "The survivor cannot be among the merged persons")
        return merged


class PersonUnmergedV1(EventData):
    """A merge was undone: the persons it folded exist again."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "merge_id": "mrg_2026-09-02_0042",
                    "survivor_person_id": "per_7f3a9c2e41d8",
                    "restored_person_ids": ["per_19b0c7d2aa05"],
                    "unmerged_at": "2026-09-10T15:02:00Z",
                    "requested_by": "reviewer:marie.tremblay",
                }
            ]
        }
    )

    merge_id: ExternalId = Field(description="The merge undone.")
    survivor_person_id: PersonId = Field(description="The person that survived the merge and keeps its own history.")
    restored_person_ids: list[PersonId] = Field(
        min_length=1, max_length=100, description="The persons restored, with the history they had."
    )
    unmerged_at: Moment = Field(description="When the merge was undone.")
    requested_by: ShortText = Field(description="Who asked, e.g. `reviewer:marie.tremblay`.")


class HouseholdJoinedV1(EventData):
    """A person was counted in a household: identity found them sharing an email or a phone with someone clearly
    someone else (a couple's one address, a family's one phone)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person_id": "per_19b0c7d2aa05",
                    "household_id": "hh_3c9e0d41a7b25f6e08c1d2a9",
                    "joined_with": "per_7f3a9c2e41d8",
                    "joined_at": "2026-09-02T18:31:10Z",
                }
            ]
        }
    )

    person_id: PersonId = Field(description="The person now in the household.")
    household_id: ExternalId = Field(description="The household's id; a person is in one household at a time.")
    joined_with: PersonId = Field(description="The member the person was found to share an email or a phone with.")
    joined_at: Moment = Field(description="When identity decided it.")

    @field_validator("joined_with")
    @classmethod
    def _not_joined_with_oneself(cls, joined_with: str, info: ValidationInfo) -> str:
        if info.data.get("person_id") == joined_with:
            raise PydanticCustomError("household_with_oneself", "A person joins a household with someone else")
        return joined_with
