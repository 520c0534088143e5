"""Ten operators deciding one thing at once, on both stores: one decision takes effect, and every answer agrees."""

import asyncio

from services.identity.domain.merges import ReviewStatus
from services.identity.domain.persons import PersonStatus
from services.identity.handlers import (
    IdentityActionError,
    IdentityDeps,
    active_person,
    decide_review,
    merged_event,
    resolve_fact,
    unmerge,
)
from shared.events import Envelope, parse_data
from shared.events.identity import PersonResolvedV1, PersonUnmergedV1
from tests.integration.identity.conftest import ORGANISATION, details_fact, last_resolution

OPERATORS = 10


async def resolve(deps: IdentityDeps, event_id: str, **person: str) -> str:
    resolved = parse_data(last_resolution((await resolve_fact(details_fact(event_id, **person), deps)).outputs))
    assert isinstance(resolved, PersonResolvedV1)
    return resolved.person_id


async def test_ten_reviewers_deciding_one_suggestion_at_once_make_one_verdict_take_effect(deps: IdentityDeps) -> None:
    await resolve(deps, "e1", email="luc.roy@example.com", first_name="Luc", last_name="Roy", postal_code="H2J 2L1")
    await resolve(deps, "e2", first_name="L", last_name="Roy", postal_code="H2J 2L1")
    [item] = await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    verdicts = [(n % 2 == 0, f"reviewer:{n}") for n in range(OPERATORS)]

    answers = await asyncio.gather(
        *(
            decide_review(ORGANISATION, item.review_id, deps, accept=accept, reviewer=reviewer)
            for accept, reviewer in verdicts
        ),
        return_exceptions=True,
    )

    stored = await deps.store.review(ORGANISATION, item.review_id)
    assert stored is not None
    accepted = stored.status is ReviewStatus.ACCEPTED
    assert stored.status is not ReviewStatus.PENDING
    assert stored.decided_by in {reviewer for accept, reviewer in verdicts if accept is accepted}
    merges = [
        merge
        for merge in await deps.store.merges_involving(ORGANISATION, item.person_id)
        if merge.cause == item.review_id
    ]
    assert len(merges) == (1 if accepted else 0)
    provisional = await deps.store.person(ORGANISATION, item.person_id)
    assert provisional is not None
    assert (provisional.status is PersonStatus.MERGED) is accepted
    expected = (merged_event(merges[0]).to_json_bytes(),) if accepted else ()
    for (accept, _reviewer), answer in zip(verdicts, answers, strict=True):
        if accept is accepted:
            # Those who gave the verdict that took effect all get the same answer.
            assert not isinstance(answer, BaseException), answer
            assert tuple(envelope.to_json_bytes() for envelope in answer) == expected
        else:
            assert isinstance(answer, IdentityActionError)
            assert answer.code == "review_decided"


async def test_ten_unmerges_of_one_merge_at_once_restore_once_and_every_event_returned_is_the_same(
    deps: IdentityDeps,
) -> None:
    box_office = await resolve(deps, "e1", external_id="C-1", first_name="Élise", last_name="Gagnon")
    shop = await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com")
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com")
    [merge] = await deps.store.merges_involving(ORGANISATION, box_office)

    answers = await asyncio.gather(
        *(
            unmerge(ORGANISATION, box_office, deps, requested_by=f"reviewer:{n}", merge_id=merge.merge_id)
            for n in range(OPERATORS)
        ),
        return_exceptions=True,
    )

    events = [answer for answer in answers if isinstance(answer, Envelope)]
    refused = [answer for answer in answers if not isinstance(answer, Envelope)]
    assert events
    # Asked while another request was undoing it, a request is refused; asked once it was done, it gets its event.
    assert all(isinstance(answer, IdentityActionError) and answer.code == "busy" for answer in refused), refused
    assert len({event.to_json_bytes() for event in events}) == 1
    stored = await deps.store.merge(ORGANISATION, merge.merge_id)
    assert stored is not None
    data = parse_data(events[0])
    assert isinstance(data, PersonUnmergedV1)
    assert (data.requested_by, data.unmerged_at) == (stored.undone_by, stored.undone_at)
    restored = await active_person(deps.store, ORGANISATION, shop)
    assert restored is not None
    assert restored.person_id == shop
    survivor = await deps.store.person(ORGANISATION, box_office)
    assert survivor is not None
    assert not {identifier.value for identifier in survivor.identifiers} & {"207", "elise@example.com"}
