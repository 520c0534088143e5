"""The identity store's claims, on the in-memory store and the real one: the first stored wins, whoever races."""

import asyncio
from datetime import timedelta

from services.identity.domain.merges import ReviewClaim, ReviewStatus, UnmergeClaim
from services.identity.ports import IdentityStore
from tests.integration.identity.conftest import ORGANISATION, START

ACCEPTED, REJECTED = ReviewStatus.ACCEPTED, ReviewStatus.REJECTED


def review_claim(decision: ReviewStatus, by: str, *, review_id: str = "rev_1", seconds: int = 0) -> ReviewClaim:
    return ReviewClaim(
        ORGANISATION, review_id, decision, by=by, at=START + timedelta(seconds=seconds), note=f"{by}'s note"
    )


async def test_the_first_review_claim_is_kept_and_every_later_one_is_answered_with_it(
    identity_store: IdentityStore,
) -> None:
    first = review_claim(ACCEPTED, "reviewer:marie")

    assert await identity_store.claim_review(first) == first
    assert await identity_store.claim_review(review_claim(REJECTED, "reviewer:paul", seconds=3)) == first
    assert await identity_store.claim_review(review_claim(ACCEPTED, "reviewer:paul", seconds=4)) == first


async def test_of_twenty_review_claims_made_at_once_one_is_stored_and_all_are_answered_with_it(
    identity_store: IdentityStore,
) -> None:
    claims = [
        review_claim(ACCEPTED if n % 2 else REJECTED, f"reviewer:{n}", review_id="rev_raced", seconds=n)
        for n in range(20)
    ]

    answers = await asyncio.gather(*(identity_store.claim_review(claim) for claim in claims))

    assert len(set(answers)) == 1
    assert answers[0] in claims


async def test_a_dropped_review_claim_frees_the_review_but_only_a_claim_of_the_decision_named_is_dropped(
    identity_store: IdentityStore,
) -> None:
    accepted = review_claim(ACCEPTED, "reviewer:marie")
    await identity_store.claim_review(accepted)

    await identity_store.drop_review_claim(ORGANISATION, "rev_1", REJECTED)
    assert await identity_store.claim_review(review_claim(REJECTED, "reviewer:paul")) == accepted

    await identity_store.drop_review_claim(ORGANISATION, "rev_1", ACCEPTED)
    rejected = review_claim(REJECTED, "reviewer:paul", seconds=5)
    assert await identity_store.claim_review(rejected) == rejected
    await identity_store.drop_review_claim(ORGANISATION, "rev_never_claimed", ACCEPTED)


async def test_a_review_claim_without_a_note_reads_back_without_one(identity_store: IdentityStore) -> None:
    silent = ReviewClaim(ORGANISATION, "rev_1", ACCEPTED, by="reviewer:marie", at=START)
    await identity_store.claim_review(silent)

    assert await identity_store.claim_review(review_claim(REJECTED, "reviewer:paul")) == silent


async def test_the_first_unmerge_claim_is_kept_and_every_later_one_is_answered_with_it(
    identity_store: IdentityStore,
) -> None:
    first = UnmergeClaim(ORGANISATION, "mrg_1", by="reviewer:marie", at=START)

    assert await identity_store.claim_unmerge(first) == first
    later = UnmergeClaim(ORGANISATION, "mrg_1", by="reviewer:paul", at=START + timedelta(minutes=5))
    assert await identity_store.claim_unmerge(later) == first


async def test_of_twenty_unmerge_claims_made_at_once_one_is_stored_and_all_are_answered_with_it(
    identity_store: IdentityStore,
) -> None:
    claims = [
        UnmergeClaim(ORGANISATION, "mrg_raced", by=f"reviewer:{n}", at=START + timedelta(seconds=n)) for n in range(20)
    ]

    answers = await asyncio.gather(*(identity_store.claim_unmerge(claim) for claim in claims))

    assert len(set(answers)) == 1
    assert answers[0] in claims


async def test_claims_of_one_id_in_two_organisations_are_apart(identity_store: IdentityStore) -> None:
    here = review_claim(ACCEPTED, "reviewer:marie")
    there = ReviewClaim("festival-sud", "rev_1", REJECTED, by="reviewer:luc", at=START)
    undo_here = UnmergeClaim(ORGANISATION, "mrg_1", by="reviewer:marie", at=START)
    undo_there = UnmergeClaim("festival-sud", "mrg_1", by="reviewer:luc", at=START)

    assert [await identity_store.claim_review(claim) for claim in (here, there)] == [here, there]
    assert [await identity_store.claim_unmerge(claim) for claim in (undo_here, undo_there)] == [undo_here, undo_there]
