"""An unmerge gives each restored person the identifiers the survivor claimed through the records they take back,
so that later facts naming those identifiers find them, and their erasure lets those identifiers go."""

from dataclasses import replace
from typing import cast

import pytest

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.domain.identifiers import Identifier, IdentifierType
from services.identity.handlers import UNMERGE_CLAIM_LEASE, IdentityDeps, erase_on_request, unmerge
from services.identity.ports import IdentityStore
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from tests.integration.identity.conftest import ORGANISATION, everything_stored
from tests.unit.identity.test_unmerge_gives_back_the_records_that_are_theirs import (
    REVIEWER,
    STAFF,
    CrashError,
    CrashingStore,
    LaterClock,
    anne_and_bea,
    deps_on,
    resolve,
    stored,
)

NEW_EMAIL = Identifier(IdentifierType.EMAIL, "bea.new@example.com")


async def bea_merged_into_anne_then_named_with_a_new_email(deps: IdentityDeps) -> tuple[str, str]:
    """Béa (shop S-1) merged into Anne (C-1); then the shop sends Béa's id with a new email, which Anne claims."""
    anne, bea = await anne_and_bea(deps)
    await resolve(deps, "e3", source="shopify-boutique", external_id="S-1", email="anne@example.com")
    assert await resolve(deps, "e4", source="shopify-boutique", external_id="S-1", email="bea.new@example.com") == anne
    assert await deps.store.owner_of(ORGANISATION, NEW_EMAIL) == anne
    return anne, bea


async def test_an_email_claimed_through_a_fact_the_restored_person_takes_back_goes_with_it() -> None:
    deps = deps_on(InMemoryIdentityStore())
    anne, bea = await bea_merged_into_anne_then_named_with_a_new_email(deps)

    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    assert await deps.store.owner_of(ORGANISATION, NEW_EMAIL) == bea
    assert NEW_EMAIL in (await stored(deps, bea)).identifiers
    assert NEW_EMAIL not in (await stored(deps, anne)).identifiers
    assert await resolve(deps, "e5", source="infolettre", email="bea.new@example.com") == bea


async def test_erasing_the_restored_person_lets_the_email_claimed_while_merged_go() -> None:
    store = InMemoryIdentityStore()
    deps = deps_on(store)
    anne, bea = await bea_merged_into_anne_then_named_with_a_new_email(deps)
    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    await erase_on_request(ORGANISATION, bea, deps, do_not_readd=False, requested_by=STAFF)

    assert await store.owner_of(ORGANISATION, NEW_EMAIL) is None
    assert NEW_EMAIL not in (await stored(deps, anne)).identifiers
    assert [name for name, held in (await everything_stored(store)).items() if "bea.new@example.com" in held] == []


async def test_an_email_the_survivor_also_holds_through_a_fact_it_keeps_stays_with_the_survivor() -> None:
    deps = deps_on(InMemoryIdentityStore())
    anne, bea = await anne_and_bea(deps)
    await resolve(deps, "e3", source="shopify-boutique", external_id="S-1", email="anne@example.com")
    # Anne's customer id with a shared address, then Béa's shop id with it: the first stays Anne's.
    await resolve(deps, "e4", external_id="C-1", email="famille@example.com")
    await resolve(deps, "e5", source="shopify-boutique", external_id="S-1", email="famille@example.com")
    shared = Identifier(IdentifierType.EMAIL, "famille@example.com")

    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    assert await deps.store.owner_of(ORGANISATION, shared) == anne
    assert shared in (await stored(deps, anne)).identifiers
    assert shared not in (await stored(deps, bea)).identifiers


async def test_a_restored_person_with_as_many_emails_as_the_policy_allows_takes_none_and_the_survivor_lets_it_go() -> (
    None
):
    store = InMemoryIdentityStore()
    deps = deps_on(store)
    anne, bea = await bea_merged_into_anne_then_named_with_a_new_email(deps)
    # The policy now allows one email a person: Béa holds bea@example.com already.
    rules = deps.rules
    email_rule = rules.policy.identifiers[IdentifierType.EMAIL]
    policy = rules.policy.model_copy(
        update={
            "identifiers": {
                **rules.policy.identifiers,
                IdentifierType.EMAIL: email_rule.model_copy(update={"max_per_person": 1}),
            }
        }
    )
    strict = replace(deps, rules=replace(rules, policy=policy))

    await unmerge(ORGANISATION, anne, strict, requested_by=REVIEWER)

    assert await store.owner_of(ORGANISATION, NEW_EMAIL) is None
    assert NEW_EMAIL not in (await stored(deps, bea)).identifiers
    assert NEW_EMAIL not in (await stored(deps, anne)).identifiers


# Before the email changes hands, before Béa's identifiers list it, before Anne is rewritten without it.
@pytest.mark.parametrize("crash_before", [("reassign", 1), ("add_to_person", 4), ("replace_person", 1)])
async def test_an_unmerge_stopped_while_moving_an_email_is_finished_by_the_next_request(
    crash_before: tuple[str, int],
) -> None:
    store = CrashingStore()
    clock = LaterClock()
    deps = IdentityDeps(store=cast(IdentityStore, store), rules=load_rules(IdentitySettings()), clock=clock)
    anne, bea = await bea_merged_into_anne_then_named_with_a_new_email(deps)
    store.crash_before = dict([crash_before])

    with pytest.raises(CrashError):
        await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)
    clock.ahead = UNMERGE_CLAIM_LEASE
    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    assert await store.owner_of(ORGANISATION, NEW_EMAIL) == bea
    assert NEW_EMAIL in (await stored(deps, bea)).identifiers
    assert NEW_EMAIL not in (await stored(deps, anne)).identifiers


async def test_after_an_unmerge_the_survivor_is_no_longer_filed_under_the_keys_of_a_fact_it_gave_back() -> None:
    store = InMemoryIdentityStore()
    deps = deps_on(store)
    anne, bea = await bea_merged_into_anne_then_named_with_a_new_email(deps)
    assert anne in (await store.block_members(ORGANISATION, ["el:beanew"]))["el:beanew"]

    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    assert (await store.block_members(ORGANISATION, ["el:beanew", "el:bea"])) == {
        "el:beanew": [bea],
        "el:bea": [bea],
    }
    # Anne's own keys stay hers.
    assert anne in (await store.block_members(ORGANISATION, ["el:anne"]))["el:anne"]


async def test_undoing_a_merge_into_a_survivor_merged_on_since_moves_the_email_out_of_whoever_holds_it_now() -> None:
    deps = deps_on(InMemoryIdentityStore())
    helene = await resolve(deps, "e0", external_id="C-0", email="helene@example.com")
    anne, bea = await bea_merged_into_anne_then_named_with_a_new_email(deps)
    # Anne, holding Béa, merged into Hélène, created before her.
    assert await resolve(deps, "e5", external_id="C-0", email="anne@example.com") == helene
    [later] = [merge for merge in await deps.store.merges_involving(ORGANISATION, anne) if anne in merge.merged_ids]
    assert NEW_EMAIL in later.merged[0].identifiers
    [first] = await deps.store.merges_involving(ORGANISATION, bea)

    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER, merge_id=first.merge_id)

    assert await deps.store.owner_of(ORGANISATION, NEW_EMAIL) == bea
    assert NEW_EMAIL in (await stored(deps, bea)).identifiers
    assert NEW_EMAIL not in (await stored(deps, anne)).identifiers
    assert NEW_EMAIL not in (await stored(deps, helene)).identifiers
    kept = await deps.store.merge(ORGANISATION, later.merge_id)
    assert kept is not None
    assert NEW_EMAIL not in kept.merged[0].identifiers
    assert await resolve(deps, "e6", source="infolettre", email="bea.new@example.com") == bea
