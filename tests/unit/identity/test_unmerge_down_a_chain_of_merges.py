"""Undoing a merge whose survivor was itself merged into someone since: what the later merges keep of it."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.handlers import IdentityDeps, erase_on_request, resolve_fact, unmerge
from services.identity.rules import load_rules
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


async def test_erasing_whoever_held_a_person_s_details_before_they_were_given_back_leaves_their_merges_whole() -> None:
    store = InMemoryIdentityStore()
    deps = IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())
    kiosk = await resolve(deps, "e0", source="kiosque", external_id="K-1", email="elise.kiosque@example.com")
    friends = await resolve(deps, "e00", source="amis-du-theatre", external_id="A-4", first_name="Élise")
    ids = await chain(deps)
    # The box office's account, holding the newsletter account's details through the shop account, into the kiosk's.
    await resolve(deps, "e20", source="billetterie-principale", external_id="C-1", email="elise.kiosque@example.com")
    await unmerge(ORGANISATION, ids["shop"], deps, requested_by=REVIEWER, merge_id=ids["newsletter_merge"])
    newsletter = await store.person(ORGANISATION, ids["newsletter"])
    assert newsletter is not None
    await resolve(deps, "e21", source="amis-du-theatre", external_id="A-4", email="elise.g@example.com")
    [into_friends] = [
        merge for merge in await store.merges_involving(ORGANISATION, ids["newsletter"]) if merge.survivor_id == friends
    ]

    await erase_on_request(ORGANISATION, kiosk, deps, do_not_readd=False, requested_by=REVIEWER)
    await unmerge(ORGANISATION, friends, deps, requested_by=REVIEWER, merge_id=into_friends.merge_id)

    friends_account = await store.person(ORGANISATION, friends)
    assert friends_account is not None
    assert not newsletter.identifiers & friends_account.identifiers
    assert not set(newsletter.records) & set(friends_account.records)
