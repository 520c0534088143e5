"""How identity's domain objects are written as MongoDB documents, and read back."""

from dataclasses import asdict, fields
from datetime import date, datetime
from typing import Any

import pydantic_core

from services.identity.domain.identifiers import IdentifierDigest, digest_from_key, identifier_from_key
from services.identity.domain.merges import (
    MergeRecord,
    ReviewClaim,
    ReviewItem,
    ReviewStatus,
    SurvivorBefore,
    UnmergeClaim,
)
from services.identity.domain.normalise import is_placeholder_birth_date
from services.identity.domain.persons import Person, PersonStatus
from services.identity.domain.records import NormalisedRecord
from services.identity.domain.resolution import Erasure, ReviewSuggestion
from services.identity.ports import Decision, MergeDecision
from shared.events.identity import MatchMethod, MergeDecider
from shared.mongo import Document

_RECORD_FIELDS = tuple(field.name for field in fields(NormalisedRecord) if field.name != "warnings")


def record_document(record: NormalisedRecord) -> Document:
    document: Document = {}
    for name in _RECORD_FIELDS:
        value = getattr(record, name)
        if value is not None:
            document[name] = value.isoformat() if isinstance(value, date) else value
    return document


def record_from(document: Document) -> NormalisedRecord:
    values: dict[str, Any] = {name: document.get(name) for name in _RECORD_FIELDS}
    if values["birth_date"] is not None:
        born = date.fromisoformat(values["birth_date"])
        # Stored before placeholders were read as no birth date: they are none now, as in a record arriving.
        values["birth_date"] = None if is_placeholder_birth_date(born) else born
    return NormalisedRecord(**values)


def person_document(person: Person) -> Document:
    return {
        "organisation_id": person.organisation_id,
        "person_id": person.person_id,
        "version": person.version,
        "created_at": person.created_at,
        "created_by_event": person.created_by_event,
        "status": person.status.value,
        "merged_into": person.merged_into,
        "identifiers": sorted(identifier.key for identifier in person.identifiers),
        "records": _records_text(person.records),
        "household_id": person.household_id,
        "household_at": person.household_at,
        "kept_apart_from": sorted(person.kept_apart_from),
        "do_not_readd": person.do_not_readd,
    }


def person_from(document: Document) -> Person:
    return Person(
        person_id=document["person_id"],
        organisation_id=document["organisation_id"],
        created_at=document["created_at"],
        created_by_event=document["created_by_event"],
        status=PersonStatus(document["status"]),
        merged_into=document.get("merged_into"),
        identifiers=frozenset(identifier_from_key(key) for key in document.get("identifiers", ())),
        records=tuple(record_from(record) for record in _records_of(document)),
        household_id=document.get("household_id"),
        household_at=document.get("household_at"),
        kept_apart_from=frozenset(document.get("kept_apart_from", ())),
        version=document["version"],
        do_not_readd=document.get("do_not_readd"),
    )


def _records_text(records: tuple[NormalisedRecord, ...]) -> str:
    # One JSON text, not nested documents: FerretDB 1.x converts every nested value on each read and write. Written
    # by pydantic's encoder, compact UTF-8 (accents as they are, where `json.dumps` escaped them; both read back the
    # same), in a quarter of the time: `json.dumps` was 1.3% of identity's CPU resolving a stream.
    return pydantic_core.to_json([record_document(record) for record in records]).decode()


def _records_of(document: Document) -> list[Document]:
    records = document.get("records", ())
    # Persons stored by earlier versions keep their records as nested documents.
    return pydantic_core.from_json(records) if isinstance(records, str) else list(records)


def decision_document(decision: Decision) -> Document:
    return {
        "person_id": decision.person_id,
        "created": decision.created,
        "method": decision.method.value,
        "confidence": decision.confidence,
        "matched": list(decision.matched),
        "claim_digests": list(decision.claim_digests),
        "merge": None if decision.merge is None else asdict(decision.merge),
        "household_with": decision.household_with,
        "household_id": decision.household_id,
        "household_joiners": list(decision.household_joiners),
        "history_of": decision.history_of,
        "review": None if decision.review is None else asdict(decision.review),
        "erasure": None if decision.erasure is None else asdict(decision.erasure),
    }


def decision_from(document: Document) -> Decision:
    merge = document.get("merge")
    review = document.get("review")
    erasure = document.get("erasure")
    return Decision(
        person_id=document["person_id"],
        created=document["created"],
        method=MatchMethod(document["method"]),
        confidence=document["confidence"],
        matched=tuple(document.get("matched", ())),
        claim_digests=tuple(document.get("claim_digests", ())),
        merge=None
        if merge is None
        else MergeDecision(
            merge["survivor_id"],
            tuple(merge["merged_ids"]),
            tuple(merge["evidence_digests"]),
            merge.get("look_alike_probability"),
        ),
        household_with=document.get("household_with"),
        household_id=document.get("household_id"),
        household_joiners=tuple(document.get("household_joiners", ())),
        history_of=document.get("history_of"),
        review=None
        if review is None
        else ReviewSuggestion(review["candidate_id"], review["probability"], dict(review["agreements"])),
        erasure=None if erasure is None else Erasure(tuple(erasure["person_ids"]), erasure["do_not_readd"]),
    )


def merge_document(merge: MergeRecord) -> Document:
    return {
        "organisation_id": merge.organisation_id,
        "merge_id": merge.merge_id,
        "survivor_id": merge.survivor_id,
        "persons": [merge.survivor_id, *merge.merged_ids],
        "merged_ids": merge.merged_ids,
        "merged": [person_document(person) for person in merge.merged],
        "evidence": [digest.key for digest in merge.evidence],
        "reason": merge.reason,
        "decided_by": merge.decided_by.value,
        "decided_at": merge.decided_at,
        "cause": merge.cause,
        "undone_at": merge.undone_at,
        "undone_by": merge.undone_by,
        "survivor_before": survivor_before_document(merge.survivor_before),
    }


def survivor_before_document(before: SurvivorBefore | None) -> Document | None:
    if before is None:
        return None
    return {
        "household_id": before.household_id,
        "household_at": before.household_at,
        "records": _records_text(before.records),
    }


def _survivor_before_from(document: Document | None) -> SurvivorBefore | None:
    # Merges stored before the survivor was kept have no such field.
    if document is None:
        return None
    return SurvivorBefore(
        household_id=document.get("household_id"),
        household_at=document.get("household_at"),
        records=tuple(record_from(record) for record in _records_of(document)),
    )


def merge_from(document: Document) -> MergeRecord:
    evidence: tuple[IdentifierDigest, ...] = tuple(digest_from_key(key) for key in document.get("evidence", ()))
    return MergeRecord(
        merge_id=document["merge_id"],
        organisation_id=document["organisation_id"],
        survivor_id=document["survivor_id"],
        merged=tuple(person_from(person) for person in document.get("merged", ())),
        evidence=evidence,
        reason=document["reason"],
        decided_by=MergeDecider(document["decided_by"]),
        decided_at=document["decided_at"],
        cause=document["cause"],
        undone_at=document.get("undone_at"),
        undone_by=document.get("undone_by"),
        survivor_before=_survivor_before_from(document.get("survivor_before")),
    )


def review_document(item: ReviewItem) -> Document:
    return {
        "organisation_id": item.organisation_id,
        "review_id": item.review_id,
        "person_id": item.person_id,
        "candidate_id": item.candidate_id,
        "probability": item.probability,
        "agreements": dict(item.agreements),
        "event_id": item.event_id,
        "created_at": item.created_at,
        "status": item.status.value,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at,
        "note": item.note,
    }


def review_from(document: Document) -> ReviewItem:
    decided_at: datetime | None = document.get("decided_at")
    agreements: dict[str, Any] = document.get("agreements") or {}
    return ReviewItem(
        review_id=document["review_id"],
        organisation_id=document["organisation_id"],
        person_id=document["person_id"],
        candidate_id=document["candidate_id"],
        probability=document["probability"],
        agreements={str(key): str(value) for key, value in agreements.items()},
        event_id=document["event_id"],
        created_at=document["created_at"],
        status=ReviewStatus(document["status"]),
        decided_by=document.get("decided_by"),
        decided_at=decided_at,
        note=document.get("note"),
    )


def review_claim_document(claim: ReviewClaim) -> Document:
    return {
        "organisation_id": claim.organisation_id,
        "review_id": claim.review_id,
        "decision": claim.decision.value,
        "by": claim.by,
        "at": claim.at,
        "note": claim.note,
    }


def review_claim_from(document: Document) -> ReviewClaim:
    return ReviewClaim(
        organisation_id=document["organisation_id"],
        review_id=document["review_id"],
        decision=ReviewStatus(document["decision"]),
        by=document["by"],
        at=document["at"],
        note=document.get("note"),
    )


def unmerge_claim_document(claim: UnmergeClaim) -> Document:
    return {"organisation_id": claim.organisation_id, "merge_id": claim.merge_id, "by": claim.by, "at": claim.at}


def unmerge_claim_from(document: Document) -> UnmergeClaim:
    return UnmergeClaim(
        organisation_id=document["organisation_id"],
        merge_id=document["merge_id"],
        by=document["by"],
        at=document["at"],
    )
