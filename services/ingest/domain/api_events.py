"""Reading `POST /v1/events` bodies: one CloudEvent or a batch, each judged on its own, within the size limits."""

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from services.ingest.domain.drafts import FUTURE_TIME_ALLOWED
from services.ingest.domain.json_body import MalformedJsonError, UnstorableJsonError, compact_json, read_json_body
from shared.events import (
    Envelope,
    EventValidationError,
    FieldError,
    all_event_types,
    event_type,
    field_errors,
    parse_data,
)
from shared.events.audience import PARTERRE_PERSON_SOURCE, AudienceFact, ConsentGrantedV1, ConsentWithdrawnV1
from shared.events.common import ARRIVING
from shared.events.registry import UnknownEventTypeError
from shared.topics import AUDIENCE_FACTS

JSON_MEDIA_TYPES = frozenset({"application/json", "application/cloudevents+json", "application/cloudevents-batch+json"})
# CloudEvents' HTTP binding: a body that is not in a CloudEvents format, sent with the required attributes as `ce-`
# headers, is one event in binary mode, its body the event's `data`.
BINARY_MODE_HEADERS = frozenset({"ce-specversion", "ce-id", "ce-source", "ce-type"})


@dataclass(frozen=True)
class EventLimits:
    max_events: int = 500
    max_batch_bytes: int = 512 * 1024
    max_event_bytes: int = 32 * 1024


class RequestRejectedError(ValueError):
    """The whole request is refused; `status` is the HTTP status that says why."""

    def __init__(self, status: int, code: str, en: str, fr: str) -> None:
        super().__init__(en)
        self.status = status
        self.code = code
        self.en = en
        self.fr = fr


@dataclass(frozen=True)
class EventVerdict:
    index: int
    envelope: Envelope | None
    errors: tuple[FieldError, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.envelope is not None


def read_api_events(
    body: bytes,
    content_type: str | None,
    *,
    organisation_id: str,
    received_at: datetime,
    limits: EventLimits,
    headers: Mapping[str, str] | None = None,
) -> list[EventVerdict]:
    """Judge every event of the body; valid ones come back as envelopes stamped with the ingest time.

    The organisation comes from the caller's token: an event that names another one is refused, and one
    that names none is given the token's. Only upstream facts may be sent; identity and profile outputs are
    Parterre's own and cannot be injected. `headers` (lowercase names) carry the attributes of an event sent in
    binary mode.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        raise RequestRejectedError(
            415,
            "unsupported_media_type",
            en=f"Send JSON (application/json or application/cloudevents+json), not {media_type or 'no type'}.",
            fr=f"Envoyez du JSON (application/json ou application/cloudevents+json), pas {media_type or 'rien'}.",
        )
    if len(body) > limits.max_batch_bytes:
        raise RequestRejectedError(
            413,
            "payload_too_large",
            en=f"The body has {len(body)} bytes; at most {limits.max_batch_bytes} are accepted.",
            fr=f"Le corps fait {len(body)} octets ; au plus {limits.max_batch_bytes} sont acceptés.",
        )
    try:
        decoded = read_json_body(body)
    except MalformedJsonError as exc:
        raise RequestRejectedError(400, "malformed_json", en=exc.en, fr=exc.fr) from None
    binary = media_type == "application/json" and not BINARY_MODE_HEADERS.isdisjoint(headers or {})
    if binary:
        decoded = {**_binary_mode_attributes(headers or {}), "datacontenttype": content_type, "data": decoded}
    single = isinstance(decoded, dict)
    items: list[Any] = [decoded] if single else decoded if isinstance(decoded, list) else []
    if decoded == [] and media_type == "application/cloudevents-batch+json":
        # CloudEvents' batched mode allows an empty batch: nothing to judge, nothing refused.
        return []
    if not items:
        raise RequestRejectedError(
            400,
            "no_events",
            en="The body must be one event (a JSON object) or a non-empty array of events.",
            fr="Le corps doit être un événement (objet JSON) ou un tableau non vide d'événements.",
        )
    if len(items) > limits.max_events:
        raise RequestRejectedError(
            413,
            "too_many_events",
            en=f"The batch has {len(items)} events; at most {limits.max_events} are accepted.",
            fr=f"Le lot contient {len(items)} événements ; au plus {limits.max_events} sont acceptés.",
        )
    verdicts = [
        _judge(index, item, organisation_id=organisation_id, received_at=received_at, limits=limits)
        for index, item in enumerate(items)
    ]
    if single and verdicts[0].errors and verdicts[0].errors[0].code == "too_large":
        raise RequestRejectedError(
            413,
            "event_too_large",
            en=f"The event is larger than {limits.max_event_bytes} bytes.",
            fr=f"L'événement dépasse {limits.max_event_bytes} octets.",
        )
    return verdicts


def _binary_mode_attributes(headers: Mapping[str, str]) -> dict[str, str]:
    """The attributes of a binary-mode event, one per `ce-` header, decoded as CloudEvents' HTTP binding says:
    a double-quoted value unquoted, then percent-decoded once into UTF-8, an invalid sequence refused."""
    attributes: dict[str, str] = {}
    for name, value in headers.items():
        if not name.startswith("ce-") or name == "ce-datacontenttype":
            # The binding forbids `ce-datacontenttype`: the Content-Type header is the data's media type.
            continue
        text = value.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        try:
            # Starlette reads header bytes as Latin-1: back to the bytes sent, then UTF-8 after percent-decoding.
            attributes[name.removeprefix("ce-")] = urllib.parse.unquote_to_bytes(text.encode("latin-1")).decode()
        except (UnicodeEncodeError, UnicodeDecodeError):
            raise RequestRejectedError(
                400,
                "malformed_header",
                en=f"The {name} header is not percent-encoded UTF-8.",
                fr=f"L'en-tête {name} n'est pas de l'UTF-8 encodé en pourcentage.",
            ) from None
    return attributes


def _judge(index: int, item: Any, *, organisation_id: str, received_at: datetime, limits: EventLimits) -> EventVerdict:
    if not isinstance(item, dict):
        return _refused(
            index, "$", "an event must be a JSON object", "un événement doit être un objet JSON", "type_error"
        )
    try:
        # Compact UTF-8, as `json.dumps(ensure_ascii=False)` would write it, in a quarter of the time.
        size = len(compact_json(item))
    except UnstorableJsonError as exc:
        code = "nested_too_deep" if exc.nested_too_deep else "unicode_invalid"
        return _refused(index, "$", f"contains {exc.en}", f"contient {exc.fr}", code)
    if size > limits.max_event_bytes:
        return _refused(
            index,
            "$",
            f"the event has {size} bytes; at most {limits.max_event_bytes}",
            f"l'événement fait {size} octets ; au plus {limits.max_event_bytes}",
            "too_large",
        )
    attributes = dict(item)
    if attributes.get("organisationid") is None:
        # Absent, or null, which CloudEvents reads as absent: the token's organisation.
        attributes["organisationid"] = organisation_id
    if attributes["organisationid"] != organisation_id:
        return _refused(
            index,
            "organisationid",
            "names another organisation than the one of your token",
            "nomme une autre organisation que celle de votre jeton",
            "forbidden",
        )
    attributes["ingesttime"] = received_at.isoformat()
    try:
        envelope = Envelope.model_validate(attributes, context={ARRIVING: True})
    except ValidationError as exc:
        return EventVerdict(index, None, tuple(field_errors(exc)))
    try:
        if event_type(envelope.type).topic != AUDIENCE_FACTS:
            return _refused(
                index,
                "type",
                "only upstream facts can be sent to ingest",
                "seuls les faits des systèmes sources peuvent être envoyés à ingest",
                "not_an_upstream_fact",
            )
        data = parse_data(envelope, arriving=True)
    except UnknownEventTypeError:
        return _refused(
            index,
            "type",
            f"{envelope.type!r} is not a known event type; upstream facts are {_UPSTREAM_FACT_TYPES}",
            f"{envelope.type!r} n'est pas un type d'événement connu ; les faits des systèmes sources sont "
            f"{_UPSTREAM_FACT_TYPES}",
            "unknown_type",
        )
    except EventValidationError as exc:
        return EventVerdict(index, None, exc.errors)
    if envelope.time > received_at + FUTURE_TIME_ALLOWED:
        # A fact is told once it happened. One dated ahead (a year mistyped) would have its person's profile read as
        # of that day: their season, the opens it forgets, the triggers it judges.
        return _refused(
            index,
            "time",
            f"is {envelope.time.isoformat()}, more than a day after it was received ({received_at.isoformat()}): "
            "an event is sent once it happened",
            f"vaut {envelope.time.isoformat()}, plus d'un jour après sa réception ({received_at.isoformat()}) : un "
            "événement s'envoie une fois arrivé",
            "time_in_future",
        )
    if (
        isinstance(data, ConsentGrantedV1 | ConsentWithdrawnV1)
        and data.captured_at > envelope.time + FUTURE_TIME_ALLOWED
    ):
        # Consent is told once captured. A grant dated ahead would outrank every withdrawal until that day.
        return _refused(
            index,
            "data.captured_at",
            f"is {data.captured_at.isoformat()}, more than a day after the event's time ({envelope.time.isoformat()}): "
            "consent is told once it was captured",
            f"vaut {data.captured_at.isoformat()}, plus d'un jour après l'heure de l'événement "
            f"({envelope.time.isoformat()}) : un consentement se transmet une fois recueilli",
            "captured_in_future",
        )
    if isinstance(data, AudienceFact) and data.person.source == PARTERRE_PERSON_SOURCE:
        # That source names persons by Parterre's own ids: an upstream system claiming it could erase anyone.
        return _refused(
            index,
            "data.person.source",
            f"{PARTERRE_PERSON_SOURCE} is reserved for Parterre's own requests",
            f"{PARTERRE_PERSON_SOURCE} est réservé aux demandes de Parterre elle-même",
            "reserved",
        )
    return EventVerdict(index, envelope)


_UPSTREAM_FACT_TYPES = ", ".join(sorted(kind.name for kind in all_event_types() if kind.topic == AUDIENCE_FACTS))


def _refused(index: int, field: str, reason: str, reason_fr: str, code: str) -> EventVerdict:
    return EventVerdict(index, None, (FieldError(field=field, reason=reason, reason_fr=reason_fr, code=code),))
