"""Identity HTTP routes: look persons up, review suggested duplicates, unmerge, erase. A few lines each."""

from typing import Annotated, Any, Literal, NoReturn

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from services.identity.context import IdentityContext, IdentityDep
from services.identity.domain.identifiers import Identifier, IdentifierType
from services.identity.domain.merges import MergeRecord, ReviewItem, ReviewStatus
from services.identity.domain.normalise import normalise_email, normalise_phone
from services.identity.domain.persons import PersonStatus
from services.identity.handlers import (
    IdentityActionError,
    PersonView,
    decide_review,
    erase_on_request,
    find_by_identifier,
    unmerge,
    view_person,
)
from shared.access import IdentityReviewer, PrivacyEraser, PrivacyExporter, ProfilesReader
from shared.errors import bilingual_error
from shared.events.errors import FieldError
from shared.events.identity import MergeDecider, PersonUnmergedV1
from shared.moments import to_the_millisecond
from shared.query_strings import blank_reason, blank_values, leading_plus_as_written, query_as_written

router = APIRouter(tags=["identity"])

# What each route may answer besides 200, for its OpenAPI document: every body in the bilingual `detail` shape.
_READ_REFUSALS: dict[int | str, dict[str, Any]] = {401: {}, 403: {}, 404: {}, 422: {}}
_ACTION_REFUSALS: dict[int | str, dict[str, Any]] = {**_READ_REFUSALS, 409: {}}

_ACTION_ERRORS: dict[str, tuple[int, str]] = {
    "person_not_found": (status.HTTP_404_NOT_FOUND, "Personne introuvable."),
    "merge_not_found": (status.HTTP_404_NOT_FOUND, "Fusion introuvable pour cette personne."),
    "review_not_found": (status.HTTP_404_NOT_FOUND, "Suggestion introuvable."),
    "nothing_to_unmerge": (status.HTTP_409_CONFLICT, "Cette personne n'a aucune fusion à annuler."),
    "review_decided": (status.HTTP_409_CONFLICT, "Cette suggestion a déjà été traitée."),
    "merged_since": (
        status.HTTP_409_CONFLICT,
        "Les deux personnes ont été fusionnées depuis la suggestion : annulez cette fusion pour les garder séparées.",
    ),
    "review_stale": (status.HTTP_409_CONFLICT, "Une des deux personnes a été effacée depuis la suggestion."),
    "busy": (status.HTTP_409_CONFLICT, "La personne change en ce moment; réessayez."),
    "person_erased": (status.HTTP_409_CONFLICT, "Une personne de cette fusion a été effacée : la fusion reste."),
    "nothing_to_suppress": (
        status.HTTP_409_CONFLICT,
        "Cette personne a déjà été effacée sans do_not_readd : ses identifiants n'existent plus, rien ne peut "
        "l'empêcher d'être ajoutée de nouveau.",
    ),
}


def _fail(error: IdentityActionError) -> NoReturn:
    code, french = _ACTION_ERRORS.get(error.code, (status.HTTP_409_CONFLICT, "Action impossible."))
    raise HTTPException(code, detail=bilingual_error(error.code, en=str(error), fr=french))


def _refused_parameters(names: list[str], code: str, *, en: str, fr: str) -> NoReturn:
    """A parameter refused by the route itself, answered as FastAPI's own refusals are (README: 422,
    `invalid_request`, `fields`), so a client reads every refused parameter one way."""
    fields = [FieldError(field=f"query.{name}", reason=en, reason_fr=fr, code=code).model_dump() for name in names]
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=bilingual_error(
            "invalid_request",
            en="The request is refused: `fields` says which of its parameters and why.",
            fr="La demande est refusée : `fields` dit lesquels de ses paramètres et pourquoi.",
            fields=fields,
        ),
    )


def _not_found() -> NoReturn:
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        detail=bilingual_error("person_not_found", en="No such person.", fr="Personne introuvable."),
    )


# A moment as the route writes it, `isoformat()` of a stored time (`2026-09-01T12:00:01+00:00`): a `datetime` field
# would write it again its own way (`…Z`), and change what callers already read.
WrittenMoment = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class IdentifierAnswer(BaseModel):
    type: IdentifierType = Field(description="What kind of identifier it is.")
    source: str | None = Field(
        description="The upstream system an `external_id` belongs to, e.g. `shopify-boutique`; null for an email or "
        "a phone."
    )
    value: str = Field(
        description="As identity keeps it: an email in lower case without its `+tag`, a phone in E.164 "
        "(`+15145550199`), an upstream id as its system gives it."
    )


class HouseholdAnswer(BaseModel):
    household_id: str | None = Field(description="The person's household; null when they are in none.")
    members: list[str] = Field(description="The others in the household now, by person id.")


class MergeEvidenceAnswer(BaseModel):
    identifier_type: str = Field(
        description="The kind of identifier the two persons shared: `email`, `phone` or `external_id:<source>`."
    )
    value_hash: str | None = Field(
        description="The identifier's salted hash, never its value; null once the person it belonged to was erased."
    )


class MergeAnswer(BaseModel):
    merge_id: str = Field(description="The merge, as `POST /v1/persons/{person_id}/unmerge` names it.")
    survivor_person_id: str = Field(description="The person that kept its id and holds the others' history.")
    merged_person_ids: list[str] = Field(description="The persons folded into the survivor.")
    reason: str = Field(description="Why they were merged, in French then English.")
    evidence: list[MergeEvidenceAnswer] = Field(description="The identifiers shared that justified a merge by rule.")
    decided_by: MergeDecider = Field(description="`rule` (identifiers shared) or `reviewer` (a suggestion accepted).")
    merged_at: WrittenMoment = Field(description="When the merge was decided.")
    undone_at: WrittenMoment | None = Field(description="When the merge was undone; null while it stands.")
    undone_by: str | None = Field(description="Who undid it, e.g. `reviewer:marie`; null while it stands.")


class PersonAnswer(BaseModel):
    """A person as identity knows them."""

    person_id: str = Field(description="Parterre's id of the person.")
    status: PersonStatus = Field(
        description="`active`; `merged` into `merged_into`; `erased`: their identifiers and records are gone."
    )
    merged_into: str | None = Field(description="The person this one was merged into; null unless `merged`.")
    created_at: WrittenMoment = Field(description="When identity first knew the person.")
    identifiers: list[IdentifierAnswer] = Field(description="Every identifier that names the person, by source.")
    household: HouseholdAnswer = Field(description="The household the person is in, with its other members.")
    merges: list[MergeAnswer] = Field(description="Every merge the person took part in, oldest first.")
    kept_apart_from: list[str] = Field(
        description="Persons split from this one by an unmerge: no fact merges them again; a reviewer still can."
    )


class EarlierExport(BaseModel):
    # As the privacy log keeps it: any detail logged with it is given too.
    model_config = ConfigDict(extra="allow")

    at: WrittenMoment = Field(description="When the export was made.")
    requested_by: str = Field(description="Who asked for it, e.g. `token:<token id>`.")
    identifiers: int = Field(description="How many identifiers it gave.")
    merges: int = Field(description="How many merges it gave.")


class PersonExport(PersonAnswer):
    """What identity holds about a person, for their export (Law 25)."""

    exported_at: WrittenMoment = Field(description="When this export was made, as its log entry says.")
    earlier_exports: list[EarlierExport] = Field(description="The exports of the person before this one, oldest first.")


class ReviewAnswer(BaseModel):
    """A suggested duplicate: a provisional person that may be a known one."""

    review_id: str = Field(description="The suggestion, as `POST /v1/review/{review_id}` names it.")
    person_id: str = Field(
        description="The provisional person the fact created; for a suggestion `rekey-identifiers` filed, the person "
        "holding the address as written today."
    )
    candidate_person_id: str = Field(description="The known person they may be.")
    probability: float = Field(description="How likely the two are one person, from 0 to 1.")
    agreements: dict[str, str] = Field(
        description='How each field compared agreed, by field, e.g. `{"last_name": "exact", "first_name": '
        '"nickname_or_initial"}`.'
    )
    event_id: str = Field(
        description="The fact that made the suggestion, or `rekey-identifiers` when `parterre identity "
        "rekey-identifiers` filed it: the two hold one address written two ways (`xn--…` and accented), the candidate "
        "as releases before 2026-12 stored it."
    )
    created_at: WrittenMoment = Field(description="When the suggestion was filed: the queue's order.")
    status: ReviewStatus = Field(
        description="`pending`; `accepted` (merged) or `rejected` by a reviewer; `withdrawn` when either person was "
        "erased."
    )
    decided_by: str | None = Field(
        description="Who decided, e.g. `reviewer:marie`, or `erasure` for a suggestion withdrawn; null while pending."
    )
    decided_at: WrittenMoment | None = Field(description="When it was decided; null while pending.")
    note: str | None = Field(description="The reviewer's note, if any.")


class ReviewPage(BaseModel):
    items: list[ReviewAnswer] = Field(description="The suggestions of the status asked for, oldest first.")
    next_cursor: str | None = Field(description="The `cursor` of the next page; null on the last.")


class VerdictAnswer(BaseModel):
    review: ReviewAnswer = Field(description="The suggestion as decided.")
    events: list[str] = Field(description="The ids of the events published: the merge, when accepted.")


class UnmergeAnswer(BaseModel):
    event_id: str = Field(description="The id of the `parterre.person.unmerged.v1` event published.")
    unmerged: PersonUnmergedV1 = Field(description="That event's data: the merge undone and the persons restored.")


class ErasureAnswer(BaseModel):
    person_id: str = Field(description="The id the erasure was asked for.")
    status: Literal["erased"] = Field(description="Always `erased`.")
    event_id: str = Field(description="The id of the first erasure event published.")
    erased_person_id: str = Field(description="The person erased: the id asked for, or the person it was merged into.")
    erased_person_ids: list[str] = Field(
        description="Every person erased: that person, then each person merged into them."
    )


def _merge_json(merge: MergeRecord) -> dict[str, Any]:
    return {
        "merge_id": merge.merge_id,
        "survivor_person_id": merge.survivor_id,
        "merged_person_ids": merge.merged_ids,
        "reason": merge.reason,
        "evidence": [
            {"identifier_type": digest.kind, "value_hash": None if digest.is_erased else digest.value_hash}
            for digest in merge.evidence
        ],
        "decided_by": merge.decided_by.value,
        "merged_at": merge.decided_at.isoformat(),
        "undone_at": merge.undone_at.isoformat() if merge.undone_at else None,
        "undone_by": merge.undone_by,
    }


def _person_json(view: PersonView) -> dict[str, Any]:
    person = view.person
    return {
        "person_id": person.person_id,
        "status": person.status.value,
        "merged_into": person.merged_into,
        "created_at": person.created_at.isoformat(),
        "identifiers": [
            {"type": identifier.type.value, "source": identifier.source, "value": identifier.value}
            for identifier in sorted(person.identifiers)
        ],
        "household": {"household_id": person.household_id, "members": list(view.household)},
        "merges": [_merge_json(merge) for merge in view.merges],
        # Split by an unmerge: no event merges them again; accepting a review between them still can.
        "kept_apart_from": sorted(person.kept_apart_from),
    }


def _review_json(item: ReviewItem) -> dict[str, Any]:
    return {
        "review_id": item.review_id,
        "person_id": item.person_id,
        "candidate_person_id": item.candidate_id,
        "probability": item.probability,
        "agreements": dict(item.agreements),
        "event_id": item.event_id,
        "created_at": item.created_at.isoformat(),
        "status": item.status.value,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        "note": item.note,
    }


@router.get(
    "/v1/persons/{person_id}",
    summary="A person: identifiers, household and merge history",
    response_model=PersonAnswer,
    responses=_READ_REFUSALS,
)
async def get_person(person_id: str, principal: ProfilesReader, context: IdentityDep) -> dict[str, Any]:
    view = await view_person(principal.organisation_id, person_id, context.store)
    if view is None:
        _not_found()
    return _person_json(view)


@router.get(
    "/v1/persons/{person_id}/export",
    summary="What identity holds about a person, for their export (Law 25); the export is logged",
    response_model=PersonExport,
    responses=_READ_REFUSALS,
)
async def export_person(person_id: str, principal: PrivacyExporter, context: IdentityDep) -> dict[str, Any]:
    """The person as `GET /v1/persons/{person_id}` shows them (identifiers by source, household, merges), when
    this export was made, and the exports of them before it. The export is logged, naming the person by a digest
    so that the log outlives their erasure; the console's export of a patron asks for this."""
    organisation_id = principal.organisation_id
    view = await view_person(organisation_id, person_id, context.store)
    if view is None or view.person.status is PersonStatus.ERASED:
        # Nothing about them is left to export, as profile answers: the tombstone is `GET /v1/persons/{id}`'s.
        _not_found()
    earlier = await context.store.exports_logged(organisation_id, person_id)
    # As the log keeps it, so that this export reads the same in a later one's list.
    exported_at = to_the_millisecond(context.deps.clock.now())
    document = {
        **_person_json(view),
        "exported_at": exported_at.isoformat(),
        "earlier_exports": [
            {"at": entry["at"].isoformat(), "requested_by": entry["requested_by"], **entry.get("details", {})}
            for entry in earlier
        ],
    }
    await context.store.log_export(
        organisation_id,
        person_id,
        exported_at,
        f"token:{principal.token_id}",
        {"identifiers": len(view.person.identifiers), "merges": len(view.merges)},
    )
    return document


@router.get(
    "/v1/persons",
    summary="Find the person behind an email, a phone or an upstream customer id",
    response_model=PersonAnswer,
    responses=_READ_REFUSALS,
)
async def lookup_person(
    request: Request,
    principal: ProfilesReader,
    context: IdentityDep,
    email: Annotated[
        str | None,
        Query(
            description="An email address, compared as identity links them: case, a `+tag` and Gmail's dots do not "
            "matter; a `+` left unescaped in the URL is read as written."
        ),
    ] = None,
    phone: Annotated[
        str | None,
        Query(
            description="A phone number as people write it (`514 555-0199`, `+1 514 555 0199`), read as dialled from "
            "the organisation's region; an extension is dropped."
        ),
    ] = None,
    source: Annotated[
        str | None, Query(description="The upstream system `external_id` belongs to, e.g. `shopify-boutique`.")
    ] = None,
    external_id: Annotated[
        str | None, Query(description="A customer's id in that system, as it gives it; goes with `source`.")
    ] = None,
) -> dict[str, Any]:
    """Exactly one of `email`, `phone`, or `source` with `external_id`."""
    identifier = _identifier_from_query(context, email, phone, source, external_id, query_as_written(request))
    person = await find_by_identifier(principal.organisation_id, identifier, context.store)
    view = None if person is None else await view_person(principal.organisation_id, person.person_id, context.store)
    if view is None:
        _not_found()
    return _person_json(view)


def _identifier_from_query(
    context: IdentityContext,
    email: str | None,
    phone: str | None,
    source: str | None,
    external_id: str | None,
    as_written: dict[str, str],
) -> Identifier:
    given = [name for name, value in (("email", email), ("phone", phone), ("external_id", external_id)) if value]
    if len(given) != 1 or (external_id and not source):
        _refused_parameters(
            given if len(given) > 1 else ["source"] if given else ["email", "phone", "external_id"],
            "lookup_needs_one_identifier",
            en="Give exactly one of email, phone, or source with external_id.",
            fr="Indiquez exactement un courriel, un téléphone, ou une source avec external_id.",
        )
    if source and not external_id:
        # Ignored, it would read as a lookup among that source's customers, which an email or a phone is not.
        _refused_parameters(
            ["source"],
            "source_without_external_id",
            en="source goes only with external_id, whose system it names: leave it out to look up an email or a phone.",
            fr="source ne s'emploie qu'avec external_id, dont elle nomme le système : omettez-la pour chercher un "
            "courriel ou un téléphone.",
        )
    blank = blank_values({"email": email, "phone": phone, "external_id": external_id, "source": source})
    if blank:
        en, fr = blank_reason(blank)
        _refused_parameters(blank, "identifier_invalid", en=en, fr=fr)
    if email:
        # A `+` left unescaped in a URL (`?email=jean+news@x.ca`) arrives as a space, which no address holds.
        value = normalise_email(email) or normalise_email(as_written.get("email", email))
        kind = IdentifierType.EMAIL
    elif phone:
        value = normalise_phone(leading_plus_as_written("phone", phone, as_written), context.deps.rules.default_region)
        kind = IdentifierType.PHONE
    else:
        value, kind = external_id, IdentifierType.EXTERNAL_ID
    if value is None:
        _refused_parameters(
            given,
            "identifier_invalid",
            en=f"The {given[0]} given is not usable.",
            fr=f"La valeur donnée pour {given[0]} est inutilisable.",
        )
    return Identifier(kind, value, source if kind is IdentifierType.EXTERNAL_ID else None)


@router.get(
    "/v1/review",
    summary="Suggested duplicates awaiting a reviewer (or decided), oldest filed first; `next_cursor` continues",
    response_model=ReviewPage,
    responses={401: {}, 403: {}, 422: {}},
)
async def list_reviews(
    principal: IdentityReviewer,
    context: IdentityDep,
    review_status: Annotated[
        ReviewStatus, Query(alias="status", description="Which suggestions: those awaiting a reviewer by default.")
    ] = ReviewStatus.PENDING,
    limit: Annotated[int, Query(ge=1, le=500, description="How many suggestions a page holds at most.")] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="The `next_cursor` of the previous page.")] = None,
) -> dict[str, Any]:
    # Pages follow (created_at, review_id), which never changes once a suggestion is filed, and created_at is
    # when it was filed. So a walk from the first page shows each suggestion pending when it began exactly once
    # (the cursor only moves forward; one decided meanwhile leaves the pending pages). One filed during the walk
    # sorts after the cursor and comes on a later page, unless another instance read its clock before a page
    # was read and stored it after (milliseconds, or its clock lagging): then it is behind the cursor, and the
    # next walk, starting from the oldest, shows it.
    after = None
    if cursor is not None:
        # The last review of the previous page: paging goes on from where it stood, decided since or not.
        after = await context.store.review(principal.organisation_id, cursor)
        if after is None:
            _refused_parameters(
                ["cursor"],
                "unknown_cursor",
                en="The cursor names no review: start again without it.",
                fr="Le curseur ne nomme aucune suggestion : recommencez sans lui.",
            )
    items = await context.store.reviews(principal.organisation_id, review_status, limit, after=after)
    next_cursor = items[-1].review_id if len(items) == limit else None
    return {"items": [_review_json(item) for item in items], "next_cursor": next_cursor}


class ReviewVerdict(BaseModel):
    # A misspelt field is refused, not dropped: a reject keeps two persons apart for good.
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "reject"] = Field(description="`accept` merges the two persons; `reject` keeps them.")
    note: str | None = Field(default=None, max_length=2000, description="Why, for the next reviewer.")


@router.post(
    "/v1/review/{review_id}",
    summary="Accept (merge) or reject a suggested duplicate",
    response_model=VerdictAnswer,
    responses=_ACTION_REFUSALS,
)
async def post_review(
    review_id: str, verdict: ReviewVerdict, principal: IdentityReviewer, context: IdentityDep
) -> dict[str, Any]:
    try:
        outputs = await decide_review(
            principal.organisation_id,
            review_id,
            context.deps,
            accept=verdict.decision == "accept",
            reviewer=f"reviewer:{principal.name}",
            note=verdict.note,
        )
    except IdentityActionError as error:
        _fail(error)
    await context.publish(outputs)
    if outputs:
        context.metrics.merges.labels(principal.organisation_id, "reviewer").inc()
    item = await context.store.review(principal.organisation_id, review_id)
    assert item is not None
    return {"review": _review_json(item), "events": [envelope.id for envelope in outputs]}


class UnmergeRequest(BaseModel):
    # A misspelt merge id would otherwise be dropped for the default, and the person's latest merge undone.
    model_config = ConfigDict(extra="forbid")

    merge_id: str | None = Field(default=None, description="The merge to undo; by default the person's latest.")


@router.post(
    "/v1/persons/{person_id}/unmerge",
    summary="Undo a merge: the merged persons exist again",
    response_model=UnmergeAnswer,
    responses=_ACTION_REFUSALS,
)
async def post_unmerge(
    person_id: str, principal: IdentityReviewer, context: IdentityDep, request: UnmergeRequest | None = None
) -> dict[str, Any]:
    try:
        event = await unmerge(
            principal.organisation_id,
            person_id,
            context.deps,
            requested_by=f"reviewer:{principal.name}",
            merge_id=request.merge_id if request else None,
        )
    except IdentityActionError as error:
        _fail(error)
    await context.publish((event,))
    return {"event_id": event.id, "unmerged": event.data}


class EraseRequest(BaseModel):
    # An erasure cannot be undone: an option misspelt is refused, never dropped for its default.
    model_config = ConfigDict(extra="forbid")

    do_not_readd: bool = Field(
        default=False, description="Keep a salted hash of each identifier so later facts never re-create the person."
    )


@router.post(
    "/v1/persons/{person_id}/erase",
    summary="Erase every identifier and record of a person (Law 25); a merged id erases whom it was merged into",
    response_model=ErasureAnswer,
    responses=_ACTION_REFUSALS,
)
async def post_erase(
    person_id: str, principal: PrivacyEraser, context: IdentityDep, request: EraseRequest | None = None
) -> dict[str, Any]:
    try:
        events = await erase_on_request(
            principal.organisation_id,
            person_id,
            context.deps,
            do_not_readd=request.do_not_readd if request else False,
            requested_by=f"staff:{principal.name}",
        )
    except IdentityActionError as error:
        _fail(error)
    await context.publish(events)
    # A merged id names the person it was folded into: that human is who was erased, with everyone folded into them.
    erased = [event.person_id for event in events if event.person_id is not None]
    return {
        "person_id": person_id,
        "status": "erased",
        "event_id": events[0].id,
        "erased_person_id": erased[0],
        "erased_person_ids": erased,
    }
