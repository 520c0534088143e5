"""An unmerge gives each restored person the records that are theirs, those the survivor gained with the merge and
after it too, and an erasure leaves the erased person's identifiers in no record another person holds."""

import asyncio
import inspect
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import pytest

from services.identity import handlers
from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.domain.merges import MergeRecord
from services.identity.domain.persons import Person
from services.identity.domain.records import NormalisedRecord
from services.identity.handlers import UNMERGE_CLAIM_LEASE, IdentityDeps, erase_on_request, resolve_fact, unmerge
from services.identity.ports import IdentityStore
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.events import parse_data
from shared.events.identity import PersonResolvedV1, PersonUnmergedV1
from tests.integration.identity.conftest import ORGANISATION, SteppingClock, details_fact, everything_stored

REVIEWER, STAFF = "reviewer:marie", "staff:marie"
ELISE = {"first_name": "Élise", "last_name": "Gagnon"}


def deps_on(store: InMemoryIdentityStore) -> IdentityDeps:
    return IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())


async def resolve(deps: IdentityDeps, event_id: str, *, source: str = "billetterie-principale", **person: Any) -> str:
    outputs = (await resolve_fact(details_fact(event_id, source=source, **person), deps)).outputs
    [resolved] = [data for output in outputs if isinstance(data := parse_data(output), PersonResolvedV1)]
    return resolved.person_id


async def stored(deps: IdentityDeps, person_id: str) -> Person:
    person = await deps.store.person(ORGANISATION, person_id)
    assert person is not None
    return person


def named(records: tuple[NormalisedRecord, ...]) -> set[tuple[str | None, str | None, str | None]]:
    return {(record.source, record.external_id, record.email) for record in records}


async def anne_and_bea(deps: IdentityDeps) -> tuple[str, str]:
    """Anne at the box office (C-1), Béa at the shop (S-1), both named Élise Gagnon: two persons."""
    anne = await resolve(deps, "e1", external_id="C-1", email="anne@example.com", **ELISE)
    bea = await resolve(deps, "e2", source="shopify-boutique", external_id="S-1", email="bea@example.com", **ELISE)
    return anne, bea


async def anne_bea_and_carole_merged_into_anne(deps: IdentityDeps) -> tuple[dict[str, str], list[MergeRecord]]:
    """Béa merged into Anne by a fact naming her shop id and Anne's email; Carole (donations, D-1) merged into Anne
    through Béa by a fact naming Carole's donor id and Béa's email. Returns the three and the two merges in order."""
    anne, bea = await anne_and_bea(deps)
    carole = await resolve(deps, "e3", source="dons-en-ligne", external_id="D-1", email="carole@example.com", **ELISE)
    await resolve(deps, "e4", source="shopify-boutique", external_id="S-1", email="anne@example.com")
    await resolve(deps, "e5", source="dons-en-ligne", external_id="D-1", email="bea@example.com")
    merges = sorted(await deps.store.merges_involving(ORGANISATION, anne), key=lambda merge: merge.decided_at)
    assert [(merge.survivor_id, merge.merged_ids) for merge in merges] == [(anne, [bea]), (anne, [carole])]
    return {"anne": anne, "bea": bea, "carole": carole}, merges


async def test_the_fact_that_merged_two_persons_goes_back_with_the_one_whose_upstream_id_it_names() -> None:
    deps = deps_on(InMemoryIdentityStore())
    anne, bea = await anne_and_bea(deps)
    await resolve(deps, "e3", source="shopify-boutique", external_id="S-1", email="anne@example.com")

    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    # It names Béa's shop id and Anne's email: the upstream id is the stronger identifier, so it is Béa's.
    linking = ("shopify-boutique", "S-1", "anne@example.com")
    assert linking not in named((await stored(deps, anne)).records)
    assert linking in named((await stored(deps, bea)).records)


async def test_the_fact_that_merged_two_persons_stays_with_the_survivor_when_it_names_the_survivor_s_upstream_id() -> (
    None
):
    deps = deps_on(InMemoryIdentityStore())
    anne, bea = await anne_and_bea(deps)
    await resolve(deps, "e3", external_id="C-1", email="bea@example.com")

    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    linking = ("billetterie-principale", "C-1", "bea@example.com")
    assert linking in named((await stored(deps, anne)).records)
    assert linking not in named((await stored(deps, bea)).records)


async def test_a_fact_resolved_to_the_survivor_while_merged_goes_to_the_restored_person_whose_id_it_names() -> None:
    deps = deps_on(InMemoryIdentityStore())
    anne, bea = await anne_and_bea(deps)
    await resolve(deps, "e3", source="shopify-boutique", external_id="S-1", email="anne@example.com")
    assert await resolve(deps, "e4", source="shopify-boutique", external_id="S-1", street="12 rue Rachel") == anne

    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    anne_now, bea_now = await stored(deps, anne), await stored(deps, bea)
    assert [record.street_name for record in bea_now.records if record.street_name] == ["rachel rue"]
    assert not [record for record in anne_now.records if record.external_id == "S-1"]
    assert named(anne_now.records) == {("billetterie-principale", "C-1", "anne@example.com")}


@pytest.mark.parametrize("order", ["first merge first", "last merge first"])
async def test_undoing_a_chain_of_two_merges_in_either_order_leaves_each_record_with_its_own_person(order: str) -> None:
    deps = deps_on(InMemoryIdentityStore())
    ids, merges = await anne_bea_and_carole_merged_into_anne(deps)

    for merge in merges if order == "first merge first" else reversed(merges):
        await unmerge(ORGANISATION, ids["anne"], deps, requested_by=REVIEWER, merge_id=merge.merge_id)

    assert named((await stored(deps, ids["anne"])).records) == {("billetterie-principale", "C-1", "anne@example.com")}
    assert named((await stored(deps, ids["bea"])).records) == {
        ("shopify-boutique", "S-1", "bea@example.com"),
        ("shopify-boutique", "S-1", "anne@example.com"),
    }
    # Carole's donor id is stronger than Béa's email.
    assert named((await stored(deps, ids["carole"])).records) == {
        ("dons-en-ligne", "D-1", "carole@example.com"),
        ("dons-en-ligne", "D-1", "bea@example.com"),
    }


@pytest.mark.parametrize("order", ["first merge first", "last merge first"])
async def test_erasing_both_persons_a_chain_of_merges_gave_back_leaves_nothing_of_them_in_the_store(order: str) -> None:
    store = InMemoryIdentityStore()
    deps = deps_on(store)
    ids, merges = await anne_bea_and_carole_merged_into_anne(deps)
    for merge in merges if order == "first merge first" else reversed(merges):
        await unmerge(ORGANISATION, ids["anne"], deps, requested_by=REVIEWER, merge_id=merge.merge_id)

    for person_id in (ids["bea"], ids["carole"]):
        await erase_on_request(ORGANISATION, person_id, deps, do_not_readd=True, requested_by=STAFF)

    anne = await stored(deps, ids["anne"])
    assert named(anne.records) == {("billetterie-principale", "C-1", "anne@example.com")}
    text = await everything_stored(store)
    for value in ("bea@example.com", "carole@example.com"):
        assert [name for name, held in text.items() if value in held] == []


async def test_an_erasure_takes_the_erased_person_s_identifiers_out_of_the_records_another_person_holds() -> None:
    store = InMemoryIdentityStore()
    deps = deps_on(store)
    ids, merges = await anne_bea_and_carole_merged_into_anne(deps)
    for merge in merges:
        await unmerge(ORGANISATION, ids["anne"], deps, requested_by=REVIEWER, merge_id=merge.merge_id)

    await erase_on_request(ORGANISATION, ids["bea"], deps, do_not_readd=False, requested_by=STAFF)

    # The fact that named Carole's donor id and Béa's email stays Carole's, without Béa's email.
    assert named((await stored(deps, ids["carole"])).records) == {
        ("dons-en-ligne", "D-1", "carole@example.com"),
        ("dons-en-ligne", "D-1", None),
    }
    assert [name for name, held in (await everything_stored(store)).items() if "bea@example.com" in held] == []


async def test_erasing_the_survivor_takes_its_email_out_of_the_fact_the_restored_person_took_back() -> None:
    store = InMemoryIdentityStore()
    deps = deps_on(store)
    anne, bea = await anne_and_bea(deps)
    await resolve(deps, "e3", source="shopify-boutique", external_id="S-1", email="anne@example.com")
    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    await erase_on_request(ORGANISATION, anne, deps, do_not_readd=False, requested_by=STAFF)

    assert named((await stored(deps, bea)).records) == {
        ("shopify-boutique", "S-1", "bea@example.com"),
        ("shopify-boutique", "S-1", None),
    }
    assert [name for name, held in (await everything_stored(store)).items() if "anne@example.com" in held] == []


async def test_the_unmerge_event_names_the_merge_and_the_persons_only() -> None:
    deps = deps_on(InMemoryIdentityStore())
    anne, bea = await anne_and_bea(deps)
    await resolve(deps, "e3", source="shopify-boutique", external_id="S-1", email="anne@example.com")

    event = parse_data(await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER))

    assert isinstance(event, PersonUnmergedV1)
    assert (event.survivor_person_id, event.restored_person_ids) == (anne, [bea])
    assert set(PersonUnmergedV1.model_fields) == {
        "merge_id",
        "survivor_person_id",
        "restored_person_ids",
        "unmerged_at",
        "requested_by",
    }


class CrashError(Exception):
    """The process died here: nothing after this point happened."""


class CrashingStore:
    """The in-memory store, except that a method named in `crash_before` fails once, on the call counted there, as
    if the process died just before making it."""

    def __init__(self) -> None:
        self.inner = InMemoryIdentityStore()
        self.crash_before: dict[str, int] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(method):
            return cast(Callable[..., Any], method)

        async def call(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            if name in self.crash_before:
                self.crash_before[name] -= 1
                if self.crash_before[name] == 0:
                    del self.crash_before[name]
                    raise CrashError(name)
            return await method(*args, **kwargs)

        return call


class LaterClock:
    """Each reading is one second after the last; a crashed unmerge's claim is let go after the lease."""

    def __init__(self) -> None:
        self._clock = SteppingClock()
        self.ahead = timedelta()

    def now(self) -> Any:
        return self._clock.now() + self.ahead


# The restored person given the record, the survivor rewritten without it, a later merge's copy of the survivor
# rewritten without it, the merge marked undone.
@pytest.mark.parametrize(
    "crash_before", [("add_to_person", 3), ("replace_person", 1), ("keep_copies", 1), ("mark_undone", 1)]
)
async def test_an_unmerge_stopped_midway_is_finished_by_the_next_request_with_each_record_with_its_own_person(
    crash_before: tuple[str, int],
) -> None:
    store = CrashingStore()
    clock = LaterClock()
    deps = IdentityDeps(store=cast(IdentityStore, store), rules=load_rules(IdentitySettings()), clock=clock)
    ids, merges = await anne_bea_and_carole_merged_into_anne(deps)
    store.crash_before = dict([crash_before])

    with pytest.raises(CrashError):
        await unmerge(ORGANISATION, ids["anne"], deps, requested_by=REVIEWER, merge_id=merges[0].merge_id)
    clock.ahead = UNMERGE_CLAIM_LEASE
    await unmerge(ORGANISATION, ids["anne"], deps, requested_by=REVIEWER, merge_id=merges[0].merge_id)

    later = await deps.store.merge(ORGANISATION, merges[1].merge_id)
    assert later is not None
    assert later.survivor_before is not None
    assert named(later.survivor_before.records) == {("billetterie-principale", "C-1", "anne@example.com")}
    await unmerge(ORGANISATION, ids["anne"], deps, requested_by=REVIEWER, merge_id=merges[1].merge_id)
    assert named((await stored(deps, ids["anne"])).records) == {("billetterie-principale", "C-1", "anne@example.com")}
    assert named((await stored(deps, ids["bea"])).records) == {
        ("shopify-boutique", "S-1", "bea@example.com"),
        ("shopify-boutique", "S-1", "anne@example.com"),
    }


# Before the others' records, midway through them, before the identifiers are let go, before the person is marked.
@pytest.mark.parametrize(
    "crash_before", [("scrub_records", 1), ("scrub_records", 2), ("release", 1), ("replace_person", 1)]
)
async def test_an_erasure_stopped_midway_takes_the_person_s_identifiers_out_of_others_records_when_asked_again(
    crash_before: tuple[str, int],
) -> None:
    store = CrashingStore()
    deps = IdentityDeps(store=cast(IdentityStore, store), rules=load_rules(IdentitySettings()), clock=SteppingClock())
    ids, merges = await anne_bea_and_carole_merged_into_anne(deps)
    for merge in merges:
        await unmerge(ORGANISATION, ids["anne"], deps, requested_by=REVIEWER, merge_id=merge.merge_id)
    store.crash_before = dict([crash_before])

    with pytest.raises(CrashError):
        await erase_on_request(ORGANISATION, ids["bea"], deps, do_not_readd=False, requested_by=STAFF)
    await erase_on_request(ORGANISATION, ids["bea"], deps, do_not_readd=False, requested_by=STAFF)

    assert ("dons-en-ligne", "D-1", None) in named((await stored(deps, ids["carole"])).records)
    assert [name for name, held in (await everything_stored(store.inner)).items() if "bea@example.com" in held] == []


async def test_an_erasure_reaching_the_bound_of_persons_merges_join_says_so_in_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = InMemoryIdentityStore()
    deps = deps_on(store)
    ids, merges = await anne_bea_and_carole_merged_into_anne(deps)
    for merge in merges:
        await unmerge(ORGANISATION, ids["anne"], deps, requested_by=REVIEWER, merge_id=merge.merge_id)
    # Béa's merges join her to Anne, and Anne's to Carole: a bound of two persons stops before Carole.
    monkeypatch.setattr(handlers, "_MAX_MERGED_WITH", 2)

    await erase_on_request(ORGANISATION, ids["bea"], deps, do_not_readd=False, requested_by=STAFF)

    assert [record.getMessage() for record in caplog.records if record.levelname == "WARNING"] == [
        f"erasing {ids['bea']}: merges join them to more than 2 persons; the records of those met first were cleaned "
        "of their identifiers, others may still name them"
    ]
