"""An unmerge gives the survivor back what the merge changed of it: its household and the records it kept."""

from dataclasses import replace
from typing import Any, cast

import pytest

from services.identity.adapters.documents import merge_document, merge_from
from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.domain.identifiers import Identifier, IdentifierType
from services.identity.domain.merges import MergeRecord
from services.identity.domain.persons import MAX_RECORDS_PER_PERSON, Person
from services.identity.handlers import IdentityDeps, erase_on_request, erase_person, resolve_fact, unmerge, view_person
from services.identity.ports import IdentityStore
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.events import parse_data
from shared.events.identity import MergeDecider, PersonResolvedV1
from tests.integration.identity.conftest import (
    ORGANISATION,
    START,
    SteppingClock,
    details_fact,
    everything_stored,
    last_resolution,
)

REVIEWER = "reviewer:marie"


@pytest.fixture
def store(identity_store: IdentityStore) -> IdentityStore:
    return identity_store


async def resolve(deps: IdentityDeps, event_id: str, *, source: str = "billetterie-principale", **person: Any) -> str:
    outputs = (await resolve_fact(details_fact(event_id, source=source, **person), deps)).outputs
    resolved = parse_data(last_resolution(outputs))
    assert isinstance(resolved, PersonResolvedV1)
    return resolved.person_id


async def stored(store: IdentityStore, person_id: str) -> Person:
    person = await store.person(ORGANISATION, person_id)
    assert person is not None
    return person


async def household_of(store: IdentityStore, person_id: str) -> tuple[str | None, set[str]]:
    view = await view_person(ORGANISATION, person_id, store)
    assert view is not None
    return view.person.household_id, set(view.household)


async def test_an_unmerge_puts_the_survivor_back_in_its_own_household_and_out_of_the_restored_person_s(
    deps: IdentityDeps, store: IdentityStore
) -> None:
    # Élise shares the home phone with Marc; her shop account shares its email with Jacques: two households.
    marc = await resolve(deps, "e1", external_id="C-2", first_name="Marc", last_name="Gagnon", phone="514-555-0101")
    elise = await resolve(deps, "e2", external_id="C-1", first_name="Élise", last_name="Gagnon", phone="514-555-0101")
    shop = await resolve(
        deps, "e3", source="shopify-boutique", external_id="207", first_name="Élise", email="elise@example.com"
    )
    jacques = await resolve(
        deps,
        "e4",
        source="shopify-boutique",
        external_id="301",
        first_name="Jacques",
        last_name="Roy",
        email="elise@example.com",
    )
    elise_before, shop_before = await household_of(store, elise), await household_of(store, shop)
    assert elise_before[1] == {marc}
    assert shop_before[1] == {jacques}
    await resolve(deps, "e5", external_id="C-1", email="elise@example.com")
    assert (await stored(store, elise)).household_id == shop_before[0]

    await unmerge(ORGANISATION, elise, deps, requested_by=REVIEWER)

    assert await household_of(store, elise) == elise_before
    assert await household_of(store, shop) == shop_before
    assert shop_before[0] is not None
    assert elise not in await store.household_members(ORGANISATION, shop_before[0])


async def test_an_unmerge_leaves_a_survivor_that_had_no_household_in_none(
    deps: IdentityDeps, store: IdentityStore
) -> None:
    elise = await resolve(deps, "e1", external_id="C-1", first_name="Élise", last_name="Gagnon")
    shop = await resolve(
        deps, "e2", source="shopify-boutique", external_id="207", first_name="Élise", email="elise@example.com"
    )
    await resolve(
        deps, "e3", source="shopify-boutique", external_id="301", first_name="Jacques", email="elise@example.com"
    )
    await resolve(deps, "e4", external_id="C-1", email="elise@example.com")

    await unmerge(ORGANISATION, elise, deps, requested_by=REVIEWER)

    restored = await stored(store, shop)
    assert (await stored(store, elise)).household_id is None
    assert restored.household_id is not None
    assert elise not in await store.household_members(ORGANISATION, restored.household_id)


async def survivor_whose_oldest_records_a_merge_pushed_out(deps: IdentityDeps, store: IdentityStore) -> Person:
    """Élise at six addresses at the box office, then merged with her shop account of three: nine records and the
    merging fact's do not fit in those a person keeps. Returns Élise as she was before the merge."""
    for number in range(1, 7):
        elise = await resolve(
            deps, f"b{number}", external_id="C-1", first_name="Élise", last_name="Gagnon", street=f"{number} rue Fabre"
        )
    for number in range(10, 13):
        await resolve(
            deps,
            f"s{number}",
            source="shopify-boutique",
            external_id="207",
            first_name="Élise",
            email="elise@example.com",
            street=f"{number} rue Rachel",
        )
    before = await stored(store, elise)
    await resolve(deps, "m", external_id="C-1", email="elise@example.com")
    merged = await stored(store, elise)
    assert len(merged.records) == MAX_RECORDS_PER_PERSON
    assert not set(before.records) <= set(merged.records)
    return before


async def test_an_unmerge_gives_the_survivor_back_its_own_records_the_merged_person_s_pushed_out(
    deps: IdentityDeps, store: IdentityStore
) -> None:
    before = await survivor_whose_oldest_records_a_merge_pushed_out(deps, store)

    await unmerge(ORGANISATION, before.person_id, deps, requested_by=REVIEWER)

    after = await stored(store, before.person_id)
    # Its own records, then the merging fact's, which named Élise's customer id: hers with or without the merge.
    assert after.records[:-1] == before.records
    assert after.records[-1].street_name is None


async def two_merges_into_elise(deps: IdentityDeps, store: IdentityStore) -> tuple[str, MergeRecord, MergeRecord]:
    """Élise at the box office, her shop account merged into her, then her newsletter account: Élise and the two
    merges, in that order."""
    elise = await resolve(deps, "e1", external_id="C-1", first_name="Élise", last_name="Gagnon")
    shop = await resolve(
        deps, "e2", source="shopify-boutique", external_id="207", first_name="Élise", email="elise@example.com"
    )
    await resolve(deps, "e3", external_id="C-1", email="elise@example.com")
    newsletter = await resolve(
        deps, "e4", source="mailchimp-infolettre", external_id="M-9", first_name="Élise", email="elise.g@example.com"
    )
    await resolve(deps, "e5", external_id="C-1", email="elise.g@example.com")
    [first] = await store.merges_involving(ORGANISATION, shop)
    [second] = await store.merges_involving(ORGANISATION, newsletter)
    assert first.survivor_id == second.survivor_id == elise
    return elise, first, second


async def test_undoing_two_merges_into_one_survivor_in_turn_gives_it_back_none_of_the_first_merged_person_s_records(
    deps: IdentityDeps, store: IdentityStore
) -> None:
    elise, first, second = await two_merges_into_elise(deps, store)

    await unmerge(ORGANISATION, elise, deps, requested_by=REVIEWER, merge_id=first.merge_id)
    await unmerge(ORGANISATION, elise, deps, requested_by=REVIEWER, merge_id=second.merge_id)

    after = await stored(store, elise)
    assert not set(after.records) & (set(first.merged[0].records) | set(second.merged[0].records))
    assert [record.first_name for record in after.records if record.external_id == "C-1"] == ["elise", None, None]


async def test_a_restored_person_s_records_stay_in_no_later_merge_into_its_survivor_once_it_is_erased(
    deps: IdentityDeps, store: IdentityStore
) -> None:
    elise, first, second = await two_merges_into_elise(deps, store)
    shop = first.merged_ids[0]
    shop_records = set(first.merged[0].records)
    assert second.survivor_before is not None
    assert shop_records & set(second.survivor_before.records)

    await unmerge(ORGANISATION, elise, deps, requested_by=REVIEWER, merge_id=first.merge_id)
    await erase_person(ORGANISATION, shop, deps, do_not_readd=False)

    later = await store.merge(ORGANISATION, second.merge_id)
    assert later is not None
    assert later.survivor_before is not None
    assert not shop_records & set(later.survivor_before.records)
    assert [record.external_id for record in later.survivor_before.records] == ["C-1", "C-1"]


async def test_a_merge_record_keeps_the_survivor_s_records_as_they_were_before_it(
    deps: IdentityDeps, store: IdentityStore
) -> None:
    before = await survivor_whose_oldest_records_a_merge_pushed_out(deps, store)

    [merge] = await store.merges_involving(ORGANISATION, before.person_id)

    assert merge.survivor_before is not None
    assert merge.survivor_before.records == before.records


async def test_erasing_the_survivor_leaves_none_of_its_records_in_the_merge_record(
    deps: IdentityDeps, store: IdentityStore
) -> None:
    before = await survivor_whose_oldest_records_a_merge_pushed_out(deps, store)

    await erase_person(ORGANISATION, before.person_id, deps, do_not_readd=False)

    [merge] = await store.merges_involving(ORGANISATION, before.person_id)
    assert merge.survivor_before is not None
    assert merge.survivor_before.records == ()


async def test_a_merge_record_with_the_survivor_as_it_was_reads_back_as_it_was_stored(
    deps: IdentityDeps, store: IdentityStore
) -> None:
    before = await survivor_whose_oldest_records_a_merge_pushed_out(deps, store)
    [merge] = await store.merges_involving(ORGANISATION, before.person_id)

    assert merge_from(merge_document(merge)) == merge


def test_a_merge_stored_before_the_survivor_was_kept_reads_back_without_it() -> None:
    merge = MergeRecord(
        merge_id="mrg_1",
        organisation_id=ORGANISATION,
        survivor_id="per_elise",
        merged=(),
        evidence=(),
        reason="Identifiants partagés / Shared identifiers: email",
        decided_by=MergeDecider.RULE,
        decided_at=START,
        cause="e5",
    )
    document = merge_document(merge)
    del document["survivor_before"]

    assert merge_from(document) == merge


class StoreOfAnEarlierRelease(InMemoryIdentityStore):
    """Stores merges as releases did before they kept the survivor as it was."""

    async def insert_merge(self, merge: MergeRecord) -> MergeRecord:
        return await super().insert_merge(replace(merge, survivor_before=None))


async def test_a_merge_stored_before_the_survivor_was_kept_is_undone_as_before() -> None:
    store = StoreOfAnEarlierRelease()
    deps = IdentityDeps(store=cast(IdentityStore, store), rules=load_rules(IdentitySettings()), clock=SteppingClock())
    before = await survivor_whose_oldest_records_a_merge_pushed_out(deps, store)
    [merge] = await store.merges_involving(ORGANISATION, before.person_id)
    assert merge.survivor_before is None

    await unmerge(ORGANISATION, before.person_id, deps, requested_by=REVIEWER)

    [restored] = merge.merged
    after = await stored(store, before.person_id)
    assert (await stored(store, restored.person_id)).is_active
    assert not set(after.records) & set(restored.records)
    assert not after.identifiers & restored.identifiers


async def test_undoing_a_merge_into_someone_merged_on_since_leaves_none_of_what_it_gave_in_that_later_merge(
    deps: IdentityDeps, store: IdentityStore
) -> None:
    # The newsletter account merged into the shop account, then the shop account into the box office's.
    await resolve(deps, "e1", external_id="C-1", first_name="Élise", last_name="Gagnon")
    shop = await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com")
    newsletter = await resolve(
        deps, "e3", source="mailchimp-infolettre", external_id="M-9", email="elise.g@example.com"
    )
    await resolve(deps, "e4", source="shopify-boutique", external_id="207", email="elise.g@example.com")
    await resolve(deps, "e5", external_id="C-1", email="elise@example.com")
    [newsletter_merge] = await store.merges_involving(ORGANISATION, newsletter)
    [shop_merge] = [merge for merge in await store.merges_involving(ORGANISATION, shop) if shop in merge.merged_ids]
    given = set(newsletter_merge.merged[0].records)
    [shop_copy] = shop_merge.merged
    assert given & set(shop_copy.records)

    await unmerge(ORGANISATION, shop, deps, requested_by=REVIEWER, merge_id=newsletter_merge.merge_id)

    later = await store.merge(ORGANISATION, shop_merge.merge_id)
    assert later is not None
    [shop_copy] = later.merged
    assert not given & set(shop_copy.records)
    assert not newsletter_merge.merged[0].identifiers & shop_copy.identifiers
    assert {identifier.source for identifier in shop_copy.identifiers} >= {"shopify-boutique"}


@pytest.mark.parametrize("order", ["first merge first", "last merge first"])
async def test_erasing_the_persons_two_undone_merges_gave_back_leaves_their_details_nowhere_in_the_store(
    deps: IdentityDeps, store: IdentityStore, order: str
) -> None:
    elise = {"first_name": "Élise", "last_name": "Gagnon"}
    anne = await resolve(deps, "e1", external_id="C-1", email="anne@example.com", **elise)
    bea = await resolve(deps, "e2", source="shopify-boutique", external_id="S-1", email="bea@example.com", **elise)
    carole = await resolve(deps, "e3", source="dons-en-ligne", external_id="D-1", email="carole@example.com", **elise)
    # Béa into Anne by her shop id and Anne's email; Carole into Anne through Béa, by her donor id and Béa's email.
    await resolve(deps, "e4", source="shopify-boutique", external_id="S-1", email="anne@example.com")
    await resolve(deps, "e5", source="dons-en-ligne", external_id="D-1", email="bea@example.com")
    merges = sorted(await store.merges_involving(ORGANISATION, anne), key=lambda merge: merge.decided_at)
    for merge in merges if order == "first merge first" else reversed(merges):
        await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER, merge_id=merge.merge_id)

    for person_id in (bea, carole):
        await erase_on_request(ORGANISATION, person_id, deps, do_not_readd=True, requested_by="staff:marie")

    held = {(record.source, record.external_id, record.email) for record in (await stored(store, anne)).records}
    assert held == {("billetterie-principale", "C-1", "anne@example.com")}
    everything = await everything_stored(store)
    for value in ("bea@example.com", "carole@example.com", "'S-1'", "'D-1'"):
        assert [name for name, text in everything.items() if value in text] == [], value


async def test_an_unmerge_gives_the_restored_person_the_email_the_survivor_claimed_through_a_fact_naming_them(
    deps: IdentityDeps, store: IdentityStore
) -> None:
    elise = {"first_name": "Élise", "last_name": "Gagnon"}
    anne = await resolve(deps, "e1", external_id="C-1", email="anne@example.com", **elise)
    bea = await resolve(deps, "e2", source="shopify-boutique", external_id="S-1", email="bea@example.com", **elise)
    await resolve(deps, "e3", source="shopify-boutique", external_id="S-1", email="anne@example.com")
    # Merged, the shop sends Béa's id with a new email: Anne, who holds Béa, claims it.
    assert await resolve(deps, "e4", source="shopify-boutique", external_id="S-1", email="bea.new@example.com") == anne
    new_email = Identifier(IdentifierType.EMAIL, "bea.new@example.com")

    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    assert await store.owner_of(ORGANISATION, new_email) == bea
    assert new_email in (await stored(store, bea)).identifiers
    assert new_email not in (await stored(store, anne)).identifiers
    assert await resolve(deps, "e5", source="infolettre", email="bea.new@example.com") == bea
    assert (await store.block_members(ORGANISATION, ["el:beanew"]))["el:beanew"] == [bea]
    await erase_on_request(ORGANISATION, bea, deps, do_not_readd=False, requested_by="staff:marie")
    assert await store.owner_of(ORGANISATION, new_email) is None
    assert [name for name, text in (await everything_stored(store)).items() if "bea.new@example.com" in text] == []
