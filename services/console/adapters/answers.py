"""What the console reads of each service's answers, and which of it the answer must hold.

A field is required when the page cannot be drawn right without it: an id a link or a form carries, a key the page
groups or names things by, a figure a chart is drawn from. The services always give these (their OpenAPI); an
answer without one is malformed, and the page says which service gave it. Every other field is only shown: a service
older or newer than the console may leave it out or give it as null, and the page shows a dash or nothing in its
place. Fields the console does not read are kept as the service gave them.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# A text in French and in English, either possibly missing (`{"fr": ..., "en": ...}`).
Bilingual = dict[str, str | None]


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


# profile ---------------------------------------------------------------------------------------------------------


class SearchItem(Answer):
    person_id: str
    first_name: str | None = None
    last_name: str | None = None
    emails: list[str] | None = None
    undeliverable_emails: list[str] | None = None
    phones: list[str] | None = None
    city: str | None = None
    lifecycle_stage: str | None = None


class SearchAnswer(Answer):
    """`GET /v1/profiles/search`."""

    items: list[SearchItem]
    truncated: bool | None = None


class TicketLine(Answer):
    # The season and production group the lines; the tickets are summed.
    season: str
    production_id: str
    tickets: int
    title: Bilingual | None = None
    starts_at: str | None = None
    venue: str | None = None
    spend: Any = None
    attended: bool | None = None


class ProfileAnswer(Answer):
    """`GET /v1/profiles/{person_id}`."""

    # Whether the person's history went to another profile; `merged_into` is null once that one's patron was erased.
    merged: bool | None = None
    merged_into: str | None = None
    fields: dict[str, Any] | None = None
    segments: list[str] | None = None
    triggers_fired: list[str] | None = None
    tickets: list[TicketLine] | None = None


class Fact(Answer):
    # Every CloudEvent has a type; its time is optional.
    type: str
    time: str | None = None
    source: str | None = None
    data: dict[str, Any] | None = None


class TimelineItem(Answer):
    event: Fact


class TimelineAnswer(Answer):
    """`GET /v1/profiles/{person_id}/timeline`."""

    items: list[TimelineItem]
    next_cursor: int | None = None


class Definition(Answer):
    name: str
    title: Bilingual | None = None


class DefinitionsAnswer(Answer):
    """`GET /v1/definitions`."""

    segments: list[Definition] | None = None
    triggers: list[Definition] | None = None


class TrendPoint(Answer):
    members: int
    date: str | None = None


class SegmentItem(Answer):
    name: str
    title: Bilingual | None = None
    description: Bilingual | None = None
    members: int | None = None
    trend: list[TrendPoint] | None = None
    change_7d: int | None = None


class SegmentsAnswer(Answer):
    """`GET /v1/segments`."""

    items: list[SegmentItem]


class Member(Answer):
    person_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    preferred_language: str | None = None
    email_allowed: bool | None = Field(default=None, alias="consent.marketing_email.allowed")


class MembersAnswer(Answer):
    """`GET /v1/segments/{name}/members`."""

    items: list[Member]
    next_cursor: str | None = None


class SeasonPatrons(Answer):
    season: str
    new_patrons: int
    returning_patrons: int


class StagePatrons(Answer):
    stage: str
    patrons: int


class ReturningProduction(Answer):
    production_id: str
    returning_patrons: int
    patrons: int
    title: Bilingual | None = None


class SubscriptionConversion(Answer):
    season: str
    single_ticket_buyers: int
    converted: int
    rate: float


class OverviewTotals(Answer):
    patrons: int | None = None


class OverviewAnswer(Answer):
    """`GET /v1/overview`: each chart's figures are required, a chart profile did not give is empty."""

    computed_at: str | None = None
    current_season: str | None = None
    totals: OverviewTotals | None = None
    seasons: list[SeasonPatrons] | None = None
    lifecycle_stages: list[StagePatrons] | None = None
    top_returning_productions: list[ReturningProduction] | None = None
    subscription_conversion: list[SubscriptionConversion] | None = None


class ProfileExportAnswer(Answer):
    """`GET /v1/persons/{person_id}/export` (JSON): the persons merged into this one are asked of notify too."""

    merged_persons: list[str] | None = None


# identity --------------------------------------------------------------------------------------------------------


class Identifier(Answer):
    type: str
    source: str | None = None


class Household(Answer):
    members: list[str] | None = None


class MergeEvidence(Answer):
    identifier_type: str | None = None


class Merge(Answer):
    # The merge to undo, the person who may undo it, and the persons it folded in.
    merge_id: str
    survivor_person_id: str
    merged_person_ids: list[str]
    evidence: list[MergeEvidence] | None = None
    decided_by: str | None = None
    merged_at: str | None = None
    undone_at: str | None = None


class PersonAnswer(Answer):
    """`GET /v1/persons/{person_id}`."""

    status: str | None = None
    merged_into: str | None = None
    identifiers: list[Identifier] | None = None
    household: Household | None = None
    merges: list[Merge] | None = None


class ReviewItem(Answer):
    review_id: str
    person_id: str
    candidate_person_id: str
    probability: Any = None
    agreements: dict[str, str] | None = None


class ReviewAnswer(Answer):
    """`GET /v1/review`."""

    items: list[ReviewItem]


# notify, and every consuming service ------------------------------------------------------------------------------


class Delivery(Answer):
    delivery_id: str
    type: str | None = None
    status: str | None = None
    attempts: int | None = None
    created_at: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None


class DeliveriesAnswer(Answer):
    """notify's `GET /v1/deliveries`."""

    items: list[Delivery]


class Subscription(Answer):
    # Its id labels notify's metrics; whether it is enabled decides its health.
    subscription_id: str
    enabled: bool
    url: str | None = None
    disabled_reason: str | None = None
    disabled_reason_code: str | None = None


class SubscriptionsAnswer(Answer):
    """notify's `GET /v1/subscriptions`."""

    items: list[Subscription]


class DeadLetter(Answer):
    id: str
    reason: str | None = None
    dead_lettered_at: str | None = None
    event_type: str | None = None
    preview: str | None = None
    replays: int | None = None


class DeadLettersAnswer(Answer):
    """`GET /v1/dead-letters` of identity, profile and notify."""

    items: list[DeadLetter]
