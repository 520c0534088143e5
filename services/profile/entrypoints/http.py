"""Profile HTTP routes: a person's profile as its fields at this moment."""

from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, HTTPException, Query, status

from services.profile.context import ProfileDep
from services.profile.domain.profile import view
from services.profile.handlers import plain
from shared.access import ProfilesReader
from shared.errors import bilingual_error

router = APIRouter(tags=["profile"])


def _profile_not_found() -> NoReturn:
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        detail=bilingual_error(
            "profile_not_found", en="No profile for this person.", fr="Aucun profil pour cette personne."
        ),
    )


@router.get("/v1/profiles/{person_id}", summary="A person's profile: every field, segments, as of now")
async def get_profile(person_id: str, principal: ProfilesReader, context: ProfileDep) -> dict[str, Any]:
    stored = await context.deps.store.profile(principal.organisation_id, person_id)
    if stored is None:
        _profile_not_found()
    as_of = context.deps.clock.now()
    fields = view(
        stored.state, as_of=max(as_of, stored.state.latest_event_at or as_of), seasons=context.deps.rules.seasons
    )
    return {
        "person_id": person_id,
        # A merged person's own profile is kept so an unmerge can restore it; the patron is the survivor's.
        "merged_into": stored.merged_into,
        "version": stored.version,
        "facts_applied": stored.applied,
        "segments": sorted(stored.segments),
        "fields": {name: plain(value) for name, value in fields.items()},
    }


TIMELINE_PAGE = 50


@router.get(
    "/v1/profiles/{person_id}/timeline",
    summary="A person's facts, newest first, 50 a page; `next_cursor` continues below",
)
async def get_timeline(
    person_id: str,
    principal: ProfilesReader,
    context: ProfileDep,
    cursor: Annotated[int | None, Query(ge=1, description="The `next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = TIMELINE_PAGE,
) -> dict[str, Any]:
    """Facts carry numbers that never change, so a page is stable however many facts arrive meanwhile.

    A merged person's facts stay on their own timeline (their id's), which the survivor's lists in `merged_into`.
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
