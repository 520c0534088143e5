"""Profile HTTP routes: a person's profile as its fields at this moment, found by id, by what upstream systems
know them by, or by a search box; segments, their sizes over time, and their members; a person's data exported, or
erased everywhere."""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, NoReturn

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from services.profile.context import ProfileContext, ProfileDep
from services.profile.domain.lookups import details_named_in, email_lookups, external_lookups, phone_lookups
from services.profile.domain.profile import ticket_history, view
from services.profile.domain.search import (
    LONGEST_QUERY,
    SHORTEST_QUERY,
    Found,
    QueryKind,
    Unsearchable,
    UnsearchableQueryError,
    read_query,
)
from services.profile.handlers import plain, profiles_found_by, search_profiles
from services.profile.ports import PrivacyEntry, StoredProfile, person_digest
from services.profile.reports import segment_trends
from shared.access import TOKEN_REFUSALS, PrivacyEraser, PrivacyExporter, ProfilesReader, SegmentsReader
from shared.errors import bilingual_error
from shared.events import build_envelope
from shared.events.audience import PARTERRE_PERSON_SOURCE, PersonErasureRequestedV1
from shared.events.common import PersonRef
from shared.kafka import record_for
from shared.privacy_log import SEGMENT_EXPORTED, segment_log_key
from shared.query_strings import blank_reason, blank_values, leading_plus_as_written, query_as_written
from shared.spreadsheets import SEPARATOR_DESCRIPTION, CsvSeparator, csv_line, spreadsheet_cell

router = APIRouter(tags=["profile"])

# What each route may answer besides its success, for its OpenAPI document: every body in the bilingual `detail` shape.
_READ_REFUSALS: dict[int | str, dict[str, Any]] = {**TOKEN_REFUSALS, 404: {}, 422: {}}
_AS_JSON_OR_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {}}}}


def _profile_not_found() -> NoReturn:
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        detail=bilingual_error(
            "profile_not_found", en="No profile for this person.", fr="Aucun profil pour cette personne."
        ),
    )


def _fields(stored: StoredProfile, context: ProfileContext) -> dict[str, Any]:
    as_of = context.deps.clock.now()
    fields = view(
        stored.state,
        as_of=max(as_of, stored.state.latest_event_at or as_of),
        seasons=context.deps.rules.seasons,
        household_id=stored.household_id,
    )
    return {name: plain(value) for name, value in fields.items()}


def _profile_body(stored: StoredProfile, context: ProfileContext) -> dict[str, Any]:
    return {
        "person_id": stored.person_id,
        # A merged person's own profile is kept so an unmerge can restore it; the patron is the survivor's. Merged
        # says so on its own: a survivor erased since leaves `merged_into` null, which alone reads as a patron.
        "merged": stored.is_merged,
        "merged_into": stored.merged_into,
        # The persons whose histories this profile holds through merges; each one's facts stay on its own timeline.
        "merged_persons": sorted(
            {person_id for merge in stored.merges for person_id in (*merge.person_ids, *merge.brought)}
            - {stored.person_id}
        ),
        "version": stored.version,
        "facts_applied": stored.applied,
        "segments": sorted(stored.segments),
        "fields": _fields(stored, context),
        # Rule name, person and period of each trigger fired: a rule fires once per period.
        "triggers_fired": sorted(stored.fired),
        "tickets": [
            {
                "season": line.season,
                "production_id": line.production_id,
                "title": {"fr": line.title_fr, "en": line.title_en},
                "performance_id": line.performance_id,
                "starts_at": line.starts_at.isoformat(),
                "venue": line.venue,
                "tickets": line.tickets,
                "spend": str(line.spend),
                "attended": line.attended,
            }
            for line in ticket_history(stored.state, context.deps.rules.seasons)
        ],
    }


SEARCH_PAGE = 20
_UNSEARCHABLE = {
    Unsearchable.TOO_SHORT: (
        f"Type at least {SHORTEST_QUERY} characters: a name, an email, a phone or an upstream id.",
        f"Tapez au moins {SHORTEST_QUERY} caractères : un nom, un courriel, un téléphone ou un identifiant externe.",
    ),
    Unsearchable.TOO_LONG: (
        f"Type at most {LONGEST_QUERY} characters.",
        f"Tapez au plus {LONGEST_QUERY} caractères.",
    ),
    Unsearchable.NO_LETTERS_OR_DIGITS: (
        "Type letters or digits: punctuation alone finds no one.",
        "Tapez des lettres ou des chiffres : la ponctuation seule ne trouve personne.",
    ),
}


# Declared before `/v1/profiles/{person_id}`, which would otherwise take `search` for a person id.
@router.get(
    "/v1/profiles/search",
    summary="Patrons matching one text: names (accents, typos and order forgiven, or typed halfway), an email, a phone "
    "or an upstream id; best first",
    responses=TOKEN_REFUSALS,
)
async def search_patrons(
    request: Request,
    principal: ProfilesReader,
    context: ProfileDep,
    q: Annotated[
        str,
        Query(
            description="Names in any order (`cote helene`), or their first three letters or more (`Trem`), an "
            "email, a phone as written, or an upstream id without its source; "
            f"{SHORTEST_QUERY} to {LONGEST_QUERY} characters."
        ),
    ] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = SEARCH_PAGE,
) -> dict[str, Any]:
    """Each patron once: a person merged into another is found as the profile holding their history. `matched_by`
    says how (`name`, `email`, `phone`, `upstream_id`); `score` is 1 for an exact detail, else how closely the
    names match (0.88 to 1; a name's first letters at least 0.88). `truncated`: patrons that match may have been
    left out (more than `limit` matched, or the name is so common that not every holder was read): type more."""
    try:
        region = context.deps.rules.default_region
        query = read_query(q, phone_region=region)
        if query.kind is QueryKind.PHONE:
            # A `+` left unescaped before a name or an upstream id tells nothing; before a phone, its country code.
            query = read_query(leading_plus_as_written("q", q, query_as_written(request)), phone_region=region)
        elif "@" in q and " " in q.strip():
            # As for the look-up by email: a `+` left unescaped (`jean+news@x.ca`) arrives as a space, which no address
            # holds.
            query = read_query(query_as_written(request).get("q", q), phone_region=region)
    except UnsearchableQueryError as refused:
        en, fr = _UNSEARCHABLE[refused.reason]
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=bilingual_error(
                "bad_search",
                en=en,
                fr=fr,
                fields=[{"field": "query.q", "reason": en, "reason_fr": fr, "code": refused.reason.value}],
            ),
        ) from None
    result = await search_profiles(context.deps, principal.organisation_id, query, limit=limit)
    return {
        "kind": query.kind.value,
        "items": [_search_item(found, stored, context) for found, stored in result.found],
        "truncated": result.truncated,
    }


_SEARCH_ITEM_FIELDS = ("first_name", "last_name", "emails", "undeliverable_emails", "phones", "city", "lifecycle_stage")


def _search_item(found: Found, stored: StoredProfile, context: ProfileContext) -> dict[str, Any]:
    fields = _fields(stored, context)
    return {
        "person_id": stored.person_id,
        **{name: fields[name] for name in _SEARCH_ITEM_FIELDS},
        "last_event_at": plain(stored.state.latest_event_at),
        "score": round(found.score, 3),
        "matched_by": found.matched_by.value,
    }


@router.get(
    "/v1/profiles/{person_id}",
    summary="A person's profile: every field, segments, as of now",
    responses=_READ_REFUSALS,
)
async def get_profile(person_id: str, principal: ProfilesReader, context: ProfileDep) -> dict[str, Any]:
    stored = await context.deps.store.profile(principal.organisation_id, person_id)
    if stored is None:
        _profile_not_found()
    return _profile_body(stored, context)


def _bad_lookup(code: str, en: str, fr: str, *, parameters: tuple[str, ...]) -> NoReturn:
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=bilingual_error(
            "bad_lookup",
            en=en,
            fr=fr,
            fields=[{"field": f"query.{name}", "reason": en, "reason_fr": fr, "code": code} for name in parameters],
        ),
    )


@router.get(
    "/v1/profiles",
    summary="The profiles holding an email, a phone, or an upstream id (`external_id` with its `source`)",
    responses=TOKEN_REFUSALS,
)
async def find_profiles(
    request: Request,
    principal: ProfilesReader,
    context: ProfileDep,
    email: Annotated[
        str | None,
        Query(max_length=320, description="As identity links addresses: case, Gmail's dots and `+tags` aside."),
    ] = None,
    phone: Annotated[
        str | None,
        Query(
            max_length=40,
            description="As written; without its country code, as dialled from `PARTERRE_PROFILE_DEFAULT_REGION`.",
        ),
    ] = None,
    external_id: Annotated[str | None, Query(max_length=200, description="The person's id upstream.")] = None,
    source: Annotated[str | None, Query(max_length=100, description="The upstream system of `external_id`.")] = None,
) -> dict[str, Any]:
    """One patron may hold several emails, and a family may share one: the answer is a list, each patron once
    (a person merged into another is found as the profile holding their history)."""
    given = [name for name, value in (("email", email), ("phone", phone), ("external_id", external_id)) if value]
    if len(given) != 1:
        # The codes and fields of identity's look-up, which takes the same criteria.
        _bad_lookup(
            "lookup_needs_one_identifier",
            "Give exactly one of email, phone, or external_id (with source).",
            "Indiquez exactement un critère : email, phone, ou external_id (avec source).",
            parameters=tuple(given) if given else ("email", "phone", "external_id"),
        )
    if source and not external_id:
        _bad_lookup(
            "source_without_external_id",
            "source goes with external_id.",
            "source s'emploie avec external_id.",
            parameters=("source",),
        )
    blank = blank_values({"email": email, "phone": phone, "external_id": external_id, "source": source})
    if blank:
        _bad_lookup("identifier_invalid", *blank_reason(blank), parameters=tuple(blank))
    as_written = query_as_written(request)
    if email:
        # A `+` left unescaped in a URL (`?email=jean+news@x.ca`) arrives as a space, which no address holds.
        keys = email_lookups(as_written.get("email", email) if " " in email.strip() else email)
    elif phone:
        keys = phone_lookups(leading_plus_as_written("phone", phone, as_written), context.deps.rules.default_region)
    elif external_id and source:
        keys = external_lookups(source, external_id)
    else:
        _bad_lookup(
            "lookup_needs_one_identifier",
            "external_id needs its source.",
            "external_id doit être accompagné de sa source.",
            parameters=("source",),
        )
    found = await profiles_found_by(context.deps, principal.organisation_id, *keys)
    return {"items": [_profile_body(stored, context) for stored in found]}


TIMELINE_PAGE = 50


@router.get(
    "/v1/profiles/{person_id}/timeline",
    summary="A person's facts, newest first, 50 a page; `next_cursor` continues below",
    responses=_READ_REFUSALS,
)
async def get_timeline(
    person_id: str,
    principal: ProfilesReader,
    context: ProfileDep,
    cursor: Annotated[int | None, Query(ge=1, description="The `next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = TIMELINE_PAGE,
) -> dict[str, Any]:
    """Facts carry numbers that never change, so a page is stable however many facts arrive meanwhile.

    A merged person's facts stay on their own timeline (their id's): the survivor's profile lists them in
    `merged_persons`, and each merged person's names the survivor in `merged_into`.
    """
    store = context.deps.store
    stored = await store.profile(principal.organisation_id, person_id)
    if stored is None:
        _profile_not_found()
    below = stored.applied if cursor is None else min(cursor - 1, stored.applied)
    items: list[dict[str, Any]] = []
    last = below
    # Merge steps take numbers too and carry no fact: read on until the page is full or the log ends.
    while last >= 1 and len(items) < limit:
        first = max(1, last - limit + 1)
        for number, fact in reversed(await store.numbered_facts(principal.organisation_id, person_id, first, last)):
            if len(items) == limit:
                break
            items.append({"number": number, "event": fact.to_wire()})
        last = first - 1
    next_cursor = items[-1]["number"] if len(items) == limit and items[-1]["number"] > 1 else None
    return {"person_id": person_id, "items": items, "next_cursor": next_cursor}


# ---------------------------------------------------------------------------------------------------------------
# Segments

MEMBERS_PAGE = 100
# The columns of a segment's members as CSV: who they are, how to reach them, and whether email is allowed today.
MEMBER_COLUMNS = (
    "person_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "preferred_language",
    "consent.marketing_email.allowed",
    "consent.sms.allowed",
)


def _segment_not_found() -> NoReturn:
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        detail=bilingual_error("segment_not_found", en="No segment by this name.", fr="Aucun segment de ce nom."),
    )


@router.get(
    "/v1/segments",
    summary="The segments defined, with how many profiles each holds now and the sizes recorded over the last 30 days",
    responses=TOKEN_REFUSALS,
)
async def list_segments(principal: SegmentsReader, context: ProfileDep) -> dict[str, Any]:
    """Each item's `trend` lists the sizes recorded on the last 30 days (today included, in the organisation's
    time zone), oldest first, as `{"date": "YYYY-MM-DD", "members": n}`; a day without a record is left out. The
    first time sweep of each day records every segment's size. `change_7d` is `members` now less the size recorded
    seven days before today: null when that day has no record."""
    sizes = await context.deps.store.segment_sizes(principal.organisation_id)
    trends = await segment_trends(context.deps, principal.organisation_id, sizes)
    return {
        "items": [
            {
                "name": segment.name,
                "title": {"fr": segment.title.fr, "en": segment.title.en},
                "description": {"fr": segment.description.fr, "en": segment.description.en},
                "members": sizes.get(segment.name, 0),
                "trend": [
                    {"date": point.day.isoformat(), "members": point.members} for point in trends[segment.name].points
                ],
                "change_7d": trends[segment.name].change_7d,
            }
            for segment in context.deps.rules.segments.segments
        ]
    }


@router.get(
    "/v1/definitions",
    summary="The segments and trigger rules defined: their names with titles in French and English",
    responses=TOKEN_REFUSALS,
)
async def list_definitions(principal: ProfilesReader, context: ProfileDep) -> dict[str, Any]:
    """A profile names its segments and the trigger rules fired for it: whoever reads profiles reads their titles
    here, without needing `segments:read` for the segments' sizes and members."""
    rules = context.deps.rules
    return {
        "segments": [
            {
                "name": segment.name,
                "title": {"fr": segment.title.fr, "en": segment.title.en},
            }
            for segment in rules.segments.segments
        ],
        "triggers": [
            {
                "name": rule.name,
                "title": {"fr": rule.title.fr, "en": rule.title.en},
                "period": rule.period.value,
            }
            for rule in rules.triggers.rules
        ],
    }


@router.get(
    "/v1/segments/{name}/members",
    summary="A segment's members by person id, a page at a time; `format=csv` gives them all as CSV",
    response_model=None,
    responses={**_AS_JSON_OR_CSV, **_READ_REFUSALS},
)
async def segment_members(
    name: str,
    principal: SegmentsReader,
    context: ProfileDep,
    cursor: Annotated[str | None, Query(max_length=200, description="The `next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = MEMBERS_PAGE,
    format: Annotated[Literal["json", "csv"], Query(description="`csv`: every member, as a spreadsheet.")] = "json",
    separator: Annotated[CsvSeparator, Query(description=SEPARATOR_DESCRIPTION + " With `format=csv`.")] = (
        CsvSeparator.COMMA
    ),
) -> dict[str, Any] | StreamingResponse:
    """Pages follow person ids, so a member joining or leaving while pages are read moves no one else between
    pages."""
    if name not in {segment.name for segment in context.deps.rules.segments.segments}:
        _segment_not_found()
    store, organisation_id = context.deps.store, principal.organisation_id
    if format == "csv":
        # Every member's contact points at once: an export of many persons, logged as a person's is.
        await store.log_privacy(
            PrivacyEntry(
                organisation_id=organisation_id,
                action=SEGMENT_EXPORTED,
                person_digest=segment_log_key(name),
                at=context.deps.clock.now(),
                requested_by=f"token:{principal.token_id}",
                details={"segment": name, "format": format, "separator": separator.value},
            )
        )
        return StreamingResponse(
            _members_csv(context, organisation_id, name, separator),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    page = await store.segment_members(organisation_id, name, after=cursor, limit=limit)
    return {
        "segment": name,
        "items": [_member_row(stored, context) for stored in page],
        "next_cursor": page[-1].person_id if len(page) == limit else None,
    }


def _member_row(stored: StoredProfile, context: ProfileContext) -> dict[str, Any]:
    fields = _fields(stored, context)
    # The address to write to: one that bounced hard or was cleaned since it was given would fail again.
    undeliverable = set(fields.get("undeliverable_emails") or ())
    emails = [email for email in fields.get("emails") or () if email not in undeliverable]
    phones = fields.get("phones") or []
    row = {name: fields.get(name) for name in MEMBER_COLUMNS}
    row.update(person_id=stored.person_id, email=emails[0] if emails else None, phone=phones[0] if phones else None)
    return row


async def _members_csv(
    context: ProfileContext, organisation_id: str, segment: str, separator: CsvSeparator
) -> AsyncIterator[str]:
    delimiter = separator.delimiter
    # A BOM, so spreadsheet software reads the accents right.
    yield "\ufeff" + csv_line(MEMBER_COLUMNS, delimiter)
    after: str | None = None
    while True:
        page = await context.deps.store.segment_members(organisation_id, segment, after=after, limit=MEMBERS_PAGE)
        for stored in page:
            row = _member_row(stored, context)
            yield csv_line([spreadsheet_cell(row[column]) for column in MEMBER_COLUMNS], delimiter)
        if len(page) < MEMBERS_PAGE:
            return
        after = page[-1].person_id


# ---------------------------------------------------------------------------------------------------------------
# Privacy (Québec Law 25): export and erasure, each logged


@router.get(
    "/v1/persons/{person_id}/export",
    summary="Everything kept about a person: profile, segments, triggers fired, every fact; JSON or CSV",
    response_model=None,
    responses={**_AS_JSON_OR_CSV, **_READ_REFUSALS},
)
async def export_person(
    person_id: str,
    principal: PrivacyExporter,
    context: ProfileDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    separator: Annotated[CsvSeparator, Query(description=SEPARATOR_DESCRIPTION + " With `format=csv`.")] = (
        CsvSeparator.COMMA
    ),
) -> dict[str, Any] | Response:
    """The person's own facts and those of every person merged into them; the export is logged."""
    store, organisation_id = context.deps.store, principal.organisation_id
    stored = await store.profile(organisation_id, person_id)
    if stored is None:
        _profile_not_found()
    persons = await _held_persons(context, stored)
    facts = []
    for held in persons:
        for number, fact in await store.numbered_facts(organisation_id, held.person_id, 1, held.applied):
            facts.append({"person_id": held.person_id, "number": number, "event": fact.to_wire()})
    exported_at = context.deps.clock.now()
    document = {
        "person_id": person_id,
        "organisation_id": organisation_id,
        "exported_at": exported_at.isoformat(),
        "profile": _profile_body(stored, context),
        "merged_persons": [held.person_id for held in persons if held.person_id != person_id],
        # What was sent about each person it holds: the triggers fired for a person merged in stay on their profile.
        "triggers_fired": sorted({key for held in persons for key in held.fired}),
        "facts": facts,
    }
    await store.log_privacy(
        PrivacyEntry(
            organisation_id=organisation_id,
            action="exported",
            person_digest=person_digest(organisation_id, person_id),
            at=exported_at,
            requested_by=f"token:{principal.token_id}",
            details={"format": format, "facts": len(facts)},
        )
    )
    if format == "json":
        return document
    return Response(
        "\ufeff" + _export_csv(document, separator.delimiter),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{person_id}.csv"'},
    )


async def _held_persons(context: ProfileContext, stored: StoredProfile) -> list[StoredProfile]:
    """The profile and, through its merges, every profile whose history it holds."""
    held, pending, seen = [], [stored], {stored.person_id}
    while pending:
        current = pending.pop(0)
        held.append(current)
        for merge in current.merges:
            for person_id in merge.person_ids:
                other = await context.deps.store.profile(current.organisation_id, person_id)
                if other is not None and other.person_id not in seen and other.merged_into == current.person_id:
                    seen.add(other.person_id)
                    pending.append(other)
    return held


def _export_csv(document: dict[str, Any], delimiter: str) -> str:
    """One line per item: what part of the record it is, its name, its value (JSON where it is not plain text)."""
    rows: list[tuple[str, str, Any]] = [("person", "person_id", document["person_id"])]
    rows += [("person", "organisation_id", document["organisation_id"])]
    rows += [("person", "exported_at", document["exported_at"])]
    rows += [("profile", "merged_into", document["profile"]["merged_into"])]
    rows += [("profile", name, value) for name, value in document["profile"]["fields"].items()]
    rows += [("ticket", line["performance_id"], line) for line in document["profile"]["tickets"]]
    rows += [("segment", name, "") for name in document["profile"]["segments"]]
    rows += [("merged_person", person_id, "") for person_id in document["merged_persons"]]
    rows += [("trigger_fired", key, "") for key in document["triggers_fired"]]
    rows += [("fact", f"{fact['person_id']}#{fact['number']}", fact["event"]) for fact in document["facts"]]
    return csv_line(("part", "name", "value"), delimiter) + "".join(
        csv_line((part, spreadsheet_cell(name), spreadsheet_cell(value)), delimiter) for part, name, value in rows
    )


class ErasureRequest(BaseModel):
    # An erasure cannot be undone: an option misspelt is refused, never dropped for its default.
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000, description="Why, as recorded.")
    do_not_readd: bool = Field(
        default=False, description="Keep salted hashes of the identifiers so later facts do not re-create the person."
    )


@router.post(
    "/v1/persons/{person_id}/erase",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Erase a person everywhere: identity, profile, pending messages; the request and its proof are logged",
    responses={
        200: {"description": "Erased already: nothing is asked again."},
        409: {"description": "`do_not_readd` after an erasure without it, done or under way (`nothing_to_suppress`)."},
        **_READ_REFUSALS,
    },
)
async def erase_person(
    person_id: str,
    principal: PrivacyEraser,
    context: ProfileDep,
    response: Response,
    request: ErasureRequest | None = None,
) -> dict[str, Any]:
    """Identity erases the person's identifiers and records, profile their profile and facts, notify what was
    still to be sent; each step follows the one before through Kafka. `GET /v1/persons/{id}/erasure` shows the
    proof once profile has searched its collections afterwards.

    Asked again, it does not ask twice: a person erased already is answered `200` with `status: erased`, and a
    request still under way (asked less than `ERASURE_ASKED_AGAIN_AFTER` ago) is answered with its id; asked again
    with `do_not_readd` after one without it, it is refused (`409`), as the identifiers go with the first. The reason
    must not name the person's email, phone or upstream id: the log keeps it after the erasure (`422`)."""
    store, organisation_id = context.deps.store, principal.organisation_id
    requested_at = context.deps.clock.now()
    stored = await store.profile(organisation_id, person_id)
    asked = request or ErasureRequest()
    if stored is None:
        if await store.is_erased(organisation_id, person_id):
            if asked.do_not_readd and await _erased_keeping_nothing(context, organisation_id, person_id):
                _nothing_left_to_keep_out(person_id)
            response.status_code = status.HTTP_200_OK
            return {"person_id": person_id, "status": "erased"}
        _profile_not_found()
    if asked.reason is not None and (named := ", ".join(details_named_in(asked.reason, stored.state))):
        en = f"The reason gives {named}, the person's own, which the log would keep after the erasure: say why without."
        fr = f"La raison donne {named}, à la personne, que le journal garderait après l'effacement : dites-la sans."
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=bilingual_error(
                "reason_names_the_person",
                en=en,
                fr=fr,
                fields=[{"field": "body.reason", "reason": en, "reason_fr": fr, "code": "reason_names_the_person"}],
            ),
        )
    pending = await _erasure_under_way(context, organisation_id, person_id, requested_at)
    if pending is not None:
        request_id, pending_keeps_out = pending
        if asked.do_not_readd and not pending_keeps_out:
            _nothing_left_to_keep_out(person_id)
        return {"person_id": person_id, "status": "requested", "request_id": request_id}
    envelope = build_envelope(
        PersonErasureRequestedV1(
            # Parterre's own id only: the request must not carry the details it erases.
            person=PersonRef(source=PARTERRE_PERSON_SOURCE, external_id=person_id),
            reason=asked.reason,
            requested_by=f"token:{principal.token_id}",
            do_not_readd=asked.do_not_readd,
        ),
        organisation_id=organisation_id,
        source=f"/orgs/{organisation_id}/profile",
        id=str(uuid.uuid4()),
        time=requested_at,
    )
    await context.publisher.publish_many([record_for(envelope)])
    await store.log_privacy(
        PrivacyEntry(
            organisation_id=organisation_id,
            action="erasure_requested",
            person_digest=person_digest(organisation_id, person_id),
            at=requested_at,
            requested_by=f"token:{principal.token_id}",
            # The reason staff gave, as the console promises: the log is the record of why a person was erased.
            details={"request_id": envelope.id, "do_not_readd": asked.do_not_readd, "reason": asked.reason},
        )
    )
    return {"person_id": person_id, "status": "requested", "request_id": envelope.id}


# A request for an erasure not done this long after it was asked may have been lost on the way: asking again sends
# another; before, asking again answers with the one under way.
ERASURE_ASKED_AGAIN_AFTER = timedelta(hours=1)


async def _erasure_under_way(
    context: ProfileContext, organisation_id: str, person_id: str, now: datetime
) -> tuple[str, bool] | None:
    """The id of the person's last erasure request, if asked less than `ERASURE_ASKED_AGAIN_AFTER` ago and not done,
    and whether it asked `do_not_readd`."""
    entries = await context.deps.store.privacy_entries(organisation_id, person_digest(organisation_id, person_id))
    requests = [entry for entry in entries if entry.action == "erasure_requested"]
    if not requests:
        return None
    last = max(requests, key=lambda entry: entry.at)
    done = any(entry.action == "erased" and entry.at >= last.at for entry in entries)
    request_id = last.details.get("request_id")
    if done or now - last.at >= ERASURE_ASKED_AGAIN_AFTER or not isinstance(request_id, str):
        return None
    return request_id, last.details.get("do_not_readd") is True


async def _erased_keeping_nothing(context: ProfileContext, organisation_id: str, person_id: str) -> bool:
    """Whether the request that erased the person, the first one asked here, is known not to have asked
    `do_not_readd`. A person erased by identity's own route has no request here: not known."""
    entries = await context.deps.store.privacy_entries(organisation_id, person_digest(organisation_id, person_id))
    requests = [entry for entry in entries if entry.action == "erasure_requested"]
    return bool(requests) and min(requests, key=lambda entry: entry.at).details.get("do_not_readd") is False


def _nothing_left_to_keep_out(person_id: str) -> NoReturn:
    """`do_not_readd` asked after an erasure without it, done or under way: identity erases the identifiers with the
    first request, so no salted hash of them can be kept. Answered as identity answers it, rather than as done."""
    raise HTTPException(
        status.HTTP_409_CONFLICT,
        detail=bilingual_error(
            "nothing_to_suppress",
            en=(
                f"{person_id} is erased, or being erased, without do_not_readd: their identifiers go with the erasure, "
                "so nothing can keep them out. A later fact about them makes a new person, who may be erased with "
                "do_not_readd."
            ),
            fr=(
                f"{person_id} est effacée, ou en train de l'être, sans do_not_readd : ses identifiants partent avec "
                "l'effacement, rien ne peut l'empêcher d'être ajoutée de nouveau. Un fait ultérieur la concernant "
                "crée une nouvelle personne, qui pourra être effacée avec do_not_readd."
            ),
        ),
    )


@router.get(
    "/v1/persons/{person_id}/erasure",
    summary="The person's erasure requests and the proofs of erasure",
    responses=TOKEN_REFUSALS,
)
async def erasure_log(person_id: str, principal: PrivacyEraser, context: ProfileDep) -> dict[str, Any]:
    entries = await context.deps.store.privacy_entries(
        principal.organisation_id, person_digest(principal.organisation_id, person_id)
    )
    return {
        "person_id": person_id,
        "erased": any(entry.action == "erased" for entry in entries),
        "entries": [
            {
                "action": entry.action,
                "at": entry.at.isoformat(),
                "requested_by": entry.requested_by,
                "details": dict(entry.details),
            }
            for entry in entries
        ],
    }
