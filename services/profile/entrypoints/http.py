"""Profile HTTP routes: a person's profile as its fields at this moment."""

from typing import Any

from fastapi import APIRouter, HTTPException, status

from services.profile.context import ProfileDep
from services.profile.domain.profile import view
from services.profile.handlers import plain
from shared.access import ProfilesReader
from shared.errors import bilingual_error

router = APIRouter(tags=["profile"])


@router.get("/v1/profiles/{person_id}", summary="A person's profile: every field, segments, as of now")
async def get_profile(person_id: str, principal: ProfilesReader, context: ProfileDep) -> dict[str, Any]:
    stored = await context.deps.store.profile(principal.organisation_id, person_id)
    if stored is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=bilingual_error(
                "profile_not_found", en="No profile for this person.", fr="Aucun profil pour cette personne."
            ),
        )
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
