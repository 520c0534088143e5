"""Ingest HTTP routes: parse, call a handler, answer. A client's input never produces a 500."""

import contextlib
import logging
import tempfile
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NoReturn

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pymongo.errors import PyMongoError

from services.ingest.context import IngestContext, IngestDep
from services.ingest.domain.api_events import EventLimits, RequestRejectedError, read_api_events
from services.ingest.domain.boxoffice import CsvFormatError, MappingFileError
from services.ingest.domain.json_body import MalformedJsonError, UnstorableJsonError, compact_json, read_json_body
from services.ingest.domain.mailchimp import mailchimp_events
from services.ingest.domain.shopify import AdapterError, verify_shopify_hmac
from services.ingest.domain.sources import Source, SourceKind, source_mapping
from services.ingest.handlers import (
    ID_REUSED,
    UNSUPPORTED_TOPIC,
    EventsInFlightError,
    PublishOutcome,
    import_boxoffice,
    publish_new,
    receive_shopify_webhook,
)
from shared.access import EventsWriter
from shared.errors import bilingual_error
from shared.events import Envelope, FieldError

log = logging.getLogger(__name__)
router = APIRouter(tags=["ingest"])

RETRY_AFTER_SECONDS = "5"


def _reject(status_code: int, code: str, en: str, fr: str, fields: Sequence[FieldError] | None = None) -> NoReturn:
    raise HTTPException(
        status_code,
        detail=bilingual_error(
            code, en=en, fr=fr, fields=None if fields is None else [error.model_dump() for error in fields]
        ),
    )


def _unauthorised() -> NoReturn:
    # The same answer for an unknown source and a wrong credential, so neither can be probed.
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail=bilingual_error(
            "unauthenticated", en="Unknown source or wrong credentials.", fr="Source inconnue ou identifiants erronés."
        ),
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _unavailable(en: str, fr: str) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=bilingual_error("unavailable", en=en, fr=fr),
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def _store_unavailable() -> NoReturn:
    raise _unavailable(
        en="The store cannot be reached right now; nothing was accepted. Retry later.",
        fr="La base de données est injoignable pour l'instant ; rien n'a été accepté. Réessayez.",
    )


def _too_large(limit: int) -> NoReturn:
    _reject(
        413,
        "payload_too_large",
        en=f"The body is larger than {limit} bytes.",
        fr=f"Le corps dépasse {limit} octets.",
    )


@contextlib.asynccontextmanager
async def _storing(what: str) -> AsyncIterator[None]:
    """Turns Kafka or the store failing into a 503 to retry. The wait for Kafka is bounded where events are
    published (`publish_timeout_seconds`), not here: a bound around the whole request could fall after Kafka has
    the events, and the answer would say nothing was accepted."""
    try:
        yield
    except EventsInFlightError as exc:
        log.warning("%s: %s", what, exc)
        raise _in_flight() from None
    except (TimeoutError, KafkaError, PyMongoError) as exc:
        log.error("could not store %s: %r", what, exc)
        raise _unavailable(
            en="Events cannot be stored right now; nothing was accepted. Retry later.",
            fr="Les événements ne peuvent être enregistrés pour l'instant ; rien n'a été accepté. Réessayez.",
        ) from None


def _in_flight() -> HTTPException:
    return _unavailable(
        en="Some of these events are being stored by another request; nothing was accepted. Retry shortly.",
        fr="Une autre requête enregistre certains de ces événements ; rien n'a été accepté. Réessayez sous peu.",
    )


async def _publish(
    context: IngestContext, envelopes: Sequence[Envelope], *, organisation_id: str, source: str
) -> PublishOutcome:
    async with _storing(f"{len(envelopes)} events"):
        return await publish_new(
            envelopes,
            organisation_id=organisation_id,
            source=source,
            sink=context.sink,
            ledger=context.ledger,
            metrics=context.metrics,
            kafka_timeout_seconds=context.settings.publish_timeout_seconds,
        )


class EventResult(BaseModel):
    """What became of one event of the request, by its place in it."""

    index: int = Field(description="The event's place in the request, from 0.")
    id: str | None = Field(default=None, description="The event's id, when it could be read.")
    status: Literal["accepted", "duplicate", "rejected"] = Field(
        description="`duplicate`: an event of that id was received before, and is not published again."
    )
    errors: list[FieldError] | None = Field(default=None, description="Why it was rejected, field by field.")


class EventsAnswer(BaseModel):
    """The request's events counted by outcome, and each one's result."""

    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]


# Read by the route itself, each event on its own (a batch keeps its valid events): documented, not a parameter.
_ENVELOPE = Envelope.model_json_schema(by_alias=True)
# An event that names no organisation is given the token's (`read_api_events`): required once stored, not when sent.
_CLOUDEVENT = {**_ENVELOPE, "required": [name for name in _ENVELOPE["required"] if name != "organisationid"]}
_EVENTS_BODY = {
    "required": True,
    "content": {
        "application/cloudevents+json": {"schema": _CLOUDEVENT},
        "application/cloudevents-batch+json": {"schema": {"type": "array", "items": _CLOUDEVENT}},
        "application/json": {
            "schema": {
                "description": "A batch of events, or one event's `data` in binary mode (its attributes as `ce-` "
                "headers).",
                "oneOf": [{"type": "array", "items": _CLOUDEVENT}, {"type": "object"}],
            }
        },
    },
}


@router.post(
    "/v1/events",
    status_code=202,
    summary="Send one CloudEvent or a batch",
    response_model=EventsAnswer,
    responses={
        400: {},
        401: {},
        403: {},
        413: {},
        415: {},
        # Every event refused: the same answer as 202, each with its reasons.
        422: {"model": EventsAnswer, "description": "Every event of the request was rejected: `results` says why."},
        503: {},
    },
    openapi_extra={"requestBody": _EVENTS_BODY},
)
async def post_events(request: Request, principal: EventsWriter, context: IngestDep) -> JSONResponse:
    """Accepts upstream facts as CloudEvents 1.0 in JSON: one event (`application/cloudevents+json`, or binary mode:
    its `data` as an `application/json` body, its attributes as `ce-` headers) or a JSON array of events
    (`application/cloudevents-batch+json`, or `application/json`).

    Answers 202 once Kafka has stored every valid event; invalid events of a batch are reported with their
    index, field and reason while the valid ones are kept. Events already received (same id) are accepted
    again without being published twice.
    """
    body = await _read_body(request, context.settings.max_batch_bytes)
    limits = EventLimits(
        context.settings.max_batch_events, context.settings.max_batch_bytes, context.settings.max_event_bytes
    )
    try:
        verdicts = read_api_events(
            body,
            request.headers.get("content-type"),
            organisation_id=principal.organisation_id,
            received_at=datetime.now(UTC),
            limits=limits,
            headers=request.headers,
        )
    except RequestRejectedError as exc:
        _reject(exc.status, exc.code, exc.en, exc.fr)
    valid = [verdict.envelope for verdict in verdicts if verdict.envelope is not None]
    outcome = await _publish(context, valid, organisation_id=principal.organisation_id, source="api")
    # The first occurrence of a published id is the accepted one; any other occurrence is a duplicate.
    unreported = {envelope.id for envelope in outcome.published}
    holders = {id(refusal.envelope): refusal.holder for refusal in outcome.reused}
    results: list[dict[str, Any]] = []
    for verdict in verdicts:
        if verdict.envelope is None:
            for error in verdict.errors:
                context.metrics.events.labels(principal.organisation_id, "api", "", "rejected", error.code).inc()
            results.append(
                {"index": verdict.index, "status": "rejected", "errors": [e.model_dump() for e in verdict.errors]}
            )
        elif (holder := holders.get(id(verdict.envelope))) is not None:
            error = _id_reused(verdict.envelope, holder)
            results.append(
                {
                    "index": verdict.index,
                    "id": verdict.envelope.id,
                    "status": "rejected",
                    "errors": [error.model_dump()],
                }
            )
        else:
            state = "accepted" if verdict.envelope.id in unreported else "duplicate"
            unreported.discard(verdict.envelope.id)
            results.append({"index": verdict.index, "id": verdict.envelope.id, "status": state})
    rejected = len(verdicts) - len(valid) + len(outcome.reused)
    body_out = {
        "accepted": len(outcome.published),
        "duplicates": len(outcome.duplicates),
        "rejected": rejected,
        "results": results,
    }
    return JSONResponse(body_out, status_code=422 if verdicts and rejected == len(verdicts) else 202)


def _id_reused(envelope: Envelope, holder: str) -> FieldError:
    return FieldError(
        field="id",
        reason=f"{envelope.id!r} is the id of an event of source {holder!r}: ids must be unique across the "
        "organisation's sources, so begin yours with your system's name",
        reason_fr=f"{envelope.id!r} est l'identifiant d'un événement de la source {holder!r} : les identifiants "
        "doivent être uniques parmi les sources de l'organisation, faites commencer les vôtres par le nom de votre "
        "système",
        code=ID_REUSED,
    )


async def _source(context: IngestContext, source_id: str, kind: SourceKind) -> Source:
    try:
        source = await context.sources.find(source_id)
    except PyMongoError:
        _store_unavailable()
    if source is None or source.kind is not kind:
        _unauthorised()
    return source


def _adapter_failed(exc: AdapterError) -> NoReturn:
    _reject(
        422,
        "invalid_payload",
        en="The payload does not have the fields Parterre needs.",
        fr="Le contenu n'a pas les champs dont Parterre a besoin.",
        fields=exc.errors,
    )


@router.post("/v1/webhooks/shopify/{source_id}", summary="Shopify webhooks, verified by their HMAC")
async def post_shopify_webhook(
    source_id: str,
    request: Request,
    context: IngestDep,
    x_shopify_hmac_sha256: Annotated[str | None, Header()] = None,
    x_shopify_topic: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Topics read: `orders/create`, `orders/paid`, `orders/updated`, `orders/cancelled`, `refunds/create`,
    `customers/create`, `customers/update`, `customers/redact`, `customers/data_request`, `shop/redact`.

    `orders/updated` publishes what the order shows that Parterre models (its sale, a cancellation, its refunds,
    the buyer's consent) under the same ids as the topic of that change, so nothing is published twice. Any other
    topic is answered `200` with `"ignored": "unsupported_topic"` and nothing published. A body that is not a JSON
    object is refused with `400`; a payload of a topic read that lacks what Parterre needs, with `422` naming each
    field: the ids, amounts, currency, line items and quantities, a refund's order, a data request's id, and what
    names the person (the customer id, else the email, else the phone, else the first and last names).

    Any other detail of the person (an address part, the phone, the country code, the locale, a name, the email
    when the customer id is given) that cannot be read is left out, the rest is published, and the answer lists
    it in `left_out`: each field by its JSON path, with `reason`, `reason_fr` and `code`, as in a `422`'s `fields`,
    e.g. `{"field": "customer.default_address.country_code", "reason": "String should match pattern
    '^[A-Z]{2}$'", "reason_fr": "n'a pas la forme attendue (^[A-Z]{2}$)", "code": "string_pattern_mismatch"}`.
    A buyer's email, phone or name that cannot be read where the order gives it readably elsewhere is taken from
    there, and the place passed over is listed all the same. `left_out` is absent when nothing was left out.
    Refused, such a delivery would have Shopify retry it for 48 hours, then remove the webhook.
    """
    source = await _source(context, source_id, SourceKind.SHOPIFY)
    raw_body = await _read_body(request, context.settings.max_webhook_bytes)
    if not verify_shopify_hmac(raw_body, x_shopify_hmac_sha256, source.signing_secrets):
        _unauthorised()
    if not x_shopify_topic:
        _reject(
            400, "missing_topic", en="The X-Shopify-Topic header is missing.", fr="L'en-tête X-Shopify-Topic manque."
        )
    try:
        payload = read_json_body(raw_body)
    except MalformedJsonError as exc:
        _reject(400, "malformed_json", en=exc.en, fr=exc.fr)
    if not isinstance(payload, dict):
        _reject(400, "malformed_json", en="The body must be a JSON object.", fr="Le corps doit être un objet JSON.")
    try:
        compact_json(payload)
    except UnstorableJsonError as exc:
        _reject(400, "malformed_json", en=f"The body holds {exc.en}.", fr=f"Le corps contient {exc.fr}.")
    try:
        async with _storing(f"a Shopify {x_shopify_topic} webhook"):
            outcome = await receive_shopify_webhook(
                x_shopify_topic,
                payload,
                source=source,
                received_at=datetime.now(UTC),
                sink=context.sink,
                ledger=context.ledger,
                orders=context.orders,
                sources=context.sources,
                metrics=context.metrics,
                kafka_timeout_seconds=context.settings.publish_timeout_seconds,
            )
    except AdapterError as exc:
        _adapter_failed(exc)
    answer: dict[str, Any] = {
        "published": outcome.published,
        "duplicates": outcome.duplicates,
        "awaiting_order": outcome.awaiting_order,
    }
    if outcome.topic_ignored:
        answer["ignored"] = UNSUPPORTED_TOPIC
    if outcome.left_out:
        answer["left_out"] = [error.model_dump() for error in outcome.left_out]
    return answer


async def _mailchimp_source(context: IngestContext, source_id: str, key: str | None, header_key: str | None) -> Source:
    source = await _source(context, source_id, SourceKind.MAILCHIMP)
    if not source.accepts_key(header_key or key):
        _unauthorised()
    return source


MailchimpKey = Annotated[str | None, Query(description="The source key, when it is put in the webhook URL.")]
MailchimpHeaderKey = Annotated[str | None, Header(alias="X-Parterre-Source-Key")]


@router.get("/v1/webhooks/mailchimp/{source_id}", summary="Mailchimp's check that the webhook URL answers")
async def validate_mailchimp_webhook(
    source_id: str, context: IngestDep, key: MailchimpKey = None, header_key: MailchimpHeaderKey = None
) -> dict[str, str]:
    await _mailchimp_source(context, source_id, key, header_key)
    return {"status": "ok"}


@router.post("/v1/webhooks/mailchimp/{source_id}", summary="Mailchimp list webhooks (form-encoded)")
async def post_mailchimp_webhook(
    source_id: str,
    request: Request,
    context: IngestDep,
    key: MailchimpKey = None,
    header_key: MailchimpHeaderKey = None,
) -> dict[str, int]:
    source = await _mailchimp_source(context, source_id, key, header_key)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        _reject(
            415,
            "unsupported_media_type",
            en="Mailchimp webhooks are application/x-www-form-urlencoded.",
            fr="Les webhooks Mailchimp sont en application/x-www-form-urlencoded.",
        )
    raw_body = await _read_body(request, context.settings.max_webhook_bytes)
    try:
        # Strict for the percent-escapes too: the lenient default would store a `\ufffd` in place of a letter.
        form = dict(urllib.parse.parse_qsl(raw_body.decode(), keep_blank_values=True, errors="strict"))
    except UnicodeDecodeError:
        _reject(400, "malformed_form", en="The form is not UTF-8.", fr="Le formulaire n'est pas en UTF-8.")
    try:
        envelopes = mailchimp_events(
            form, organisation_id=source.organisation_id, source=source.source_id, received_at=datetime.now(UTC)
        )
    except AdapterError as exc:
        _adapter_failed(exc)
    outcome = await _publish(context, envelopes, organisation_id=source.organisation_id, source=source.source_id)
    return {"published": len(outcome.published), "duplicates": len(outcome.duplicates)}


@router.post(
    "/v1/imports/boxoffice/{source_id}",
    summary="Upload a box-office CSV export",
    responses={400: {}, 401: {}, 403: {}, 404: {}, 409: {}, 413: {}, 422: {}, 503: {}},
)
async def post_boxoffice_import(
    source_id: str,
    request: Request,
    principal: EventsWriter,
    context: IngestDep,
    dry_run: Annotated[bool, Query(description="Check the file and report, publish nothing.")] = False,
) -> dict[str, Any]:
    """Imports a CSV export (UTF-8, Windows-1252 or Mac Roman; `,` `;` or tab; French or English headers) row by row.

    Valid rows are published whatever the invalid ones do; the answer reports rows read, accepted, rejected
    by reason with the first rejected rows (row number, column, reason), and events already imported before.
    """
    try:
        source = await context.sources.find(source_id)
    except PyMongoError:
        _store_unavailable()
    if source is None or source.organisation_id != principal.organisation_id or source.kind is not SourceKind.BOXOFFICE:
        _reject(
            404,
            "unknown_source",
            en="Your organisation has no box-office source with this id.",
            fr="Votre organisation n'a pas de source billetterie avec cet identifiant.",
        )
    try:
        # Uploads carry only the file: the mapping is the one stored with the source, if any.
        mapping = source_mapping(source)
    except MappingFileError as exc:
        # Stored by a version that checked less: the file may be fine, the source's set-up is not.
        _reject(
            409,
            "mapping_refused",
            en=f"The column mapping stored for this source is refused: {exc}. Store a corrected one with "
            "`parterre sources set-mapping`.",
            fr=f"La correspondance de colonnes enregistrée pour cette source est refusée : {exc.fr}. Enregistrez-en "
            "une corrigée avec `parterre sources set-mapping`.",
        )
    limit = context.settings.max_upload_bytes
    # On disk, not in memory: an export can be hundreds of megabytes.
    with tempfile.TemporaryFile() as upload:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                _too_large(limit)
            upload.write(chunk)
        upload.seek(0)
        try:
            summary = await import_boxoffice(
                upload,
                source=source,
                mapping=mapping,
                imported_at=datetime.now(UTC),
                dry_run=dry_run,
                sink=context.sink,
                ledger=context.ledger,
                metrics=context.metrics,
                chunk_rows=context.settings.import_chunk_rows,
            )
        except CsvFormatError as exc:
            _reject(422, exc.code, en=exc.en, fr=exc.fr)
        except EventsInFlightError as exc:
            log.warning("box-office import: %s", exc)
            raise _in_flight() from None
        except (KafkaError, PyMongoError) as exc:
            log.error("box-office import interrupted: %r", exc)
            raise _unavailable(
                en="The import was interrupted: events cannot be stored right now. Upload the file again later; "
                "rows already imported will not be duplicated.",
                fr="L'importation a été interrompue : les événements ne peuvent être enregistrés pour l'instant. "
                "Téléversez le fichier plus tard ; les lignes déjà importées ne seront pas dupliquées.",
            ) from None
    return summary.to_dict()
