"""The review queue read page by page, on both stores: every suggestion once, oldest first, ties by id."""

from dataclasses import replace
from datetime import timedelta

from services.identity.domain.merges import ReviewItem, ReviewStatus
from services.identity.ports import IdentityStore
from tests.integration.identity.conftest import ORGANISATION, START


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
