"""An erasure served while a reviewer's accept or an unmerge is under way wins, on both stores: nothing of the
erased person is merged into or written back onto anyone, and the operator is told (409), nothing published."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.identity.domain.merges import MergeRecord, ReviewStatus
from services.identity.domain.persons import PersonStatus
from services.identity.handlers import (
    IdentityActionError,
    IdentityDeps,
    decide_review,
    erase_on_request,
    resolve_fact,
    unmerge,
)
from tests.integration.identity.conftest import ORGANISATION, details_fact, everything_stored, resolve

LUC = {"email": "luc.roy@example.com", "first_name": "Luc", "last_name": "Roy", "postal_code": "H2J 2L1"}
# Likely Luc, not surely: a reviewer is asked.
L_ROY = {"first_name": "L", "last_name": "Roy", "postal_code": "H2J 2L1", "email": "l.roy.h2j@example.com"}
STAFF = "staff:paul"


def _erasing_first(deps: IdentityDeps, method: str, person_id: str) -> Callable[..., Awaitable[Any]]:
    """The store's `method`, which first serves the privacy officer's erasure of `person_id`, once: as if it came
    between the operator's reads and writes."""
    store = deps.store
    original = getattr(store, method)
    armed = [True]

    async def erasing_first(*args: Any, **kwargs: Any) -> Any:
        if armed.pop() if armed else False:
            await erase_on_request(ORGANISATION, person_id, deps, do_not_readd=False, requested_by=STAFF)
        return await original(*args, **kwargs)

    return erasing_first


@pytest.mark.parametrize("erased_side", ["provisional", "candidate"])
async def test_an_accept_racing_an_erasure_merges_no_one_and_is_answered_stale(
    deps: IdentityDeps, erased_side: str
) -> None:
    store = deps.store
    await resolve_fact(details_fact("e1", **LUC), deps)
    await resolve_fact(details_fact("e2", **L_ROY), deps)
    [item] = await store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    erased, other = (
        (item.person_id, item.candidate_id) if erased_side == "provisional" else (item.candidate_id, item.person_id)
    )
    erased_email = "l.roy.h2j@example.com" if erased_side == "provisional" else "luc.roy@example.com"
    store.insert_merge = _erasing_first(deps, "insert_merge", erased)  # type: ignore[method-assign,assignment]

    with pytest.raises(IdentityActionError) as refused:
        await decide_review(ORGANISATION, item.review_id, deps, accept=True, reviewer="reviewer:marie")

    assert refused.value.code == "review_stale"
    kept = await store.person(ORGANISATION, other)
    assert kept is not None
    assert (kept.status, kept.merged_into) == (PersonStatus.ACTIVE, None)
    assert all(record.email != erased_email for record in kept.records)
    assert [name for name, held in (await everything_stored(store)).items() if erased_email in held] == []
    merges: list[MergeRecord] = await store.merges_involving(ORGANISATION, other)
    assert all(merge.undone_at is not None for merge in merges)
    stored = await store.review(ORGANISATION, item.review_id)
    assert stored is not None
    assert stored.status is ReviewStatus.WITHDRAWN
    # The one left is found by their email at once, not after minutes of "not stored yet".
    later = LUC if erased_side == "provisional" else L_ROY
    outcome = await resolve_fact(details_fact("e3", **later), deps)
    assert outcome.decision is not None
    assert outcome.decision.person_id == other


@pytest.mark.parametrize("overtaken_at", ["claim_unmerge", "set_status"])
async def test_an_unmerge_overtaken_by_an_erasure_writes_nothing_back_and_is_answered_person_erased(
    deps: IdentityDeps, overtaken_at: str
) -> None:
    store = deps.store
    elise = {"first_name": "Élise", "last_name": "Gagnon"}
    anne = (await resolve(deps, "e1", external_id="C-1", email="anne@example.com", **elise)).person_id
    await resolve(deps, "e2", source="shopify-boutique", external_id="S-1", email="bea@example.com", **elise)
    # Béa's shop id with Anne's email: Béa is merged into Anne.
    await resolve(deps, "e3", source="shopify-boutique", external_id="S-1", email="anne@example.com")
    [merge] = await store.merges_involving(ORGANISATION, anne)
    setattr(store, overtaken_at, _erasing_first(deps, overtaken_at, anne))

    with pytest.raises(IdentityActionError) as refused:
        await unmerge(ORGANISATION, anne, deps, requested_by="reviewer:marie")

    assert refused.value.code == "person_erased"
    for person_id in (anne, *merge.merged_ids):
        person = await store.person(ORGANISATION, person_id)
        assert person is not None
        assert (person.status, person.identifiers, person.records) == (PersonStatus.ERASED, frozenset(), ())
    everything = await everything_stored(store)
    for value in ("anne@example.com", "bea@example.com", "C-1", "S-1"):
        assert [name for name, held in everything.items() if value in held] == []
    stays = await store.merge(ORGANISATION, merge.merge_id)
    assert stays is not None
    assert stays.undone_at is None


async def test_the_store_never_writes_an_erased_person_back(deps: IdentityDeps) -> None:
    store = deps.store
    jean = (await resolve(deps, "e1", external_id="C-1", email="jean@example.com")).person_id
    read_before = await store.person(ORGANISATION, jean)
    assert read_before is not None
    await erase_on_request(ORGANISATION, jean, deps, do_not_readd=False, requested_by=STAFF)
    erased = await store.fresh_person(ORGANISATION, jean)
    assert erased is not None

    assert not await store.replace_person(read_before, expected_version=erased.version)

    after = await store.fresh_person(ORGANISATION, jean)
    assert after is not None
    assert (after.status, after.records) == (PersonStatus.ERASED, ())
