"""The review queue read page by page, on both stores: every suggestion once, oldest filed first, ties by id."""

from dataclasses import replace
from datetime import timedelta

import pytest

from services.identity.domain.merges import ReviewItem, ReviewStatus
from services.identity.handlers import IdentityDeps, resolve_fact
from services.identity.ports import IdentityStore
from tests.integration.identity.conftest import ORGANISATION, START, details_fact
from tests.integration.identity.test_batch_resolution import CrashError, CrashingStore


def suggestion(number: int, minutes: int, status: ReviewStatus = ReviewStatus.PENDING) -> ReviewItem:
    return ReviewItem(
        review_id=f"rev_{number:02d}",
        organisation_id=ORGANISATION,
        person_id=f"per_{number:02d}a",
        candidate_id=f"per_{number:02d}b",
        probability=0.8,
        agreements={"last_name": "same"},
        event_id=f"e{number}",
        created_at=START + timedelta(minutes=minutes),
        status=status,
    )


async def test_paging_the_queue_reads_every_suggestion_once_in_order_ties_included(
    identity_store: IdentityStore,
) -> None:
    # Two suggestions of one moment, inserted out of order, and a decided one that pending pages leave out.
    for item in (suggestion(3, 1), suggestion(1, 0), suggestion(5, 2), suggestion(4, 1), suggestion(2, 0)):
        await identity_store.insert_review(item)
    await identity_store.insert_review(suggestion(6, 1, ReviewStatus.ACCEPTED))

    read: list[str] = []
    after: ReviewItem | None = None
    while True:
        page = await identity_store.reviews(ORGANISATION, ReviewStatus.PENDING, 2, after=after)
        read += [item.review_id for item in page]
        if len(page) < 2:
            break
        after = page[-1]

    assert read == ["rev_01", "rev_02", "rev_03", "rev_04", "rev_05"]
    accepted = await identity_store.reviews(ORGANISATION, ReviewStatus.ACCEPTED, 10)
    assert [item.review_id for item in accepted] == ["rev_06"]


async def test_a_walk_shows_each_suggestion_once_though_the_reviewer_decides_some_and_others_are_filed_meanwhile(
    identity_store: IdentityStore,
) -> None:
    for number in range(1, 6):
        await identity_store.insert_review(suggestion(number, number))
    filed_meanwhile = iter([suggestion(11, 11), suggestion(12, 12)])

    read: list[str] = []
    cursor: str | None = None
    while True:
        # As `GET /v1/review` reads a cursor: the review it names, decided since or not.
        after = None if cursor is None else await identity_store.review(ORGANISATION, cursor)
        page = await identity_store.reviews(ORGANISATION, ReviewStatus.PENDING, 2, after=after)
        read += [item.review_id for item in page]
        if len(page) < 2:
            break
        cursor = page[-1].review_id
        decided = await identity_store.decide_review(
            ORGANISATION, cursor, status=ReviewStatus.REJECTED, by="reviewer:marie", at=START, note=None
        )
        assert decided
        if (new := next(filed_meanwhile, None)) is not None:
            await identity_store.insert_review(new)

    assert read == ["rev_01", "rev_02", "rev_03", "rev_04", "rev_05", "rev_11", "rev_12"]


async def test_withdrawing_the_suggestions_naming_a_person_closes_their_pending_ones_on_either_side_only(
    identity_store: IdentityStore,
) -> None:
    named_first, named_second = suggestion(1, 0), replace(suggestion(2, 1), candidate_id="per_01a")
    decided = replace(suggestion(3, 2, ReviewStatus.REJECTED), person_id="per_01a")
    for item in (named_first, named_second, decided, suggestion(4, 3)):
        await identity_store.insert_review(item)
    at = START + timedelta(days=1)

    await identity_store.withdraw_reviews_naming(ORGANISATION, "per_01a", by="erasure", at=at)
    await identity_store.withdraw_reviews_naming(ORGANISATION, "per_01a", by="erasure", at=at)

    pending = await identity_store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    assert [item.review_id for item in pending] == ["rev_04"]
    withdrawn = await identity_store.reviews(ORGANISATION, ReviewStatus.WITHDRAWN, 10)
    assert [(item.review_id, item.decided_by, item.decided_at) for item in withdrawn] == [
        ("rev_01", "erasure", at),
        ("rev_02", "erasure", at),
    ]
    assert await identity_store.reviews(ORGANISATION, ReviewStatus.REJECTED, 10) == [decided]
    # Filed again (a redelivered fact), a withdrawn suggestion stays withdrawn.
    await identity_store.insert_review(named_first)
    assert await identity_store.review(ORGANISATION, "rev_01") == withdrawn[0]


LUC = {"email": "luc.roy@example.com", "first_name": "Luc", "last_name": "Roy", "postal_code": "H2J 2L1"}
# Likely Luc, not surely: a reviewer is asked.
L_ROY = {"first_name": "L", "last_name": "Roy", "postal_code": "H2J 2L1"}
FREDERIC = {"first_name": "Frédéric", "last_name": "Loiselle", "postal_code": "G1M 4J7"}


async def test_a_suggestion_filed_while_the_queue_is_walked_comes_on_a_later_page_though_decided_earlier(
    deps: IdentityDeps,
) -> None:
    await resolve_fact(details_fact("e1", **LUC), deps)
    # `L Roy` is likely Luc: decided, but the process dies before filing the suggestion.
    with pytest.raises(CrashError):
        await resolve_fact(details_fact("e2", **L_ROY), crashing_on_filing(deps))
    await resolve_fact(details_fact("e3", **FREDERIC), deps)
    await resolve_fact(details_fact("e4", **(FREDERIC | {"first_name": "F"})), deps)
    [first] = await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 1)
    assert first.event_id == "e4"

    # Redelivered while the reviewer reads the first page: the suggestion about L Roy is filed now.
    await resolve_fact(details_fact("e2", **L_ROY), deps)

    later = await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 1, after=first)
    assert [item.event_id for item in later] == ["e2"]
    assert await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 1, after=later[0]) == []


def crashing_on_filing(deps: IdentityDeps) -> IdentityDeps:
    return replace(deps, store=CrashingStore(deps.store, "insert_review"))
