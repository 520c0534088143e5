"""How facts become persons: links, merges, unmerges, households, reviews and erasures, on both stores."""

import hashlib
from dataclasses import replace
from typing import Any

import pytest

from services.identity import handlers as identity_handlers
from services.identity.domain.identifiers import Identifier, IdentifierType
from services.identity.domain.matching import MatchBands, blocking_keys
from services.identity.domain.merges import ReviewStatus
from services.identity.domain.persons import PersonStatus
from services.identity.handlers import (
    FactOutcome,
    IdentityActionError,
    IdentityDeps,
    active_person,
    decide_review,
    erase_on_request,
    resolve_fact,
    resolve_facts,
    unmerge,
    view_person,
)
from shared.events import Envelope, parse_data
from shared.events.audience import PARTERRE_PERSON_SOURCE
from shared.events.common import EventData
from shared.events.identity import (
    HouseholdJoinedV1,
    MatchMethod,
    PersonResolvedV1,
    PersonsMergedV1,
    PersonUnmergedV1,
)
from tests.integration.identity.conftest import (
    ORGANISATION,
    RESOLVED,
    details_fact,
    erasure_fact,
    everything_stored,
    last_resolution,
    resolve,
)

ELISE = {"first_name": "Élise", "last_name": "Gagnon"}
HOUSEHOLD_JOINED = "parterre.person.household_joined.v1"


def resolved(outcome: FactOutcome) -> PersonResolvedV1:
    data = parse_data(last_resolution(outcome.outputs))
    assert isinstance(data, PersonResolvedV1)
    return data


async def test_a_first_fact_creates_a_person_and_a_second_with_the_same_email_in_other_case_joins_it(
    deps: IdentityDeps,
) -> None:
    first = await resolve(deps, "e1", external_id="C-1", email="elise.gagnon@example.com", **ELISE)
    second = await resolve(
        deps, "e2", source="mailchimp-principal", email="Elise.Gagnon@Example.COM", first_name="Elise"
    )
    assert first.match.method is MatchMethod.NEW
    assert second.person_id == first.person_id
    assert second.match.method is MatchMethod.EMAIL
    assert second.match.matched_identifiers == ["email"]


async def test_a_redelivered_fact_publishes_the_same_events_and_creates_nobody_new(deps: IdentityDeps) -> None:
    fact = details_fact("e1", external_id="C-1", email="elise@example.com", **ELISE)
    first = await resolve_fact(fact, deps)
    again = await resolve_fact(fact, deps)
    assert [envelope.to_wire() for envelope in again.outputs] == [envelope.to_wire() for envelope in first.outputs]
    other = await resolve(deps, "e2", email="elise@example.com")
    assert other.person_id == resolved(first).person_id


async def test_a_fact_naming_two_known_persons_merges_them_into_the_older_with_its_evidence(
    deps: IdentityDeps,
) -> None:
    box_office = await resolve(deps, "e1", external_id="C-1", **ELISE)
    shop = await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com", **ELISE)
    assert shop.person_id != box_office.person_id
    outcome = await resolve_fact(details_fact("e3", external_id="C-1", email="elise@example.com", **ELISE), deps)
    merged = parse_data(outcome.outputs[0])
    assert isinstance(merged, PersonsMergedV1)
    assert merged.survivor_person_id == box_office.person_id
    assert merged.merged_person_ids == [shop.person_id]
    assert {evidence.identifier_type for evidence in merged.evidence} == {"email", "external_id:billetterie-principale"}
    assert all(evidence.value is None and evidence.value_hash for evidence in merged.evidence)
    assert resolved(outcome).person_id == box_office.person_id
    later = await resolve(deps, "e4", source="shopify-boutique", external_id="207")
    assert later.person_id == box_office.person_id
    view = await view_person(ORGANISATION, box_office.person_id, deps.store)
    assert view is not None
    assert [merge.merged_ids for merge in view.merges] == [[shop.person_id]]
    assert "elise@example.com" in {identifier.value for identifier in view.person.identifiers}


async def test_a_merge_is_told_from_the_record_it_stored_and_a_redelivery_reading_it_back_tells_the_same(
    deps: IdentityDeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    await resolve(deps, "e1", external_id="C-1", **ELISE)
    await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com", **ELISE)
    fact = details_fact("e3", external_id="C-1", email="elise@example.com", **ELISE)
    read_merge = deps.store.merge
    reads: list[str] = []

    async def counted(organisation_id: str, merge_id: str) -> Any:
        reads.append(merge_id)
        return await read_merge(organisation_id, merge_id)

    monkeypatch.setattr(deps.store, "merge", counted)

    first = await resolve_fact(fact, deps)
    # Once, to tell a merge made before (a redelivery's) from a new one; its event is told from the merge in hand.
    assert len(reads) == 1
    again = await resolve_fact(fact, deps)

    assert isinstance(parse_data(first.outputs[0]), PersonsMergedV1)
    assert [envelope.to_wire() for envelope in again.outputs] == [envelope.to_wire() for envelope in first.outputs]
    assert reads == [reads[0], reads[0]]


async def test_an_unmerge_restores_the_merged_person_whose_identifiers_find_it_again(deps: IdentityDeps) -> None:
    box_office = await resolve(deps, "e1", external_id="C-1", **ELISE)
    shop = await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com", **ELISE)
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com", **ELISE)

    event = await unmerge(ORGANISATION, box_office.person_id, deps, requested_by="reviewer:marie")
    data = parse_data(event)
    assert isinstance(data, PersonUnmergedV1)
    assert data.restored_person_ids == [shop.person_id]
    restored = await active_person(deps.store, ORGANISATION, shop.person_id)
    assert restored is not None
    assert restored.status is PersonStatus.ACTIVE
    survivor = await deps.store.person(ORGANISATION, box_office.person_id)
    assert survivor is not None
    assert not {identifier.value for identifier in survivor.identifiers} & {"207", "elise@example.com"}
    assert (await resolve(deps, "e5", source="shopify-boutique", external_id="207")).person_id == shop.person_id
    assert (await resolve(deps, "e6", email="elise@example.com")).person_id == shop.person_id
    with pytest.raises(IdentityActionError) as nothing_left:
        await unmerge(ORGANISATION, box_office.person_id, deps, requested_by="reviewer:marie")
    assert nothing_left.value.code == "nothing_to_unmerge"


async def test_a_fact_resolved_to_a_survivor_tells_whose_history_it_is_as_an_unmerge_decides_and_again_redelivered(
    deps: IdentityDeps,
) -> None:
    anne = (await resolve(deps, "e1", external_id="C-1", email="anne@example.com", **ELISE)).person_id
    bea = (await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="bea@example.com")).person_id
    # Béa's shop id and Anne's email merge Béa into Anne; the shop id is the stronger, so the fact is Béa's.
    linking = details_fact("e3", source="shopify-boutique", external_id="207", email="anne@example.com")
    first = await resolve_fact(linking, deps)
    [later] = await resolve_facts(
        [details_fact("e4", source="shopify-boutique", external_id="207", street="12 rue Rachel")], ["207"], deps
    )
    assert later is not None
    annes = await resolve(deps, "e5", external_id="C-1", email="bea@example.com")

    # The merging fact and the later one naming her shop id are told as hers; the third, naming Anne's id, is Anne's.
    assert [(fact.person_id, fact.history_of) for fact in (resolved(first), resolved(later), annes)] == [
        (anne, bea),
        (anne, bea),
        (anne, None),
    ]
    again = await resolve_fact(linking, deps)
    assert [envelope.to_wire() for envelope in again.outputs] == [envelope.to_wire() for envelope in first.outputs]
    # The unmerge gives Béa the records of the two facts naming her shop id, and leaves Anne the third.
    await unmerge(ORGANISATION, anne, deps, requested_by="reviewer:marie")
    restored, survivor = await deps.store.person(ORGANISATION, bea), await deps.store.person(ORGANISATION, anne)
    assert restored is not None
    assert survivor is not None
    assert {(record.external_id, record.email, record.street_name) for record in restored.records} >= {
        ("207", "anne@example.com", None),
        ("207", None, "rachel rue"),
    }
    assert ("C-1", "bea@example.com") in {(record.external_id, record.email) for record in survivor.records}


async def test_an_unmerged_pair_stays_two_when_the_next_fact_names_both_and_each_remembers_the_other(
    deps: IdentityDeps,
) -> None:
    box_office = await resolve(deps, "e1", external_id="C-1", **ELISE)
    shop = await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com", **ELISE)
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com", **ELISE)
    await unmerge(ORGANISATION, box_office.person_id, deps, requested_by="reviewer:marie")

    outcome = await resolve_fact(details_fact("e4", external_id="C-1", email="elise@example.com", **ELISE), deps)

    # Two persons told apart sharing an email: a household, never a merge.
    told: list[type[EventData]] = [PersonResolvedV1, HouseholdJoinedV1, HouseholdJoinedV1]
    assert [type(parse_data(output)) for output in outcome.outputs] == told
    assert resolved(outcome).person_id == box_office.person_id
    for person_id in (box_office.person_id, shop.person_id):
        person = await deps.store.person(ORGANISATION, person_id)
        assert person is not None
        assert person.status is PersonStatus.ACTIVE
    survivor = await deps.store.person(ORGANISATION, box_office.person_id)
    restored = await deps.store.person(ORGANISATION, shop.person_id)
    assert survivor is not None
    assert restored is not None
    assert (survivor.kept_apart_from, restored.kept_apart_from) == (
        frozenset({shop.person_id}),
        frozenset({box_office.person_id}),
    )
    assert (await resolve(deps, "e5", email="elise@example.com")).person_id == shop.person_id


async def outputs_of(deps: IdentityDeps, event_id: str, **person: Any) -> list[str]:
    outcome = await resolve_fact(details_fact(event_id, **person), deps)
    return [type(parse_data(output)).__name__ for output in outcome.outputs]


async def elise_three_times(deps: IdentityDeps) -> tuple[str, str, str]:
    """Élise known to the newsletter (first), the box office and the shop, each apart."""
    newsletter = await resolve(deps, "n1", source="newsletter", external_id="N-9", **ELISE)
    box_office = await resolve(deps, "e1", external_id="C-1", **ELISE)
    shop = await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com", **ELISE)
    return newsletter.person_id, box_office.person_id, shop.person_id


async def test_a_fact_resolved_while_an_unmerge_is_under_way_never_merges_the_pair_again(deps: IdentityDeps) -> None:
    _, box_office, shop = await elise_three_times(deps)
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com", **ELISE)
    store = deps.store
    meanwhile: list[list[str]] = []
    set_status = store.set_status

    async def then_a_fact_naming_both(organisation_id: str, person_id: str, **change: Any) -> bool:
        # Another instance resolves the next fact naming both at each step of the unmerge.
        changed = await set_status(organisation_id, person_id, **change)
        meanwhile.append(await outputs_of(deps, f"m-{len(meanwhile)}", external_id="C-1", email="elise@example.com"))
        return changed

    store.set_status = then_a_fact_naming_both  # type: ignore[method-assign]
    await unmerge(ORGANISATION, box_office, deps, requested_by="reviewer:marie")
    store.set_status = set_status  # type: ignore[method-assign]

    assert meanwhile == [["PersonResolvedV1", "HouseholdJoinedV1", "HouseholdJoinedV1"]]
    restored = await store.person(ORGANISATION, shop)
    assert restored is not None
    assert restored.status is PersonStatus.ACTIVE


async def test_a_pair_split_inside_a_survivor_merged_since_stays_apart_from_whom_it_was_merged_into(
    deps: IdentityDeps,
) -> None:
    newsletter, box_office, shop = await elise_three_times(deps)
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com", **ELISE)
    await resolve(deps, "n2", source="newsletter", external_id="N-9", email="elise.g@example.org", **ELISE)
    await resolve(deps, "e4", external_id="C-1", email="elise.g@example.org", **ELISE)
    folded = await deps.store.person(ORGANISATION, box_office)
    assert folded is not None
    assert folded.merged_into == newsletter, "the scenario needs the box office's person merged into the newsletter's"

    await unmerge(ORGANISATION, shop, deps, requested_by="reviewer:marie")

    assert await outputs_of(deps, "e5", external_id="C-1", email="elise@example.com", **ELISE) == [
        "PersonResolvedV1",
        "HouseholdJoinedV1",
        "HouseholdJoinedV1",
    ]


async def test_a_pair_split_inside_a_survivor_merged_since_takes_the_restored_identifiers_from_whom_it_was_merged_into(
    deps: IdentityDeps,
) -> None:
    newsletter, box_office, shop = await elise_three_times(deps)
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com", **ELISE)
    await resolve(deps, "e4", source="newsletter", external_id="N-9", phone="+15145550111", **ELISE)
    await resolve(deps, "e5", external_id="C-1", phone="+15145550111", **ELISE)
    holder = await deps.store.person(ORGANISATION, newsletter)
    folded = await deps.store.person(ORGANISATION, box_office)
    assert holder is not None
    assert folded is not None
    assert folded.merged_into == newsletter, "the scenario needs the box office's person merged into the newsletter's"
    email = Identifier(IdentifierType.EMAIL, "elise@example.com")
    assert email in holder.identifiers

    await unmerge(ORGANISATION, shop, deps, requested_by="reviewer:marie")

    restored = await deps.store.person(ORGANISATION, shop)
    holder = await deps.store.person(ORGANISATION, newsletter)
    assert restored is not None
    assert holder is not None
    assert email in restored.identifiers
    assert not holder.identifiers & restored.identifiers
    assert not set(holder.records) & set(restored.records)
    assert Identifier(IdentifierType.EXTERNAL_ID, "C-1", "billetterie-principale") in holder.identifiers
    view = await view_person(ORGANISATION, newsletter, deps.store)
    assert view is not None
    assert email not in view.person.identifiers


async def test_whom_a_person_merged_in_was_kept_apart_from_is_forgotten_when_that_merge_is_undone(
    deps: IdentityDeps,
) -> None:
    newsletter, box_office, shop = await elise_three_times(deps)
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com", **ELISE)
    await unmerge(ORGANISATION, box_office, deps, requested_by="reviewer:marie")
    # The shop's person, kept apart from the box office's, is merged into the newsletter's, then taken out again.
    await resolve(deps, "n2", source="newsletter", external_id="N-9", email="elise@example.com", **ELISE)
    await unmerge(ORGANISATION, newsletter, deps, requested_by="reviewer:marie")
    kept = await deps.store.person(ORGANISATION, newsletter)
    assert kept is not None
    assert kept.kept_apart_from == frozenset({shop})

    # Nobody split the newsletter's person from the box office's: a fact naming both merges them.
    outputs = await outputs_of(deps, "e6", source="newsletter", external_id="N-9", phone="+15145550111", **ELISE)
    assert outputs == ["PersonResolvedV1"]
    merging = await outputs_of(deps, "e7", external_id="C-1", phone="+15145550111", email="e7@example.com", **ELISE)
    assert merging[0] == "PersonsMergedV1"


async def test_a_fact_redelivered_after_its_merge_was_undone_leaves_it_undone(deps: IdentityDeps) -> None:
    _, box_office, shop = await elise_three_times(deps)
    store = deps.store
    mark_applied, mark_all_applied = store.mark_applied, store.mark_all_applied

    async def crash(*_arguments: Any, **_keywords: Any) -> None:
        raise ConnectionError("the process dies after the merge, before marking the fact applied")

    store.mark_applied = crash  # type: ignore[method-assign]
    store.mark_all_applied = crash  # type: ignore[method-assign]
    fact = details_fact("e3", external_id="C-1", email="elise@example.com", **ELISE)
    with pytest.raises(ConnectionError):
        await resolve_fact(fact, deps)
    store.mark_applied, store.mark_all_applied = mark_applied, mark_all_applied  # type: ignore[method-assign]
    await unmerge(ORGANISATION, box_office, deps, requested_by="reviewer:marie")

    again = await resolve_fact(fact, deps)

    assert resolved(again).person_id == box_office
    restored = await store.person(ORGANISATION, shop)
    assert restored is not None
    assert restored.status is PersonStatus.ACTIVE


async def test_a_shared_family_email_with_another_first_name_makes_a_household_not_a_merge(
    deps: IdentityDeps,
) -> None:
    marie = await resolve(deps, "e1", email="famille.roy@example.com", first_name="Marie", last_name="Roy")
    jean = await resolve(deps, "e2", email="famille.roy@example.com", first_name="Jean", last_name="Roy")
    assert jean.person_id != marie.person_id
    assert jean.match.method is MatchMethod.NEW
    again = await resolve(deps, "e3", email="famille.roy@example.com", first_name="Jean", last_name="Roy")
    assert again.person_id == jean.person_id
    view = await view_person(ORGANISATION, jean.person_id, deps.store)
    assert view is not None
    assert view.household == (marie.person_id,)
    still_marie = await resolve(deps, "e4", email="famille.roy@example.com", first_name="Marie")
    assert still_marie.person_id == marie.person_id


async def test_a_household_is_told_for_each_member_keyed_by_them_and_told_the_same_again_on_redelivery(
    deps: IdentityDeps,
) -> None:
    first = await resolve_fact(details_fact("e1", email="famille.roy@example.com", first_name="Marie"), deps)
    assert [output.type for output in first.outputs] == [RESOLVED]
    marie = resolved(first)
    fact = details_fact("e2", email="famille.roy@example.com", first_name="Jean", last_name="Roy")

    outcome = await resolve_fact(fact, deps)

    jean = resolved(outcome)
    assert [output.type for output in outcome.outputs] == [RESOLVED, HOUSEHOLD_JOINED, HOUSEHOLD_JOINED]
    joined = [parse_data(output) for output in outcome.outputs[1:]]
    assert all(isinstance(one, HouseholdJoinedV1) for one in joined)
    told = {(one.person_id, one.joined_with, one.household_id) for one in joined if isinstance(one, HouseholdJoinedV1)}
    stored = await deps.store.person(ORGANISATION, jean.person_id)
    assert stored is not None
    assert stored.household_id is not None
    assert told == {
        (jean.person_id, marie.person_id, stored.household_id),
        (marie.person_id, jean.person_id, stored.household_id),
    }
    # Keyed by the member it is about: ordered with that person's facts.
    assert [output.person_id for output in outcome.outputs[1:]] == [jean.person_id, marie.person_id]
    again = await resolve_fact(fact, deps)
    assert [output.to_wire() for output in again.outputs] == [output.to_wire() for output in outcome.outputs]


def households_told(outcome: FactOutcome) -> set[tuple[str, str]]:
    return {
        (data.person_id, data.household_id)
        for data in map(parse_data, outcome.outputs)
        if isinstance(data, HouseholdJoinedV1)
    }


async def test_a_household_is_told_when_it_changes_and_a_redelivery_tells_the_one_decided_then(
    deps: IdentityDeps,
) -> None:
    marie = await resolve(deps, "e1", email="famille.roy@example.com", first_name="Marie", last_name="Roy")
    paul = await resolve(deps, "p1", phone="+1 514 555 0123", first_name="Paul", last_name="Tremblay")
    jean_fact = details_fact("e2", email="famille.roy@example.com", first_name="Jean", last_name="Roy")
    first = await resolve_fact(jean_fact, deps)
    jean = resolved(first)
    [roy] = {household_id for _, household_id in households_told(first)}

    # Jean again, already in the household: nothing new to tell, nothing written.
    again_jean = await resolve_fact(
        details_fact("e3", email="famille.roy@example.com", first_name="Jean", last_name="Roy"), deps
    )
    assert resolved(again_jean).person_id == jean.person_id
    assert [output.type for output in again_jean.outputs] == [RESOLVED]
    # Marie found sharing Paul's phone: she moves to the household Paul founds; Jean stays where he was.
    moved = await resolve_fact(
        details_fact("e4", email="famille.roy@example.com", phone="+1 514 555 0123", first_name="Marie"), deps
    )
    tremblay = {household_id for _, household_id in households_told(moved)}
    assert {person_id for person_id, _ in households_told(moved)} == {marie.person_id, paul.person_id}
    assert tremblay != {roy}
    stored_jean = await deps.store.person(ORGANISATION, jean.person_id)
    assert stored_jean is not None
    assert stored_jean.household_id == roy
    # Each is shown with those in their household now: Marie has left Jean's.
    jean_view, marie_view = [
        await view_person(ORGANISATION, who, deps.store) for who in (jean.person_id, marie.person_id)
    ]
    assert jean_view is not None
    assert marie_view is not None
    assert (jean_view.household, marie_view.household) == ((), (paul.person_id,))

    redelivered = await resolve_fact(jean_fact, deps)

    assert [output.to_wire() for output in redelivered.outputs] == [output.to_wire() for output in first.outputs]
    assert households_told(redelivered) == {(jean.person_id, roy), (marie.person_id, roy)}


async def test_a_merge_names_the_household_it_moves_the_survivor_to(deps: IdentityDeps) -> None:
    box_office = await resolve(deps, "j0", external_id="C-7", first_name="Jean", last_name="Roy")
    await resolve(deps, "e1", phone="+1 514 555 0177", first_name="Marie", last_name="Roy")
    # The shop's Jean shares Marie's home phone: a household; his own email makes him one with the box office's.
    shop = await resolve(
        deps, "e2", source="shopify-boutique", email="jean.roy@example.com", phone="+1 514 555 0177", first_name="Jean"
    )
    assert shop.person_id != box_office.person_id

    outcome = await resolve_fact(
        details_fact("e3", external_id="C-7", email="jean.roy@example.com", first_name="Jean", last_name="Roy"), deps
    )

    merged = parse_data(outcome.outputs[0])
    assert isinstance(merged, PersonsMergedV1)
    assert merged.merged_person_ids == [shop.person_id]
    survivor = await deps.store.person(ORGANISATION, box_office.person_id)
    assert survivor is not None
    assert survivor.household_id is not None
    assert merged.household_id == survivor.household_id


class DiedBeforeApplyingError(Exception):
    """The instance died once the decision was journaled, before applying it."""


async def journaled_only(deps: IdentityDeps, fact: Envelope, monkeypatch: pytest.MonkeyPatch) -> None:
    async def die(*_args: Any, **_kwargs: Any) -> None:
        raise DiedBeforeApplyingError

    with monkeypatch.context() as patched:
        patched.setattr(identity_handlers, "_apply", die)
        with pytest.raises(DiedBeforeApplyingError):
            await resolve_fact(fact, deps)


async def test_a_household_decided_before_another_and_applied_after_it_never_moves_the_relative_back(
    deps: IdentityDeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    marie = await resolve(deps, "e1", email="famille.roy@example.com", first_name="Marie", last_name="Roy")
    paul = await resolve(deps, "p1", phone="+1 514 555 0123", first_name="Paul", last_name="Tremblay")
    jean_fact = details_fact("e2", email="famille.roy@example.com", first_name="Jean", last_name="Roy")
    await journaled_only(deps, jean_fact, monkeypatch)
    # Meanwhile another instance finds Marie sharing Paul's phone: she joins his household.
    moved = await resolve_fact(
        details_fact("e4", email="famille.roy@example.com", phone="+1 514 555 0123", first_name="Marie"), deps
    )
    [tremblay] = {household_id for person_id, household_id in households_told(moved) if person_id == paul.person_id}

    # Jean's fact delivered again: its journaled decision is applied now.
    late = await resolve_fact(jean_fact, deps)

    jean = resolved(late)
    [roy] = {household_id for _, household_id in households_told(late)}
    assert roy != tremblay
    stored_marie = await deps.store.person(ORGANISATION, marie.person_id)
    stored_jean = await deps.store.person(ORGANISATION, jean.person_id)
    assert stored_marie is not None
    assert stored_jean is not None
    assert (stored_marie.household_id, stored_jean.household_id) == (tremblay, roy)
    # What profile is told agrees: the decision about Marie it receives last is the older one, which it ignores.
    told_at = {
        (data.person_id, data.household_id): data.joined_at
        for outcome in (moved, late)
        for data in map(parse_data, outcome.outputs)
        if isinstance(data, HouseholdJoinedV1)
    }
    assert told_at[(marie.person_id, roy)] < told_at[(marie.person_id, tremblay)]


async def test_a_household_decided_with_someone_erased_before_it_was_applied_is_neither_joined_nor_told(
    deps: IdentityDeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    marie = await resolve(deps, "e1", email="famille.roy@example.com", first_name="Marie", last_name="Roy")
    jean_fact = details_fact("e2", email="famille.roy@example.com", first_name="Jean", last_name="Roy")
    await journaled_only(deps, jean_fact, monkeypatch)
    await resolve_fact(
        erasure_fact("x1", do_not_readd=False, email="famille.roy@example.com", first_name="Marie"), deps
    )

    late = await resolve_fact(jean_fact, deps)

    assert [output.type for output in late.outputs] == [RESOLVED]
    assert marie.person_id not in (await everything_stored(deps.store)).get("households", "")


async def test_a_household_joined_is_told_again_on_redelivery_after_the_relative_was_erased(
    deps: IdentityDeps,
) -> None:
    marie = await resolve(deps, "e1", email="famille.roy@example.com", first_name="Marie", last_name="Roy")
    jean_fact = details_fact("e2", email="famille.roy@example.com", first_name="Jean", last_name="Roy")
    first = await resolve_fact(jean_fact, deps)
    jean = resolved(first)
    [roy] = {household_id for _, household_id in households_told(first)}
    await erase_on_request(ORGANISATION, marie.person_id, deps, do_not_readd=False, requested_by="staff:marie")

    # Delivered again (its events were lost with the process that applied it): Jean is in the household still.
    again = await resolve_fact(jean_fact, deps)

    assert households_told(again) == {(jean.person_id, roy)}


async def test_an_erased_person_leaves_their_household_and_the_others_no_longer_list_them(deps: IdentityDeps) -> None:
    marie = await resolve(deps, "e1", email="famille.roy@example.com", first_name="Marie", last_name="Roy")
    jean = await resolve(deps, "e2", email="famille.roy@example.com", first_name="Jean", last_name="Roy")
    luc = await resolve(deps, "e3", email="famille.roy@example.com", first_name="Luc", last_name="Roy")
    before = await view_person(ORGANISATION, jean.person_id, deps.store)
    assert before is not None
    assert marie.person_id in before.household

    await erase_on_request(ORGANISATION, marie.person_id, deps, do_not_readd=False, requested_by="staff:marie")

    after = await view_person(ORGANISATION, jean.person_id, deps.store)
    assert after is not None
    assert after.household == (luc.person_id,)
    assert marie.person_id not in (await everything_stored(deps.store))["households"]


async def test_a_blocked_shared_address_never_links_two_strangers(deps: IdentityDeps) -> None:
    first = await resolve(deps, "e1", email="billetterie@theatre.example", first_name="Anne", last_name="Roy")
    second = await resolve(deps, "e2", email="billetterie@theatre.example", first_name="Luc", last_name="Côté")
    assert first.person_id != second.person_id
    assert second.match.method is MatchMethod.NEW


async def test_a_phone_alone_links_a_record_but_never_merges_two_known_persons(deps: IdentityDeps) -> None:
    by_email = await resolve(deps, "e1", email="paul@example.com", phone="514 555 0199", first_name="Paul")
    by_id = await resolve(deps, "e2", external_id="C-9", first_name="Paul", last_name="Roy")
    linked = await resolve(deps, "e3", source="dons", phone="(514) 555-0199", first_name="Paul")
    assert linked.person_id == by_email.person_id
    assert linked.match.method is MatchMethod.PHONE
    both = await resolve(deps, "e4", external_id="C-9", phone="+1 514 555 0199", first_name="Paul")
    assert both.person_id == by_id.person_id
    assert await active_person(deps.store, ORGANISATION, by_email.person_id) is not None


async def test_a_fact_linked_by_its_shop_id_that_is_also_the_phone_owner_s_look_alike_merges_the_two(
    deps: IdentityDeps,
) -> None:
    frederic = {"first_name": "Frédéric", "last_name": "Loiselle"}
    box_office = await resolve(
        deps, "e1", external_id="C-2327", phone="(418) 825-8088", postal_code="G1M 4J7", **frederic
    )
    # Name and email only: too little to link to the box office's Frédéric Loiselle.
    shop = await resolve(
        deps, "e2", source="shopify-boutique", external_id="640016", email="loisellef@gmail.com", **frederic
    )
    assert shop.person_id != box_office.person_id

    outcome = await resolve_fact(
        details_fact(
            "e3",
            source="shopify-boutique",
            external_id="640016",
            phone="+14188258088",
            postal_code="G1M4J7",
            **frederic,
        ),
        deps,
    )

    merged = parse_data(outcome.outputs[0])
    assert isinstance(merged, PersonsMergedV1)
    assert (merged.survivor_person_id, merged.merged_person_ids) == (box_office.person_id, [shop.person_id])
    assert "probabilit" in merged.reason
    assert resolved(outcome).person_id == box_office.person_id
    assert (await resolve(deps, "e4", email="loisellef@gmail.com", first_name="Fred")).person_id == box_office.person_id


async def test_a_walk_up_buyer_with_name_postal_code_and_birth_date_joins_the_known_person(deps: IdentityDeps) -> None:
    known = await resolve(
        deps,
        "e1",
        email="helene.tremblay@example.com",
        first_name="Hélène",
        last_name="Tremblay",
        postal_code="H2J 2L1",
        birth_date="1962-05-04",
    )
    walk_up = await resolve(
        deps, "e2", first_name="Helene", last_name="TREMBLAY", postal_code="h2j2l1", birth_date="1962-05-04"
    )
    assert walk_up.person_id == known.person_id
    assert walk_up.match.method is MatchMethod.PROBABILISTIC
    assert walk_up.match.confidence >= 0.99
    namesake = await resolve(
        deps, "e3", first_name="Hélène", last_name="Tremblay", postal_code="G1R 4P5", birth_date="1990-11-23"
    )
    assert namesake.person_id != known.person_id


FREDERIC_WALK_UP = {"first_name": "Frédéric", "last_name": "Loiselle", "postal_code": "G1M 4J7"}


async def test_a_walk_up_joins_the_patron_it_matches_though_a_look_alike_of_theirs_awaits_review(
    deps: IdentityDeps,
) -> None:
    known = await resolve(deps, "e1", **FREDERIC_WALK_UP)
    # An initial alone cannot tell a household's members apart: a person pending review.
    initial = await resolve(deps, "e2", **(FREDERIC_WALK_UP | {"first_name": "F"}))
    assert initial.match.method is MatchMethod.REVIEW_PENDING

    walk_up = await resolve(deps, "e3", phone="(418) 825-8088", **FREDERIC_WALK_UP)

    assert walk_up.person_id == known.person_id
    assert walk_up.match.method is MatchMethod.PROBABILISTIC
    assert [item.person_id for item in await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)] == [
        initial.person_id
    ]


async def test_two_persons_left_apart_are_merged_when_a_record_matches_each_as_surely(deps: IdentityDeps) -> None:
    # Stricter bands than the shipped ones left the two apart, as an organisation may have run before.
    matching = deps.rules.matching
    strict = replace(deps, rules=replace(deps.rules, matching=replace(matching, bands=MatchBands(0.99999, 0.8))))
    walk_up = await resolve(strict, "e1", **FREDERIC_WALK_UP)
    donor = await resolve(strict, "e2", birth_date="1975-01-23", **FREDERIC_WALK_UP)
    assert donor.person_id != walk_up.person_id

    outcome = await resolve_fact(details_fact("e3", phone="(418) 825-8088", **FREDERIC_WALK_UP), deps)

    merged = parse_data(outcome.outputs[0])
    assert isinstance(merged, PersonsMergedV1)
    assert (merged.survivor_person_id, merged.merged_person_ids) == (walk_up.person_id, [donor.person_id])
    assert merged.evidence == []
    assert "comparaison des fiches" in merged.reason
    assert "record comparison" in merged.reason
    assert resolved(outcome).person_id == walk_up.person_id
    survivor = await active_person(deps.store, ORGANISATION, donor.person_id)
    assert survivor is not None
    assert survivor.person_id == walk_up.person_id


async def test_a_likely_duplicate_waits_for_a_reviewer_who_can_merge_it(deps: IdentityDeps) -> None:
    known = await resolve(
        deps, "e1", email="luc.roy@example.com", first_name="Luc", last_name="Roy", postal_code="H2J 2L1"
    )
    maybe = await resolve(deps, "e2", first_name="L", last_name="Roy", postal_code="H2J 2L1")
    assert maybe.match.method is MatchMethod.REVIEW_PENDING
    assert maybe.person_id != known.person_id
    [item] = await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    assert (item.person_id, item.candidate_id) == (maybe.person_id, known.person_id)
    outputs = await decide_review(ORGANISATION, item.review_id, deps, accept=True, reviewer="reviewer:marie")
    merged = parse_data(outputs[0])
    assert isinstance(merged, PersonsMergedV1)
    assert (merged.survivor_person_id, merged.merged_person_ids) == (known.person_id, [maybe.person_id])
    assert merged.decided_by.value == "reviewer"
    assert await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10) == []
    with pytest.raises(IdentityActionError):
        await decide_review(ORGANISATION, item.review_id, deps, accept=False, reviewer="reviewer:marie")


async def test_an_accept_given_again_after_its_merge_was_undone_leaves_it_undone_though_the_person_had_moved(
    deps: IdentityDeps,
) -> None:
    await resolve(deps, "n1", source="newsletter", external_id="N-9", email="lroy@example.org")
    known = await resolve(
        deps, "e1", email="luc.roy@example.com", first_name="Luc", last_name="Roy", postal_code="H2J 2L1"
    )
    await resolve(
        deps, "e2", source="shopify-boutique", external_id="207", first_name="L", last_name="Roy", postal_code="H2J 2L1"
    )
    [item] = await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    # Before anyone reviews it, the shop's person is folded into the newsletter's by the address it gives.
    await resolve(deps, "e3", source="shopify-boutique", external_id="207", email="lroy@example.org")
    first = await decide_review(ORGANISATION, item.review_id, deps, accept=True, reviewer="reviewer:marie")
    second = await decide_review(ORGANISATION, item.review_id, deps, accept=True, reviewer="reviewer:paul")
    [merge] = await deps.store.merges_caused_by(ORGANISATION, item.review_id)
    assert [envelope.to_wire() for envelope in second] == [envelope.to_wire() for envelope in first]
    assert len(first) == 1
    await unmerge(ORGANISATION, merge.survivor_id, deps, requested_by="reviewer:paul", merge_id=merge.merge_id)

    again = await decide_review(ORGANISATION, item.review_id, deps, accept=True, reviewer="reviewer:marie")

    assert [envelope.to_wire() for envelope in again] == [envelope.to_wire() for envelope in first]
    luc = await active_person(deps.store, ORGANISATION, known.person_id)
    shop = await active_person(deps.store, ORGANISATION, item.person_id)
    assert luc is not None
    assert shop is not None
    assert luc.person_id != shop.person_id


async def test_a_rejected_suggestion_keeps_both_persons(deps: IdentityDeps) -> None:
    known = await resolve(
        deps, "e1", email="luc.roy@example.com", first_name="Luc", last_name="Roy", postal_code="H2J 2L1"
    )
    maybe = await resolve(deps, "e2", first_name="L", last_name="Roy", postal_code="H2J 2L1")
    [item] = await deps.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    assert await decide_review(ORGANISATION, item.review_id, deps, accept=False, reviewer="reviewer:marie") == ()
    assert await active_person(deps.store, ORGANISATION, maybe.person_id) is not None
    assert await active_person(deps.store, ORGANISATION, known.person_id) is not None
    [rejected] = await deps.store.reviews(ORGANISATION, ReviewStatus.REJECTED, 10)
    assert rejected.decided_by == "reviewer:marie"


async def test_an_erased_person_loses_every_identifier_and_comes_back_only_as_a_new_person(deps: IdentityDeps) -> None:
    person = await resolve(deps, "e1", email="john@example.com", external_id="C-5", first_name="John")
    await erase_on_request(ORGANISATION, person.person_id, deps, do_not_readd=False, requested_by="staff:marie")
    erased = await deps.store.person(ORGANISATION, person.person_id)
    assert erased is not None
    assert erased.status is PersonStatus.ERASED
    assert erased.identifiers == frozenset()
    assert erased.records == ()
    back = await resolve(deps, "e2", email="john@example.com", first_name="John")
    assert back.person_id != person.person_id
    assert back.match.method is MatchMethod.NEW


async def test_an_identifier_claimed_again_for_a_person_while_they_were_erased_is_freed_for_the_next_fact(
    deps: IdentityDeps,
) -> None:
    person = await resolve(deps, "e1", email="john@example.com", external_id="C-5", first_name="John")
    await erase_on_request(ORGANISATION, person.person_id, deps, do_not_readd=False, requested_by="staff:marie")
    # A fact decided while the erasure released John's identifiers one by one linked through one still held and
    # claimed again one already released: the claim outlives the erasure.
    shop_id = Identifier(IdentifierType.EXTERNAL_ID, "C-5", "billetterie-principale")
    assert await deps.store.claim(ORGANISATION, shop_id, person.person_id) == person.person_id

    back = await resolve(deps, "e2", external_id="C-5", first_name="John")

    assert back.person_id != person.person_id
    assert back.match.method is MatchMethod.NEW
    assert await deps.store.owner_of(ORGANISATION, shop_id) == back.person_id


async def test_an_erasure_asking_not_to_be_readded_suppresses_later_facts(deps: IdentityDeps) -> None:
    person = await resolve(deps, "e1", source="shopify-boutique", external_id="191167", email="john@example.com")
    outcome = await resolve_fact(
        erasure_fact("e2", do_not_readd=True, external_id="191167", email="john@example.com"), deps
    )
    assert outcome.outcome == "erased"
    assert [resolved(outcome).person_id] == [person.person_id]
    later = await resolve_fact(details_fact("e3", source="mailchimp-principal", email="JOHN@example.com"), deps)
    assert (later.outputs, later.outcome) == ((), "suppressed")
    replay = await resolve_fact(
        erasure_fact("e2", do_not_readd=True, external_id="191167", email="john@example.com"), deps
    )
    assert [envelope.id for envelope in replay.outputs] == [envelope.id for envelope in outcome.outputs]
    # The suppressed fact stops here: noted filtered, once however often it is delivered.
    assert later.filtered == "suppressed"
    assert (
        await resolve_fact(details_fact("e3", source="mailchimp-principal", email="JOHN@example.com"), deps)
    ).filtered is None
    # The erasure goes on to profile, which accounts for it.
    assert outcome.filtered is None


async def test_a_batch_after_an_erasure_asking_not_to_be_readded_leaves_the_erased_person_out(
    deps: IdentityDeps,
) -> None:
    other_organisation = f"{ORGANISATION}-other"
    assert not await deps.store.suppressions_exist(ORGANISATION)
    await resolve(deps, "e1", source="shopify-boutique", external_id="191167", email="john@example.com")
    await resolve_fact(erasure_fact("e2", do_not_readd=True, external_id="191167", email="john@example.com"), deps)
    assert await deps.store.suppressions_exist(ORGANISATION)
    assert not await deps.store.suppressions_exist(other_organisation)
    batch = [
        details_fact("e3", email="alice@example.com"),
        details_fact("e4", source="mailchimp-principal", email="JOHN@example.com"),
        details_fact("e5", email="bob@example.com"),
    ]
    outcomes = await resolve_facts(batch, ["alice", "john", "bob"], deps)
    assert [outcome is None for outcome in outcomes] == [False, True, False]
    assert (await resolve_fact(batch[1], deps)).outcome == "suppressed"


async def test_an_upstream_erasure_naming_nobody_known_is_noted_filtered_once(deps: IdentityDeps) -> None:
    request = erasure_fact("e1", do_not_readd=False, external_id="404", email="nobody@example.com")

    first = await resolve_fact(request, deps)
    again = await resolve_fact(request, deps)

    assert (first.outputs, first.outcome, first.filtered) == ((), "erasure_unknown_person", "erasure_unknown_person")
    assert (again.outputs, again.filtered) == ((), None)


async def test_an_erasure_naming_a_parterre_person_id_erases_that_person_and_redelivered_changes_nothing(
    deps: IdentityDeps,
) -> None:
    person = await resolve(deps, "e1", source="shopify-boutique", external_id="191167", email="john@example.com")
    request = erasure_fact("e2", do_not_readd=False, source=PARTERRE_PERSON_SOURCE, external_id=person.person_id)

    outcome = await resolve_fact(request, deps)
    replay = await resolve_fact(request, deps)
    unknown = await resolve_fact(
        erasure_fact("e3", do_not_readd=False, source=PARTERRE_PERSON_SOURCE, external_id="per_nobody"), deps
    )

    assert outcome.outcome == "erased"
    assert [resolved(outcome).person_id] == [person.person_id]
    erased = await deps.store.person(ORGANISATION, person.person_id)
    assert erased is not None
    assert erased.status is PersonStatus.ERASED
    assert [envelope.id for envelope in replay.outputs] == [envelope.id for envelope in outcome.outputs]
    assert (unknown.outputs, unknown.outcome) == ((), "erasure_unknown_person")
    # Parterre's own request did not come through ingest: there is no upstream fact to account for.
    assert unknown.filtered is None
    back = await resolve(deps, "e4", email="john@example.com")
    assert back.person_id != person.person_id


HELENE = {
    "external_id": "HT-8841",
    "email": "helene.tremblay@videotron.ca",
    "phone": "514-555-0199",
    "first_name": "Hélène",
    "last_name": "Tremblay",
    "postal_code": "H2J 2L1",
    "birth_date": "1984-03-17",
}
# Her identifiers as the store would hold them, normalised.
HELENE_IDENTIFIERS = ("HT-8841", "helene.tremblay@videotron.ca", "+15145550199")
JEAN = {"first_name": "Jean", "last_name": "Roy"}


def _unsalted_digest(value: str) -> str:
    # Long enough to be a digest of the value, short enough to catch a digest cut short.
    return hashlib.sha256(value.encode()).hexdigest()[:12]


async def test_an_erasure_leaves_no_identifier_digest_or_block_listing_of_the_person_in_any_collection(
    deps: IdentityDeps,
) -> None:
    helene = await resolve(deps, "e1", **HELENE)
    # A neighbour shares her family name and postal code, so a block key of hers is his too.
    marc = await resolve(
        deps,
        "e2",
        external_id="MT-1207",
        email="marc.t@example.org",
        first_name="Marc",
        last_name="Tremblay",
        postal_code="H2J 2L1",
    )
    person = await deps.store.person(ORGANISATION, helene.person_id)
    neighbour = await deps.store.person(ORGANISATION, marc.person_id)
    assert person is not None
    assert neighbour is not None
    her_keys = {key for record in person.records for key in blocking_keys(record)}
    his_keys = {key for record in neighbour.records for key in blocking_keys(record)}
    assert her_keys & his_keys, "the scenario needs a block key they share"

    await erase_on_request(ORGANISATION, helene.person_id, deps, do_not_readd=True, requested_by="staff:marie")

    stored = await everything_stored(deps.store)
    everything = "\n".join(stored.values())
    # A block key is made of a name, a phone or a mailbox name. One only she was in stays on MongoDB, listing no one
    # (see `MongoIdentityStore._leave`), under its key hashed.
    assert [value for value in HELENE_IDENTIFIERS if value in everything] == []
    assert [key for key in sorted(her_keys - his_keys) if key in everything] == []
    assert [value for value in HELENE_IDENTIFIERS if _unsalted_digest(value) in everything] == []
    assert helene.person_id not in stored["blocks"]
    hers = await deps.store.block_members(ORGANISATION, sorted(her_keys - his_keys))
    assert all(members == [] for members in hers.values())
    shared = await deps.store.block_members(ORGANISATION, sorted(her_keys & his_keys))
    assert all(members == [marc.person_id] for members in shared.values())
    # Asking not to be added again still works, by the salted hashes alone.
    again = await resolve_fact(details_fact("e3", email="helene.tremblay@videotron.ca", first_name="Hélène"), deps)
    assert again.outcome == "suppressed"


async def test_an_erasure_keeps_a_merge_with_its_evidence_types_and_the_partner_s_own_digest(
    deps: IdentityDeps,
) -> None:
    shop = await resolve(deps, "j1", source="shopify-boutique", external_id="S1", email="jean.roy@example.com", **JEAN)
    box_office = await resolve(deps, "j2", external_id="X1", email="jroy@example.org", **JEAN)
    await resolve(deps, "j3", external_id="X1", email="jean.roy@example.com", **JEAN)
    await unmerge(ORGANISATION, shop.person_id, deps, requested_by="reviewer:marie")

    await erase_on_request(ORGANISATION, box_office.person_id, deps, do_not_readd=False, requested_by="staff:marie")

    everything = "\n".join((await everything_stored(deps.store)).values())
    assert [value for value in ("X1", "jroy@example.org") if _unsalted_digest(value) in everything] == []
    view = await view_person(ORGANISATION, shop.person_id, deps.store)
    assert view is not None
    assert {identifier.value for identifier in view.person.identifiers} == {"S1", "jean.roy@example.com"}
    [merge] = view.merges
    assert merge.merged_ids == [box_office.person_id]
    assert merge.undone_at is not None
    assert sorted(digest.kind for digest in merge.evidence) == ["email", "external_id:billetterie-principale"]
    [his] = [digest for digest in merge.evidence if not digest.is_erased]
    assert his.value_hash == hashlib.sha256(b"jean.roy@example.com").hexdigest()


async def test_a_person_keeps_at_most_the_policy_s_number_of_emails(deps: IdentityDeps) -> None:
    first = await resolve(deps, "e0", external_id="C-1", email="a0@example.com")
    for number in range(1, 8):
        await resolve(deps, f"e{number}", external_id="C-1", email=f"a{number}@example.com")
    person = await deps.store.person(ORGANISATION, first.person_id)
    assert person is not None
    assert sum(1 for identifier in person.identifiers if identifier.kind == "email") == 5
    stranger = await resolve(deps, "e9", email="a7@example.com", first_name="Zoé")
    assert stranger.person_id != first.person_id


async def test_a_changed_email_links_through_the_previous_address(deps: IdentityDeps) -> None:
    from shared.events import build_envelope
    from shared.events.audience import PersonDetailsUpdatedV1
    from shared.events.common import PersonRef
    from tests.integration.identity.conftest import START

    person = await resolve(deps, "e1", source="mailchimp-principal", email="elise@old.example", **ELISE)
    changed = build_envelope(
        PersonDetailsUpdatedV1(
            person=PersonRef(source="dons", email="elise@new.example", **ELISE),
            previous_email="elise@old.example",
            changed_fields=["email"],
        ),
        organisation_id=ORGANISATION,
        source=f"/orgs/{ORGANISATION}/sources/dons",
        id="e2",
        time=START,
    )
    assert resolved(await resolve_fact(changed, deps)).person_id == person.person_id
    assert (await resolve(deps, "e3", email="elise@new.example")).person_id == person.person_id


async def test_a_slip_of_one_letter_in_the_first_name_behind_an_email_is_the_same_person(deps: IdentityDeps) -> None:
    yvon = await resolve(deps, "e1", email="yvon.desilets@example.com", first_name="Vyon", last_name="Désilets")
    typed_right = await resolve(deps, "e2", email="yvon.desilets@example.com", first_name="Yvon")
    assert typed_right.person_id == yvon.person_id
    assert typed_right.match.method is MatchMethod.EMAIL


async def test_louis_and_louise_behind_one_email_stay_two_persons(deps: IdentityDeps) -> None:
    louis = await resolve(deps, "e1", email="famille.roy@example.com", first_name="Louis", last_name="Roy")
    louise = await resolve(deps, "e2", email="famille.roy@example.com", first_name="Louise", last_name="Roy")
    assert louise.person_id != louis.person_id
    view = await view_person(ORGANISATION, louise.person_id, deps.store)
    assert view is not None
    assert view.household == (louis.person_id,)


async def test_erasing_a_merged_person_erases_the_person_it_was_folded_into(deps: IdentityDeps) -> None:
    box_office = await resolve(deps, "e1", external_id="C-1", **ELISE)
    shop = await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com", **ELISE)
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com", **ELISE)

    await erase_on_request(ORGANISATION, shop.person_id, deps, do_not_readd=False, requested_by="staff:marie")

    survivor = await deps.store.person(ORGANISATION, box_office.person_id)
    assert survivor is not None
    assert survivor.status is PersonStatus.ERASED
    assert survivor.identifiers == frozenset()
    again = await resolve(deps, "e4", email="elise@example.com")
    assert again.person_id not in {box_office.person_id, shop.person_id}


async def _folded_elise(deps: IdentityDeps) -> tuple[str, str]:
    """Élise known to the box office and to the shop as two persons, then merged: (survivor, merged) ids."""
    box_office = await resolve(deps, "e1", external_id="C-1", **ELISE)
    shop = await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com", **ELISE)
    linked = await resolve(deps, "e3", external_id="C-1", email="elise@example.com", **ELISE)
    assert linked.person_id == box_office.person_id
    return box_office.person_id, shop.person_id


def _erased_persons(outcome: FactOutcome) -> list[str]:
    """Whom the outputs of an erasure tell profile to erase: one resolved erasure request each."""
    erased = []
    for envelope in outcome.outputs:
        data = parse_data(envelope)
        assert isinstance(data, PersonResolvedV1)
        assert data.original.type == "parterre.privacy.erasure_requested.v1"
        erased.append(data.person_id)
    return erased


async def test_an_erasure_by_parterre_id_tells_profile_of_every_person_folded_into_the_erased_one(
    deps: IdentityDeps,
) -> None:
    survivor, merged = await _folded_elise(deps)
    request = erasure_fact("e4", do_not_readd=False, source=PARTERRE_PERSON_SOURCE, external_id=survivor)

    outcome = await resolve_fact(request, deps)
    replay = await resolve_fact(request, deps)

    # Identity erased both: profile must hear of both, or the merged person's own profile outlives the erasure.
    assert _erased_persons(outcome) == [survivor, merged]
    assert [envelope.id for envelope in replay.outputs] == [envelope.id for envelope in outcome.outputs]


async def test_an_upstream_erasure_tells_profile_of_every_person_folded_into_the_one_it_names(
    deps: IdentityDeps,
) -> None:
    survivor, merged = await _folded_elise(deps)
    request = erasure_fact("e4", do_not_readd=False, email="elise@example.com")

    outcome = await resolve_fact(request, deps)
    replay = await resolve_fact(request, deps)

    assert _erased_persons(outcome) == [survivor, merged]
    assert [envelope.id for envelope in replay.outputs] == [envelope.id for envelope in outcome.outputs]
