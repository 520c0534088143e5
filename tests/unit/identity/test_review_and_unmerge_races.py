"""Review verdicts and unmerges made at once, or retried after a crash: one decision takes effect, once."""

import asyncio
import inspect
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.domain.merges import MergeRecord, ReviewItem, ReviewStatus, UnmergeClaim
from services.identity.domain.persons import PersonStatus
from services.identity.domain.resolution import MergePlan
from services.identity.handlers import (
    UNMERGE_CLAIM_LEASE,
    IdentityActionError,
    IdentityDeps,
    active_person,
    apply_merge,
    decide_review,
    erase_on_request,
    merged_event,
    resolve_fact,
    unmerge,
)
from services.identity.ports import IdentityStore
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.events import Envelope, PersonRef, build_envelope, parse_data
from shared.events.audience import PersonDetailsUpdatedV1
from shared.events.identity import MergeDecider, PersonResolvedV1, PersonsMergedV1, PersonUnmergedV1

ORGANISATION = "theatre-du-nord"
START = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
MARIE, PAUL = "reviewer:marie", "reviewer:paul"


class CrashError(Exception):
    """The process died here: nothing after this point happened."""


class InterleavingStore:
    """The in-memory store, except that each call first lets the other tasks run, as a round trip to a server
    would, and a method named in `crash_before` fails once, as if the process died just before calling it."""

    def __init__(self) -> None:
        self.inner = InMemoryIdentityStore()
        self.crash_before: set[str] = set()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(method):
            # No round trip: what the process itself knows.
            return cast(Callable[..., Any], method)

        async def call(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            if name in self.crash_before:
                self.crash_before.discard(name)
                raise CrashError(name)
            return await method(*args, **kwargs)

        return call


class MovableClock:
    """Each reading is one second after the last; `advance` moves time on by more, as a wait would."""

    def __init__(self) -> None:
        self._now = START

    def now(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


@pytest.fixture
def store() -> InterleavingStore:
    return InterleavingStore()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def deps(store: InterleavingStore, clock: MovableClock) -> IdentityDeps:
    return IdentityDeps(store=cast(IdentityStore, store), rules=load_rules(IdentitySettings()), clock=clock)


async def resolve(deps: IdentityDeps, event_id: str, *, source: str = "billetterie-principale", **person: Any) -> str:
    fact = build_envelope(
        PersonDetailsUpdatedV1(person=PersonRef(source=source, **person)),
        organisation_id=ORGANISATION,
        source=f"/orgs/{ORGANISATION}/sources/{source}",
        id=event_id,
        time=START,
    )
    resolved = parse_data((await resolve_fact(fact, deps)).outputs[-1])
    assert isinstance(resolved, PersonResolvedV1)
    return resolved.person_id


async def suggested_duplicate(deps: IdentityDeps) -> ReviewItem:
    """Luc Roy known by his email, then an `L Roy` at his postal code: likely him, for a reviewer to say."""
    await resolve(deps, "e1", email="luc.roy@example.com", first_name="Luc", last_name="Roy", postal_code="H2J 2L1")
    await resolve(deps, "e2", first_name="L", last_name="Roy", postal_code="H2J 2L1")
    [item] = await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    return item


async def merges_caused_by(deps: IdentityDeps, item: ReviewItem) -> list[MergeRecord]:
    merges = await deps.store.merges_involving(ORGANISATION, item.person_id)
    return [merge for merge in merges if merge.cause == item.review_id]


async def decided(deps: IdentityDeps, item: ReviewItem) -> ReviewItem:
    stored = await deps.store.review(ORGANISATION, item.review_id)
    assert stored is not None
    return stored


async def verdict(deps: IdentityDeps, item: ReviewItem, *, accept: bool, reviewer: str) -> tuple[Envelope, ...]:
    return await decide_review(ORGANISATION, item.review_id, deps, accept=accept, reviewer=reviewer)


def wire(envelopes: tuple[Envelope, ...]) -> list[bytes]:
    return [envelope.to_json_bytes() for envelope in envelopes]


async def assert_merged_as_reviewed(deps: IdentityDeps, item: ReviewItem, *, merged: bool) -> None:
    """The review's status, its merges and the persons tell the same story."""
    stored = await decided(deps, item)
    assert stored.status is (ReviewStatus.ACCEPTED if merged else ReviewStatus.REJECTED)
    assert len(await merges_caused_by(deps, item)) == (1 if merged else 0)
    provisional = await active_person(deps.store, ORGANISATION, item.person_id)
    assert provisional is not None
    assert (provisional.person_id == item.candidate_id) is merged


@pytest.mark.parametrize("first", ["accept", "reject"])
async def test_an_accept_and_a_reject_made_at_once_leave_one_verdict_and_the_persons_as_it_says(
    deps: IdentityDeps, first: str
) -> None:
    item = await suggested_duplicate(deps)
    verdicts = [(True, MARIE), (False, PAUL)] if first == "accept" else [(False, PAUL), (True, MARIE)]

    answers = await asyncio.gather(
        *(verdict(deps, item, accept=accept, reviewer=reviewer) for accept, reviewer in verdicts),
        return_exceptions=True,
    )

    refused = [answer for answer in answers if isinstance(answer, BaseException)]
    assert len(refused) == 1
    assert isinstance(refused[0], IdentityActionError)
    assert refused[0].code == "review_decided"
    [(accepted, reviewer)] = [
        given for given, answer in zip(verdicts, answers, strict=True) if not isinstance(answer, BaseException)
    ]
    assert (await decided(deps, item)).decided_by == reviewer
    await assert_merged_as_reviewed(deps, item, merged=accepted)


async def test_two_accepts_made_at_once_merge_once_and_both_answer_with_the_same_merge_event(
    deps: IdentityDeps,
) -> None:
    item = await suggested_duplicate(deps)

    marie, paul = await asyncio.gather(
        verdict(deps, item, accept=True, reviewer=MARIE), verdict(deps, item, accept=True, reviewer=PAUL)
    )

    [merge] = await merges_caused_by(deps, item)
    assert wire(marie) == wire(paul) == wire((merged_event(merge),))
    assert (await decided(deps, item)).decided_by == MARIE
    await assert_merged_as_reviewed(deps, item, merged=True)


async def test_a_verdict_given_again_once_decided_answers_the_same_and_the_other_verdict_is_refused(
    deps: IdentityDeps,
) -> None:
    item = await suggested_duplicate(deps)
    first = await verdict(deps, item, accept=True, reviewer=MARIE)

    again = await verdict(deps, item, accept=True, reviewer=PAUL)
    with pytest.raises(IdentityActionError) as refused:
        await verdict(deps, item, accept=False, reviewer=PAUL)

    assert wire(again) == wire(first)
    assert refused.value.code == "review_decided"
    assert "marie" in str(refused.value)
    assert (await decided(deps, item)).decided_by == MARIE
    await assert_merged_as_reviewed(deps, item, merged=True)


# Right after the claim, midway through the merge, and between the merge and the review's status.
@pytest.mark.parametrize("crash_before", ["merges_caused_by", "set_status", "decide_review"])
async def test_an_accept_that_crashed_after_its_claim_is_finished_by_a_retry_with_the_first_reviewer_s_verdict(
    deps: IdentityDeps, store: InterleavingStore, crash_before: str
) -> None:
    item = await suggested_duplicate(deps)
    store.crash_before.add(crash_before)
    with pytest.raises(CrashError):
        await decide_review(ORGANISATION, item.review_id, deps, accept=True, reviewer=MARIE, note="même adresse")
    assert (await decided(deps, item)).status is ReviewStatus.PENDING

    with pytest.raises(IdentityActionError) as refused:
        await verdict(deps, item, accept=False, reviewer=PAUL)
    retried = await verdict(deps, item, accept=True, reviewer=PAUL)

    assert refused.value.code == "review_decided"
    [merge] = await merges_caused_by(deps, item)
    assert wire(retried) == wire((merged_event(merge),))
    stored = await decided(deps, item)
    assert (stored.decided_by, stored.note) == (MARIE, "même adresse")
    assert stored.decided_at == merge.decided_at
    await assert_merged_as_reviewed(deps, item, merged=True)


async def test_a_reject_of_two_persons_merged_since_by_something_else_is_refused_and_the_review_stays_open(
    deps: IdentityDeps,
) -> None:
    item = await suggested_duplicate(deps)
    provisional = await active_person(deps.store, ORGANISATION, item.person_id)
    candidate = await active_person(deps.store, ORGANISATION, item.candidate_id)
    assert provisional is not None
    assert candidate is not None
    await apply_merge(
        deps.store,
        MergePlan(survivor=candidate, merged=(provisional,), evidence=()),
        cause="a later fact",
        decided_by=MergeDecider.RULE,
        at=START,
    )

    with pytest.raises(IdentityActionError) as refused:
        await verdict(deps, item, accept=False, reviewer=PAUL)

    assert refused.value.code == "merged_since"
    assert (await decided(deps, item)).status is ReviewStatus.PENDING
    # Its claim let go: the review can still be accepted, which says the merge was right.
    assert await verdict(deps, item, accept=True, reviewer=MARIE) == ()


async def test_a_reject_that_crashed_before_its_status_is_finished_by_a_retry_and_an_accept_is_refused(
    deps: IdentityDeps, store: InterleavingStore
) -> None:
    item = await suggested_duplicate(deps)
    store.crash_before.add("decide_review")
    with pytest.raises(CrashError):
        await verdict(deps, item, accept=False, reviewer=PAUL)

    with pytest.raises(IdentityActionError) as refused:
        await verdict(deps, item, accept=True, reviewer=MARIE)
    assert await verdict(deps, item, accept=False, reviewer=PAUL) == ()

    assert refused.value.code == "review_decided"
    assert (await decided(deps, item)).decided_by == PAUL
    await assert_merged_as_reviewed(deps, item, merged=False)


async def test_an_accept_that_finds_a_person_erased_merges_nobody_and_the_erasure_finished_withdraws_it(
    deps: IdentityDeps, store: InterleavingStore
) -> None:
    item = await suggested_duplicate(deps)
    # The erasure dies after marking Luc erased, before withdrawing the suggestions naming him.
    store.crash_before.add("withdraw_reviews_naming")
    with pytest.raises(CrashError):
        await erase_on_request(ORGANISATION, item.candidate_id, deps, do_not_readd=False, requested_by="staff:luc")

    with pytest.raises(IdentityActionError) as stale:
        await verdict(deps, item, accept=True, reviewer=MARIE)
    await erase_on_request(ORGANISATION, item.candidate_id, deps, do_not_readd=False, requested_by="staff:luc")
    with pytest.raises(IdentityActionError) as withdrawn:
        await verdict(deps, item, accept=False, reviewer=PAUL)

    assert (stale.value.code, withdrawn.value.code) == ("review_stale", "review_stale")
    stored = await decided(deps, item)
    assert (stored.status, stored.decided_by) == (ReviewStatus.WITHDRAWN, "erasure")
    assert await merges_caused_by(deps, item) == []


async def merged_pair(deps: IdentityDeps) -> MergeRecord:
    """Élise known at the box office and at the shop, then a fact naming both: the shop's person is merged."""
    box_office = await resolve(deps, "e1", external_id="C-1", first_name="Élise", last_name="Gagnon")
    await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com")
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com")
    [merge] = await deps.store.merges_involving(ORGANISATION, box_office)
    return merge


async def assert_undone(deps: IdentityDeps, merge: MergeRecord, *, by: str) -> None:
    [restored] = merge.merged
    person = await deps.store.person(ORGANISATION, restored.person_id)
    assert person is not None
    assert person.status is PersonStatus.ACTIVE
    survivor = await deps.store.person(ORGANISATION, merge.survivor_id)
    assert survivor is not None
    assert not survivor.identifiers & restored.identifiers
    stored = await deps.store.merge(ORGANISATION, merge.merge_id)
    assert stored is not None
    assert stored.undone_by == by


@pytest.mark.parametrize("named", [True, False], ids=["merge named", "latest merge"])
async def test_two_unmerges_of_one_merge_made_at_once_restore_once_and_only_one_publishes_an_event(
    deps: IdentityDeps, named: bool
) -> None:
    merge = await merged_pair(deps)
    merge_id = merge.merge_id if named else None

    answers = await asyncio.gather(
        *(
            unmerge(ORGANISATION, merge.survivor_id, deps, requested_by=reviewer, merge_id=merge_id)
            for reviewer in (MARIE, PAUL)
        ),
        return_exceptions=True,
    )

    [event] = [answer for answer in answers if isinstance(answer, Envelope)]
    [refused] = [answer for answer in answers if isinstance(answer, BaseException)]
    assert isinstance(refused, IdentityActionError)
    assert refused.code == "busy"
    data = parse_data(event)
    assert isinstance(data, PersonUnmergedV1)
    assert data.requested_by == MARIE
    await assert_undone(deps, merge, by=MARIE)


async def test_an_undone_merge_named_again_gives_the_same_event_and_otherwise_there_is_nothing_to_unmerge(
    deps: IdentityDeps,
) -> None:
    merge = await merged_pair(deps)
    first = await unmerge(ORGANISATION, merge.survivor_id, deps, requested_by=MARIE)

    again = await unmerge(ORGANISATION, merge.survivor_id, deps, requested_by=PAUL, merge_id=merge.merge_id)
    with pytest.raises(IdentityActionError) as nothing:
        await unmerge(ORGANISATION, merge.survivor_id, deps, requested_by=PAUL)

    assert again.to_json_bytes() == first.to_json_bytes()
    assert nothing.value.code == "nothing_to_unmerge"
    await assert_undone(deps, merge, by=MARIE)


# Right after the claim, midway through the restore, and with only the merge left to mark undone.
@pytest.mark.parametrize("crash_before", ["set_status", "replace_person", "mark_undone"])
async def test_an_unmerge_that_crashed_after_its_claim_is_refused_as_under_way_then_finished_after_the_lease(
    deps: IdentityDeps, store: InterleavingStore, clock: MovableClock, crash_before: str
) -> None:
    merge = await merged_pair(deps)
    store.crash_before.add(crash_before)
    with pytest.raises(CrashError):
        await unmerge(ORGANISATION, merge.survivor_id, deps, requested_by=MARIE, merge_id=merge.merge_id)
    claim = await deps.store.claim_unmerge(UnmergeClaim(ORGANISATION, merge.merge_id, by="nobody", at=START))

    with pytest.raises(IdentityActionError) as under_way:
        await unmerge(ORGANISATION, merge.survivor_id, deps, requested_by=PAUL)
    clock.advance(UNMERGE_CLAIM_LEASE)
    finished = await unmerge(ORGANISATION, merge.survivor_id, deps, requested_by=PAUL)
    again = await unmerge(ORGANISATION, merge.survivor_id, deps, requested_by=PAUL, merge_id=merge.merge_id)

    assert under_way.value.code == "busy"
    assert "marie" in str(under_way.value)
    data = parse_data(finished)
    assert isinstance(data, PersonUnmergedV1)
    assert (data.requested_by, data.unmerged_at, finished.time) == (MARIE, claim.at, claim.at)
    assert again.to_json_bytes() == finished.to_json_bytes()
    await assert_undone(deps, merge, by=MARIE)


async def test_an_accept_given_again_after_its_merge_was_undone_does_not_merge_again(deps: IdentityDeps) -> None:
    item = await suggested_duplicate(deps)
    first = await verdict(deps, item, accept=True, reviewer=MARIE)
    await unmerge(ORGANISATION, item.candidate_id, deps, requested_by=PAUL)

    again = await verdict(deps, item, accept=True, reviewer=MARIE)

    assert wire(again) == wire(first)
    provisional = await deps.store.person(ORGANISATION, item.person_id)
    assert provisional is not None
    assert provisional.status is PersonStatus.ACTIVE


async def assert_a_fact_naming_both_keeps_them_two(deps: IdentityDeps, item: ReviewItem, event_id: str) -> None:
    """The shop's customer 207 gives Luc's email: a family address, as far as anyone can tell, and no merge."""
    fact = build_envelope(
        PersonDetailsUpdatedV1(
            person=PersonRef(source="shopify-boutique", external_id="207", email="luc.roy@example.com")
        ),
        organisation_id=ORGANISATION,
        source=f"/orgs/{ORGANISATION}/sources/shopify-boutique",
        id=event_id,
        time=START,
    )
    outputs = [parse_data(output) for output in (await resolve_fact(fact, deps)).outputs]

    assert not any(isinstance(output, PersonsMergedV1) for output in outputs)
    first = await active_person(deps.store, ORGANISATION, item.person_id)
    second = await active_person(deps.store, ORGANISATION, item.candidate_id)
    assert first is not None
    assert second is not None
    assert first.person_id != second.person_id


async def test_a_pair_a_reviewer_rejected_is_not_merged_by_a_later_fact_linking_them(deps: IdentityDeps) -> None:
    await resolve(deps, "e1", email="luc.roy@example.com", first_name="Luc", last_name="Roy", postal_code="H2J 2L1")
    await resolve(
        deps, "e2", source="shopify-boutique", external_id="207", first_name="L", last_name="Roy", postal_code="H2J 2L1"
    )
    [item] = await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    await decide_review(ORGANISATION, item.review_id, deps, accept=False, reviewer=MARIE, note="pas la même personne")

    # The shop's customer gives Luc's email since: a family address, as far as anyone can tell; the reviewer said two.
    await assert_a_fact_naming_both_keeps_them_two(deps, item, "e3")


async def test_the_merge_of_an_erased_person_stays_and_their_erasure_asked_again_answers_the_same(
    deps: IdentityDeps,
) -> None:
    survivor = await resolve(deps, "e1", external_id="C-1", first_name="Élise", last_name="Gagnon")
    await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com")
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com")
    first = await erase_on_request(ORGANISATION, survivor, deps, do_not_readd=False, requested_by="staff:luc")
    assert len(first) == 2

    with pytest.raises(IdentityActionError) as refused:
        await unmerge(ORGANISATION, survivor, deps, requested_by=MARIE)

    assert refused.value.code == "person_erased"
    again = await erase_on_request(ORGANISATION, survivor, deps, do_not_readd=False, requested_by="staff:luc")
    assert [event.id for event in again] == [event.id for event in first]


async def suggestion_whose_person_was_merged_since(deps: IdentityDeps) -> ReviewItem:
    """The shop's `L Roy`, likely Luc, for a reviewer to say; before anyone does, the shop's customer gives the
    newsletter address of an older person, into whom the shop's person is folded."""
    await resolve(deps, "e0", source="mailchimp-infolettre", external_id="M-9", email="lroy@example.org")
    await resolve(deps, "e1", email="luc.roy@example.com", first_name="Luc", last_name="Roy", postal_code="H2J 2L1")
    await resolve(
        deps, "e2", source="shopify-boutique", external_id="207", first_name="L", last_name="Roy", postal_code="H2J 2L1"
    )
    [item] = await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    await resolve(deps, "e3", source="shopify-boutique", external_id="207", email="lroy@example.org")
    provisional = await active_person(deps.store, ORGANISATION, item.person_id)
    assert provisional is not None
    assert provisional.person_id != item.person_id
    return item


async def test_an_accept_given_again_by_another_reviewer_answers_the_same_merge_when_the_suggested_person_had_moved(
    deps: IdentityDeps,
) -> None:
    item = await suggestion_whose_person_was_merged_since(deps)
    first = await verdict(deps, item, accept=True, reviewer=MARIE)

    again = await verdict(deps, item, accept=True, reviewer=PAUL)

    [merge] = await deps.store.merges_caused_by(ORGANISATION, item.review_id)
    assert wire(first) == wire(again) == wire((merged_event(merge),))
    assert (await decided(deps, item)).decided_by == MARIE


async def test_an_accept_given_again_after_its_merge_was_undone_does_not_merge_again_when_the_person_had_moved(
    deps: IdentityDeps,
) -> None:
    item = await suggestion_whose_person_was_merged_since(deps)
    first = await verdict(deps, item, accept=True, reviewer=MARIE)
    [merge] = await deps.store.merges_caused_by(ORGANISATION, item.review_id)
    await unmerge(ORGANISATION, merge.survivor_id, deps, requested_by=PAUL, merge_id=merge.merge_id)

    again = await verdict(deps, item, accept=True, reviewer=MARIE)

    assert wire(again) == wire(first)
    [restored] = merge.merged_ids
    person = await deps.store.person(ORGANISATION, restored)
    assert person is not None
    assert person.status is PersonStatus.ACTIVE
    stored = await deps.store.merge(ORGANISATION, merge.merge_id)
    assert stored is not None
    assert stored.undone_by == PAUL


async def test_undoing_a_merge_whose_survivor_was_merged_since_takes_the_restored_person_s_data_from_the_holder(
    deps: IdentityDeps,
) -> None:
    holder_id = await resolve(
        deps, "e0", source="mailchimp-infolettre", external_id="M-9", first_name="Élise", last_name="Gagnon"
    )
    survivor_id = await resolve(deps, "e1", external_id="C-1", first_name="Élise", last_name="Gagnon")
    shop_id = await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com")
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com")
    [first] = await deps.store.merges_involving(ORGANISATION, shop_id)
    assert (first.survivor_id, first.merged_ids) == (survivor_id, [shop_id])
    # The newsletter's subscriber gives the shop's address: the survivor is folded into the older newsletter person.
    await resolve(deps, "e4", source="mailchimp-infolettre", external_id="M-9", email="elise@example.com")
    holder = await deps.store.person(ORGANISATION, holder_id)
    assert holder is not None
    assert first.merged[0].identifiers <= holder.identifiers

    await unmerge(ORGANISATION, shop_id, deps, requested_by=MARIE, merge_id=first.merge_id)

    restored = await deps.store.person(ORGANISATION, shop_id)
    holder = await deps.store.person(ORGANISATION, holder_id)
    survivor = await deps.store.person(ORGANISATION, survivor_id)
    assert restored is not None
    assert holder is not None
    assert survivor is not None
    assert restored.status is PersonStatus.ACTIVE
    assert restored.identifiers == first.merged[0].identifiers
    assert not holder.identifiers & restored.identifiers
    assert not set(holder.records) & set(restored.records)
    # What the survivor brought stays with the holder: only the undone merge's part leaves.
    assert survivor.identifiers <= holder.identifiers
    assert set(survivor.records) <= set(holder.records)


async def louise_and_a_suggestion_of_l_roy_for_luc(deps: IdentityDeps) -> tuple[str, ReviewItem]:
    """Louise Roy of the shop, with the family address; Luc Roy; and the shop's customer 207, `L Roy` at Luc's postal
    code, suggested as Luc for a reviewer to say. Returns Louise's id and the suggestion."""
    louise = await resolve(
        deps,
        "e0",
        source="shopify-boutique",
        external_id="55",
        email="roy.famille@example.com",
        first_name="Louise",
        last_name="Roy",
        postal_code="G1R 4P5",
    )
    luc = await resolve(
        deps, "e1", email="luc.roy@example.com", first_name="Luc", last_name="Roy", postal_code="H2J 2L1"
    )
    await resolve(
        deps, "e2", source="shopify-boutique", external_id="207", first_name="L", last_name="Roy", postal_code="H2J 2L1"
    )
    [item] = await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    assert item.candidate_id == luc
    return louise, item


async def test_a_pair_a_reviewer_rejected_after_one_was_merged_into_someone_is_not_merged_by_a_later_fact(
    deps: IdentityDeps,
) -> None:
    louise, item = await louise_and_a_suggestion_of_l_roy_for_luc(deps)
    # While the suggestion waits, the shop's customer 207 gives the family address: folded into Louise.
    await resolve(
        deps,
        "e3",
        source="shopify-boutique",
        external_id="207",
        email="roy.famille@example.com",
        first_name="L",
        last_name="Roy",
    )
    holder = await active_person(deps.store, ORGANISATION, item.person_id)
    assert holder is not None
    assert holder.person_id == louise
    await decide_review(ORGANISATION, item.review_id, deps, accept=False, reviewer=MARIE, note="pas la même personne")

    await assert_a_fact_naming_both_keeps_them_two(deps, item, "e4")


async def test_a_pair_a_reviewer_rejected_after_both_were_merged_into_others_is_not_merged_by_a_later_fact(
    deps: IdentityDeps,
) -> None:
    newsletter = await resolve(deps, "e-1", source="mailchimp-infolettre", external_id="M-1")
    _, item = await louise_and_a_suggestion_of_l_roy_for_luc(deps)
    # While the suggestion waits, each of the two is folded into someone older.
    await resolve(deps, "e3", source="shopify-boutique", external_id="207", email="roy.famille@example.com")
    await resolve(deps, "e4", source="mailchimp-infolettre", external_id="M-1", email="luc.roy@example.com")
    candidate = await active_person(deps.store, ORGANISATION, item.candidate_id)
    provisional = await active_person(deps.store, ORGANISATION, item.person_id)
    assert candidate is not None
    assert provisional is not None
    assert candidate.person_id == newsletter
    assert provisional.person_id not in (item.person_id, newsletter)
    await decide_review(ORGANISATION, item.review_id, deps, accept=False, reviewer=MARIE)

    await assert_a_fact_naming_both_keeps_them_two(deps, item, "e5")
