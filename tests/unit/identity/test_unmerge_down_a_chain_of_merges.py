"""Undoing a merge whose survivor was itself merged into someone since: what the later merges keep of it."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.context import load_rules
from services.identity.domain.identifiers import Identifier
from services.identity.domain.merges import MergeRecord
from services.identity.domain.persons import MAX_RECORDS_PER_PERSON
from services.identity.domain.records import NormalisedRecord
from services.identity.handlers import IdentityDeps, erase_on_request, resolve_fact, unmerge
from services.identity.settings import IdentitySettings
from shared.events import PersonRef, build_envelope, parse_data
from shared.events.audience import PersonDetailsUpdatedV1
from shared.events.identity import PersonResolvedV1

ORGANISATION = "theatre-du-nord"
START = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
REVIEWER = "reviewer:marie"


class SteppingClock:
    def __init__(self) -> None:
        self._ticks = itertools.count()

    def now(self) -> datetime:
        return START + timedelta(seconds=next(self._ticks))


async def resolve(deps: IdentityDeps, event_id: str, *, source: str, **person: Any) -> str:
    fact = build_envelope(
        PersonDetailsUpdatedV1(person=PersonRef(source=source, **person)),
        organisation_id=ORGANISATION,
        source=f"/orgs/{ORGANISATION}/sources/{source}",
        id=event_id,
        time=START,
    )
    [resolved] = [
        data
        for output in (await resolve_fact(fact, deps)).outputs
        if isinstance(data := parse_data(output), PersonResolvedV1)
    ]
    return resolved.person_id


async def chain(deps: IdentityDeps) -> dict[str, str]:
    """The newsletter account merged into the shop account, the shop account into the box office's, then the
    donations account into the box office's too."""
    store = deps.store
    box_office = await resolve(
        deps, "e1", source="billetterie-principale", external_id="C-1", first_name="Élise", last_name="Gagnon"
    )
    shop = await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="elise@example.com")
    newsletter = await resolve(
        deps, "e3", source="mailchimp-infolettre", external_id="M-9", email="elise.g@example.com"
    )
    await resolve(deps, "e4", source="shopify-boutique", external_id="207", email="elise.g@example.com")
    await resolve(deps, "e5", source="billetterie-principale", external_id="C-1", email="elise@example.com")
    donations = await resolve(deps, "e6", source="dons-en-ligne", external_id="D-3", email="egagnon@example.com")
    await resolve(deps, "e7", source="billetterie-principale", external_id="C-1", email="egagnon@example.com")
    [newsletter_merge] = await store.merges_involving(ORGANISATION, newsletter)
    [donations_merge] = await store.merges_involving(ORGANISATION, donations)
    assert newsletter_merge.survivor_id == shop
    assert donations_merge.survivor_id == box_office
    return {
        "box_office": box_office,
        "newsletter": newsletter,
        "newsletter_merge": newsletter_merge.merge_id,
        "donations_merge": donations_merge.merge_id,
        "shop": shop,
    }


async def test_undoing_a_merge_into_someone_merged_away_since_takes_its_records_out_of_later_merges_above_them() -> (
    None
):
    store = InMemoryIdentityStore()
    deps = IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())
    ids = await chain(deps)
    newsletter_merge = await store.merge(ORGANISATION, ids["newsletter_merge"])
    assert newsletter_merge is not None
    newsletter_records = {record for merged in newsletter_merge.merged for record in merged.records}
    donations_merge = await store.merge(ORGANISATION, ids["donations_merge"])
    assert donations_merge is not None
    assert donations_merge.survivor_before is not None
    assert newsletter_records & set(donations_merge.survivor_before.records)

    await unmerge(ORGANISATION, ids["shop"], deps, requested_by=REVIEWER, merge_id=ids["newsletter_merge"])
    await unmerge(ORGANISATION, ids["box_office"], deps, requested_by=REVIEWER, merge_id=ids["donations_merge"])

    # The newsletter account is a person of its own again: the box office's must not hold its records too.
    box_office = await store.person(ORGANISATION, ids["box_office"])
    assert box_office is not None
    assert not newsletter_records & set(box_office.records)


async def test_erasing_a_person_given_back_down_a_chain_of_merges_leaves_no_merge_holding_their_details() -> None:
    store = InMemoryIdentityStore()
    deps = IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())
    ids = await chain(deps)
    newsletter_merge = await store.merge(ORGANISATION, ids["newsletter_merge"])
    assert newsletter_merge is not None
    newsletter_records = {record for merged in newsletter_merge.merged for record in merged.records}
    # Its email the shop account got too, from a fact of its own: only the newsletter's own id is theirs alone.
    newsletter_ids = {
        identifier
        for merged in newsletter_merge.merged
        for identifier in merged.identifiers
        if identifier.source == "mailchimp-infolettre"
    }
    assert newsletter_ids

    await unmerge(ORGANISATION, ids["shop"], deps, requested_by=REVIEWER, merge_id=ids["newsletter_merge"])
    await erase_on_request(ORGANISATION, ids["newsletter"], deps, do_not_readd=False, requested_by=REVIEWER)

    for person_id in (ids["shop"], ids["box_office"]):
        for merge in await store.merges_involving(ORGANISATION, person_id):
            for merged in merge.merged:
                assert not newsletter_ids & merged.identifiers, merge.merge_id
                assert not newsletter_records & set(merged.records), merge.merge_id


class CrashError(Exception):
    """The process dies here."""


class MergesUntilCrash(dict[Any, Any]):
    """The merge records of a process that dies once `writes_left` more of them are written, if set."""

    writes_left: int | None = None

    def __setitem__(self, key: Any, value: Any) -> None:
        if self.writes_left is not None:
            if self.writes_left == 0:
                raise CrashError
            self.writes_left -= 1
        super().__setitem__(key, value)


def holding_any(merges: list[MergeRecord], identifiers: set[Identifier], records: set[NormalisedRecord]) -> list[str]:
    """The merges keeping one of `identifiers` or `records` in a snapshot or in the survivor as it was."""
    return [
        merge.merge_id
        for merge in merges
        if any(identifiers & merged.identifiers or records & set(merged.records) for merged in merge.merged)
        or (merge.survivor_before is not None and records & set(merge.survivor_before.records))
    ]


@pytest.mark.parametrize("writes_before_crash", [0, 1, 2, None])
async def test_an_erasure_redone_after_stopping_among_the_merges_still_finds_the_records_the_person_no_longer_keeps(
    writes_before_crash: int | None,
) -> None:
    merges = MergesUntilCrash()
    store = InMemoryIdentityStore(large=lambda name: merges if name == "merges" else {})
    deps = IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())
    ids = await chain(deps)
    newsletter_merge = await store.merge(ORGANISATION, ids["newsletter_merge"])
    assert newsletter_merge is not None
    newsletter_records = {record for merged in newsletter_merge.merged for record in merged.records}
    newsletter_ids = {
        identifier
        for merged in newsletter_merge.merged
        for identifier in merged.identifiers
        if identifier.source == "mailchimp-infolettre"
    }
    await unmerge(ORGANISATION, ids["shop"], deps, requested_by=REVIEWER, merge_id=ids["newsletter_merge"])
    # Newer facts about the newsletter account push out of it the records the shop account's snapshot copied: only
    # its own snapshot, in the merge undone, still tells they were its.
    for day in range(MAX_RECORDS_PER_PERSON):
        await resolve(
            deps, f"e{8 + day}", source="mailchimp-infolettre", external_id="M-9", birth_date=f"1984-03-{10 + day}"
        )
    newsletter = await store.person(ORGANISATION, ids["newsletter"])
    assert newsletter is not None
    assert not newsletter_records & set(newsletter.records)
    assert holding_any(list(merges.values()), newsletter_ids, newsletter_records)

    merges.writes_left = writes_before_crash
    try:
        await erase_on_request(ORGANISATION, ids["newsletter"], deps, do_not_readd=False, requested_by=REVIEWER)
    except CrashError:
        merges.writes_left = None
        await erase_on_request(ORGANISATION, ids["newsletter"], deps, do_not_readd=False, requested_by=REVIEWER)

    assert holding_any(list(merges.values()), newsletter_ids, newsletter_records) == []
