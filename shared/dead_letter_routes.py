"""The dead-letter routes of every service with consumers: what its groups set aside, and their replay."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Query, Request, status
from pymongo.errors import PyMongoError

from shared.access import OperationsAdmin
from shared.dead_letters import (
    DEAD_LETTER_REPLAYS,
    SCAN_RECORDS_PER_PARTITION,
    AlreadyReplayedError,
    DeadLetter,
    DeadLetterId,
    DeadLetterReader,
    DeadLetterSource,
    ReplayHistory,
    ReplayLog,
    one_per_record,
    replay_dead_letter,
)
from shared.errors import bilingual_error
from shared.kafka import ExactRecord, KafkaPublisher

if TYPE_CHECKING:
    from shared.service import Runtime

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

RETRY_AFTER_SECONDS = "5"
# Longest wait for Kafka to acknowledge a replay; past it the replay is not recorded and the caller may retry.
PUBLISH_SECONDS = 10.0


def _fail(http_status: int, code: str, *, en: str, fr: str) -> NoReturn:
    raise HTTPException(http_status, detail=bilingual_error(code, en=en, fr=fr))


def _runtime(request: Request) -> "Runtime":
    runtime: Runtime = request.app.state.runtime
    return runtime


def _sources(runtime: "Runtime") -> list[DeadLetterSource]:
    return [DeadLetterSource(group_id, topic) for group_id, topic in runtime.subscriptions]


def _replay_log(runtime: "Runtime") -> ReplayLog:
    return ReplayLog(runtime.database[DEAD_LETTER_REPLAYS])


@contextlib.asynccontextmanager
async def _reading(runtime: "Runtime") -> AsyncIterator[DeadLetterReader]:
    """A reader for one request; Kafka or the store failing becomes a 503 to retry."""
    settings = runtime.settings
    try:
        async with DeadLetterReader(
            settings.kafka_bootstrap, client_id=f"parterre-{settings.service_name}-dead-letters"
        ) as reader:
            yield reader
    except (TimeoutError, KafkaError, PyMongoError) as exc:
        log.error("could not read or replay dead letters: %r", exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=bilingual_error(
                "unavailable",
                en="Kafka or the store cannot be reached right now. Retry later.",
                fr="Kafka ou la base de données est injoignable pour l'instant. Réessayez.",
            ),
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        ) from None


def _dead_letter_json(entry: DeadLetter, history: ReplayHistory | None) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "group": entry.group_id,
        "topic": entry.source_topic,
        "partition": entry.source_partition,
        "offset": entry.source_offset,
        "reason": entry.reason,
        "error_type": entry.error_type,
        "attempts": entry.attempts,
        "dead_lettered_at": entry.dead_lettered_at.isoformat(),
        "key": entry.key_text,
        "event_type": entry.event_type,
        "event_id": entry.event_id,
        "size_bytes": len(entry.value),
        "truncated": entry.truncated,
        "preview": entry.preview,
        "replay_of": entry.replay_of,
        "replays": 0 if history is None else history.count,
        "last_replayed_at": None if history is None else history.last.at.isoformat(),
        "last_replayed_by": None
        if history is None
        else {"token_id": history.last.token_id, "name": history.last.token_name},
    }


@router.get(
    "/v1/dead-letters",
    summary="The newest messages this service's consumer groups set aside for the organisation, each once however "
    "many times it was set aside, with its reason and replays",
    responses={401: {}, 403: {}, 404: {}, 503: {}},
)
async def list_dead_letters(
    principal: OperationsAdmin,
    request: Request,
    group: Annotated[
        str | None,
        Query(max_length=249, description="Only this consumer group's, named with or without the Kafka namespace."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many, newest first.")] = 50,
) -> dict[str, Any]:
    runtime = _runtime(request)
    sources = _sources(runtime)
    if group is not None:
        namespace = runtime.settings.kafka_namespace
        sources = [source for source in sources if source.group_id in (group, namespace + group)]
        if not sources:
            _fail(
                status.HTTP_404_NOT_FOUND,
                "group_not_found",
                en=f"This service has no consumer group {group!r}.",
                fr=f"Ce service n'a aucun groupe de consommateurs « {group} ».",
            )
    async with _reading(runtime) as reader:
        entries = await reader.newest(sources, SCAN_RECORDS_PER_PARTITION)
        own = one_per_record(entry for entry in entries if entry.organisation_id == principal.organisation_id)[:limit]
        histories = await _replay_log(runtime).histories(entry for entry, _ in own)
    return {
        "items": [{**_dead_letter_json(entry, histories.get(entry.id)), "copies": copies} for entry, copies in own],
        "groups": [source.group_id for source in _sources(runtime)],
        "scanned_per_partition": SCAN_RECORDS_PER_PARTITION,
    }


@router.post(
    "/v1/dead-letters/{dead_letter_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Publish a dead letter's original message again to the topic its consumer group reads; `again=true` "
    "to replay one replayed before",
    responses={401: {}, 403: {}, 404: {}, 409: {}, 503: {}},
)
async def post_dead_letter_replay(
    dead_letter_id: str,
    principal: OperationsAdmin,
    request: Request,
    again: Annotated[bool, Query(description="Replay even if it was replayed before.")] = False,
) -> dict[str, Any]:
    runtime = _runtime(request)
    parsed = DeadLetterId.parse(dead_letter_id)
    source = next(
        (source for source in _sources(runtime) if parsed is not None and source.dead_letter_topic == parsed.topic),
        None,
    )
    replay_log = _replay_log(runtime)
    publisher = KafkaPublisher(runtime.broker)

    async def publish(record: ExactRecord) -> None:
        # With Kafka away the producer would retry for minutes; a record sent late after this gives up is harmless,
        # since consumers' effects are idempotent.
        async with asyncio.timeout(PUBLISH_SECONDS):
            await publisher.publish_exact(record)

    async with _reading(runtime) as reader:
        entry = None if parsed is None or source is None else await reader.one(source, parsed)
        # Another organisation's dead letter is answered as one that is not there: a 403 would tell that it is.
        if parsed is None or source is None or entry is None or entry.organisation_id != principal.organisation_id:
            _fail(
                status.HTTP_404_NOT_FOUND,
                "dead_letter_not_found",
                en="No such dead letter in this service's dead-letter topics.",
                fr="Aucune lettre morte de ce nom dans les sujets de lettres mortes de ce service.",
            )
        if entry.truncated is not None:
            # Replayed cut, it would only fail again: the whole record is read back from its source topic.
            whole = await reader.whole(entry)
            if whole is None:
                _fail(
                    status.HTTP_409_CONFLICT,
                    "truncated",
                    en=(
                        f"This dead letter keeps only the start of a larger record ({entry.truncated}), and its source "
                        "topic no longer holds the whole one: it cannot be replayed. Ask the system that sent it to "
                        "send it again."
                    ),
                    fr=(
                        f"Cette lettre morte ne garde que le début d'un message plus grand ({entry.truncated}), et son "
                        "sujet d'origine ne contient plus le message entier : elle ne peut pas être rejouée. Demandez "
                        "au système qui l'a envoyé de l'envoyer de nouveau."
                    ),
                )
            entry = replace(entry, value=whole)
        try:
            await replay_dead_letter(
                entry,
                source,
                token_id=principal.token_id,
                token_name=principal.name,
                again=again,
                log=replay_log,
                publish=publish,
            )
        except AlreadyReplayedError as exc:
            _fail(
                status.HTTP_409_CONFLICT,
                "already_replayed",
                en=f"This dead letter's message was {exc}, through this dead letter or another of the same "
                "message; add again=true to replay it once more.",
                fr=f"Le message de cette lettre morte a déjà été rejoué ({exc.history.count} fois, la dernière le "
                f"{exc.history.last.at.isoformat()}), par elle ou par une autre lettre morte du même message ; "
                "ajoutez again=true pour le rejouer encore.",
            )
        history = await replay_log.history(entry)
    log.info("dead letter %s replayed to %s by token %s", entry.id, source.topic, principal.token_id)
    return _dead_letter_json(entry, history)
