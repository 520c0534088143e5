"""Merges, unmerges, late facts and erasures, as scenarios any profile store must get right.

The handler tests run them on the in-memory store; the contract tests run the very same on the real store.
"""

import asyncio
import copy
import inspect
import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from textwrap import dedent
from typing import Any, cast

import pytest

from services.profile.domain.lookups import email_lookup, external_lookup, lookup_keys, name_lookup, phone_lookup
from services.profile.domain.profile import view
from services.profile.domain.rules import load_segments, load_triggers
from services.profile.domain.schedule import GRACE, KEEP_AHEAD, SLOT, DueEntry, slot_of
from services.profile.domain.search import read_query
from services.profile.domain.seasons import SeasonCalendar
from services.profile.handlers import (
    Handled,
    ProfileBusyError,
    ProfileDeps,
    ProfileRules,
    RecomputeReport,
    SweepReport,
    apply_facts,
    apply_identity_event,
    new_recompute_run,
    profiles_found_by,
    recompute_profiles,
    reindex_lookups,
    search_profiles,
    sweep_due,
)
from services.profile.ports import FiledDue, ProfileStore, StoredProfile, person_digest
from services.profile.settings import BUNDLED_SEGMENTS
from shared.events import Envelope, build_envelope, event_type, parse_data
from shared.events.identity import (
    HouseholdJoinedV1,
    Match,
    MatchMethod,
    MergeDecider,
    PersonResolvedV1,
    PersonsMergedV1,
    PersonUnmergedV1,
)
from shared.kafka import record_for
from tests.unit.profile_rules.shipped import SEGMENTS, TRIGGERS

NOW = datetime(2026, 11, 15, 19, 0, tzinfo=UTC)
RULES = ProfileRules(segments=SEGMENTS, triggers=TRIGGERS, seasons=SeasonCalendar())
PROFILE_CHANGED = "parterre.profile.changed.v1"
SEGMENT_ENTERED = "parterre.segment.entered.v1"
SEGMENT_EXITED = "parterre.segment.exited.v1"
TRIGGER_FIRED = "parterre.trigger.fired.v1"
# Only a guard against a scenario that hangs: the steps it bounds take milliseconds, but run beside other tests at the
# lowest priority, or on the real store, they may take seconds.
HANG_GUARD_SECONDS = 60
_orders = itertools.count(1)
# Identity decides merges and unmerges one after another: each a second after the one before.
_decisions = itertools.count(1)


def _decided() -> datetime:
    return NOW - timedelta(days=1) + timedelta(seconds=next(_decisions))


class MovableClock:
    """Now, until a test moves it on."""

    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class IdentityEvents:
    """What identity publishes about an organisation's persons: resolved facts, merges and unmerges."""

    def __init__(self, organisation_id: str) -> None:
        self.organisation_id = organisation_id
        # Persons a fact was resolved to already: identity tells it created the person only with their first.
        self._known: set[str] = set()

    def purchase(
        self,
        event_id: str,
        person_id: str,
        *,
        days_ago: int = 30,
        tickets: int = 2,
        phone: str | None = None,
        person: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        production: str | None = None,
        history_of: str | None = None,
    ) -> Envelope:
        """A ticket purchase by `person_id` (whose email is `<person_id>@example.com`, and the rest as in the
        catalog's example, Élise Gagnon, unless `person` says otherwise), resolved to them; made `days_ago` before
        the scenarios' now, or `at`; of a performance of `production` if given; part of the history of
        `history_of`, a person merged into them, if given."""
        example = copy.deepcopy(event_type("parterre.ticket.purchased.v1").example)
        order = next(_orders)
        example["order_id"] = f"O-{order}"
        example["person"] = {**example["person"], "email": f"{person_id}@example.com", **(person or {})}
        if phone is not None:
            example["person"]["phone"] = phone
        if production is not None:
            performance = example["performance"]
            example["performance"] = {**performance, "production_id": production, "performance_id": f"{production}-1"}
        example["tickets"] = [
            {**example["tickets"][0], "ticket_id": f"T-{order}-{n}", "price": {"amount": "50.00", "currency": "CAD"}}
            for n in range(tickets)
        ]
        example["total"] = {"amount": f"{50 * tickets}.00", "currency": "CAD"}
        return self._resolved(
            "parterre.ticket.purchased.v1", example, event_id, person_id, days_ago, at=at, history_of=history_of
        )

    def refund(self, event_id: str, person_id: str, purchase: Envelope, *, days_ago: int = 2) -> Envelope:
        """Every ticket of `purchase` (one of `purchase`'s) refunded to `person_id` `days_ago`."""
        bought = purchase.data["original"]["data"]
        example = copy.deepcopy(event_type("parterre.ticket.refunded.v1").example)
        example["person"] = {**example["person"], "email": f"{person_id}@example.com"}
        example.update(
            order_id=bought["order_id"],
            ticket_ids=[ticket["ticket_id"] for ticket in bought["tickets"]],
            amount=bought["total"],
        )
        return self._resolved("parterre.ticket.refunded.v1", example, event_id, person_id, days_ago)

    def donation(self, event_id: str, person_id: str, *, days_ago: int = 30) -> Envelope:
        example = copy.deepcopy(event_type("parterre.donation.made.v1").example)
        example["person"] = {**example["person"], "email": f"{person_id}@example.com"}
        example["donation_id"] = f"D-{event_id}"
        return self._resolved("parterre.donation.made.v1", example, event_id, person_id, days_ago)

    def membership(
        self, event_id: str, person_id: str, *, renews_on: date, days_ago: int = 360, history_of: str | None = None
    ) -> Envelope:
        """A renewing membership bought by `person_id` (or, with `history_of`, by that person merged into them)
        `days_ago`, due for renewal on `renews_on`."""
        example = copy.deepcopy(event_type("parterre.subscription.purchased.v1").example)
        example["person"] = {**example["person"], "email": f"{history_of or person_id}@example.com"}
        example.update(
            subscription_id=f"MEM-{event_id}",
            kind="membership",
            season=None,
            starts_on=(NOW - timedelta(days=days_ago)).date(),
            renews_on=renews_on,
            ends_on=None,
        )
        return self._resolved(
            "parterre.subscription.purchased.v1", example, event_id, person_id, days_ago, history_of=history_of
        )

    def scan(
        self, event_id: str, person_id: str, *, ticket_id: str, performance_id: str, starts_in: timedelta | None = None
    ) -> Envelope:
        """A ticket of `person_id` scanned at the door of `performance_id`, which began an hour ago unless it
        `starts_in` some time (then it is scanned ten minutes before it does)."""
        example = copy.deepcopy(event_type("parterre.ticket.scanned.v1").example)
        example["person"] = {**example["person"], "email": f"{person_id}@example.com"}
        example["ticket_id"] = ticket_id
        began = NOW - timedelta(hours=1) if starts_in is None else NOW + starts_in
        example["performance"] = {**example["performance"], "performance_id": performance_id, "starts_at": began}
        example["scanned_at"] = began - timedelta(minutes=10)
        return self._resolved("parterre.ticket.scanned.v1", example, event_id, person_id, days_ago=0)

    def email_open(self, event_id: str, person_id: str, *, history_of: str | None = None) -> Envelope:
        """A campaign email opened by `person_id` (or, with `history_of`, by that person merged into them) now."""
        example = copy.deepcopy(event_type("parterre.email.opened.v1").example)
        example["person"] = {**example["person"], "email": f"{history_of or person_id}@example.com"}
        return self._resolved(
            "parterre.email.opened.v1", example, event_id, person_id, days_ago=0, history_of=history_of
        )

    def email_bounce(
        self, event_id: str, person_id: str, *, email: str, bounce_type: str = "hard", days_ago: int = 0
    ) -> Envelope:
        """A campaign email to `email` that bounced `days_ago`, resolved to `person_id`."""
        example = copy.deepcopy(event_type("parterre.email.bounced.v1").example)
        example["person"] = {**example["person"], "email": email}
        example["bounce_type"] = bounce_type
        return self._resolved("parterre.email.bounced.v1", example, event_id, person_id, days_ago)

    def erasure(self, person_id: str, *, upstream: bool = False) -> Envelope:
        """Parterre's own request to erase `person_id` (its profile API's), or with `upstream` one a shop sent about
        the person's email, which identity resolved to them."""
        example = copy.deepcopy(event_type("parterre.privacy.erasure_requested.v1").example)
        if upstream:
            example["person"] = {"source": "shopify-boutique", "email": f"{person_id}@example.com"}
        else:
            example["person"] = {"source": "parterre-identity", "external_id": person_id}
        # Upstream ids never carry Parterre's person ids: an erasure request's neither.
        request_id = f"erasure-request-{next(_orders)}"
        return self._resolved("parterre.privacy.erasure_requested.v1", example, request_id, person_id, days_ago=0)

    def access_request(self, event_id: str, person_id: str) -> Envelope:
        example = copy.deepcopy(event_type("parterre.privacy.access_requested.v1").example)
        example["person"] = {"source": "shopify-boutique", "email": f"{person_id}@example.com"}
        return self._resolved("parterre.privacy.access_requested.v1", example, event_id, person_id, days_ago=0)

    def merged(self, merge_id: str, survivor_id: str, *merged_ids: str, household_id: str | None = None) -> Envelope:
        return self._identity(
            PersonsMergedV1(
                merge_id=merge_id,
                survivor_person_id=survivor_id,
                merged_person_ids=list(merged_ids),
                reason="Même adresse courriel",
                decided_by=MergeDecider.RULE,
                merged_at=_decided(),
                household_id=household_id,
            ),
            f"merged-{merge_id}",
            survivor_id,
        )

    def unmerged(self, merge_id: str, survivor_id: str, *restored_ids: str) -> Envelope:
        return self._identity(
            PersonUnmergedV1(
                merge_id=merge_id,
                survivor_person_id=survivor_id,
                restored_person_ids=list(restored_ids),
                unmerged_at=_decided(),
                requested_by="reviewer:marie.tremblay",
            ),
            f"unmerged-{merge_id}",
            survivor_id,
        )

    def household_joined(
        self, person_id: str, household_id: str, *, joined_with: str = "per_relative", at: datetime | None = None
    ) -> Envelope:
        return self._identity(
            HouseholdJoinedV1(
                person_id=person_id, household_id=household_id, joined_with=joined_with, joined_at=at or _decided()
            ),
            f"household-{household_id}-{person_id}-{joined_with}",
            person_id,
        )

    def _resolved(
        self,
        type_name: str,
        example: Mapping[str, Any],
        event_id: str,
        person_id: str,
        days_ago: int,
        at: datetime | None = None,
        history_of: str | None = None,
    ) -> Envelope:
        data = event_type(type_name).model.model_validate(example)
        at = at or NOW - timedelta(days=days_ago)
        original = build_envelope(
            data,
            organisation_id=self.organisation_id,
            source=f"/orgs/{self.organisation_id}/sources/billetterie-principale",
            id=event_id,
            time=at,
        )
        method = MatchMethod.EMAIL if person_id in self._known else MatchMethod.NEW
        self._known.add(person_id)
        return self._identity(
            PersonResolvedV1(
                original=original,
                person_id=person_id,
                match=Match(method=method, confidence=1.0),
                history_of=history_of,
            ),
            f"resolved-{event_id}-{person_id}",
            person_id,
        )

    def _identity(self, data: Any, event_id: str, person_id: str) -> Envelope:
        return build_envelope(
            data,
            organisation_id=self.organisation_id,
            source=f"/orgs/{self.organisation_id}/identity",
            id=event_id,
            time=NOW,
            person_id=person_id,
        )


class World(IdentityEvents):
    """A profile store, the shipped rules, and the events identity sends, delivered as the consumer does."""

    def __init__(
        self,
        store: ProfileStore,
        documents: Callable[[], Awaitable[list[str]]],
        organisation_id: str = "theatre-du-nord",
    ) -> None:
        super().__init__(organisation_id)
        self.store = store
        # Every stored document as text, to look a person's id or details up in.
        self.documents = documents
        self.clock = MovableClock()
        self.deps = ProfileDeps(store=store, rules=RULES, clock=self.clock)

    async def deliver(self, envelope: Envelope) -> tuple[Envelope, ...]:
        """Handles the event as the consumer does, publication included; returns what would be published."""
        handled = await self.handle(envelope)
        if handled.after_publish is not None:
            await handled.after_publish()
        return handled.outputs

    async def deliver_batch(self, envelopes: list[Envelope]) -> tuple[Envelope, ...]:
        """Handles a batch as the consumer does: the plain facts together (up to the first record of their key
        that is not one), then the rest one at a time; returns what would be published."""
        together: list[tuple[int, Envelope, PersonResolvedV1]] = []
        blocked: set[str] = set()
        for index, envelope in enumerate(envelopes):
            data, key = parse_data(envelope), record_for(envelope).key
            if key in blocked or not isinstance(data, PersonResolvedV1):
                blocked.add(key)
                continue
            together.append((index, envelope, data))
        handled = await apply_facts([(envelope, data) for _, envelope, data in together], self.deps)
        outputs = list(handled.outputs)
        done = {index for (index, _, _), outcome in zip(together, handled.outcomes, strict=True) if outcome}
        blocked.clear()
        for index, envelope in enumerate(envelopes):
            key = record_for(envelope).key
            if key in blocked or index not in done:
                blocked.add(key)
                outputs.extend(await self.deliver(envelope))
        return tuple(outputs)

    async def handle(self, envelope: Envelope) -> Handled:
        """Handles the event, stopping short of what follows publication (as a crash before it would)."""
        handled = await apply_identity_event(envelope, self.deps)
        assert handled is not None, f"profile does not handle {envelope.type}"
        return handled

    async def sweep(self, *, published: list[Envelope] | None = None, fail_on: str | None = None) -> SweepReport:
        """One sweep as the service runs it; what it publishes lands in `published`. With `fail_on`, publishing
        the events of that person fails, as a crash before Kafka had them would."""
        into = [] if published is None else published

        async def publish(handled: Handled) -> None:
            if fail_on is not None and any(output.data.get("person_id") == fail_on for output in handled.outputs):
                raise CrashError(f"publishing for {fail_on}")
            into.extend(handled.outputs)

        return await sweep_due(self.deps, publish, concurrency=4)

    async def profile(self, person_id: str) -> StoredProfile:
        stored = await self.store.profile(self.organisation_id, person_id)
        assert stored is not None, f"{person_id} has no profile"
        return stored

    async def fields(self, person_id: str) -> dict[str, Any]:
        stored = await self.profile(person_id)
        return view(stored.state, as_of=NOW, seasons=RULES.seasons, household_id=stored.household_id)

    async def tickets(self, person_id: str) -> int:
        return int((await self.fields(person_id))["tickets_bought"])

    async def naming(self, text: str) -> list[str]:
        return [document for document in await self.documents() if text in document]


class CrashError(Exception):
    """The process dies here."""


class Gate:
    """Holds one store call until opened (or fails it, as a crash would): a test lines handlers up in the order it
    wants to check."""

    def __init__(self, method: str, matches: Callable[[tuple[Any, ...]], bool], *, crash: bool) -> None:
        self.method = method
        self.matches = matches
        self.crash = crash
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()
        self.used = False


class GatedStore:
    """Passes every call to the store inside, except a call a gate holds."""

    def __init__(self, inner: ProfileStore) -> None:
        self._inner = inner
        self._gates: list[Gate] = []

    def hold(self, method: str, matches: Callable[[tuple[Any, ...]], bool], *, crash: bool = False) -> Gate:
        gate = Gate(method, matches, crash=crash)
        self._gates.append(gate)
        return gate

    def __getattr__(self, name: str) -> Any:
        inner = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(inner):
            # An iteration (every profile) is not held.
            return inner

        async def call(*args: Any, **kwargs: Any) -> Any:
            for gate in self._gates:
                if gate.method == name and not gate.used and gate.matches(args):
                    gate.used = True
                    gate.reached.set()
                    if gate.crash:
                        raise CrashError(f"{name}{args!r}")
                    await gate.opened.wait()
            return await inner(*args, **kwargs)

        return call


def gated(world: World) -> tuple[World, GatedStore]:
    store = GatedStore(world.store)
    gated_world = World(cast(ProfileStore, store), world.documents, world.organisation_id)
    gated_world.clock = world.clock
    gated_world.deps = replace(gated_world.deps, clock=world.clock)
    return gated_world, store


def types_for(outputs: tuple[Envelope, ...], person_id: str) -> list[str]:
    return sorted(output.type for output in outputs if output.data.get("person_id") == person_id)


def ids(outputs: tuple[Envelope, ...]) -> list[str]:
    return sorted(output.id for output in outputs)


# ---------------------------------------------------------------------------------------------------------------
# Scenarios


async def a_merge_adds_the_histories_up_and_a_redelivery_changes_nothing(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    await world.deliver(world.donation("gift-b", "per_bea"))
    merge = world.merged("mrg_1", "per_anne", "per_bea")

    outputs = await world.deliver(merge)

    assert await world.tickets("per_anne") == 4
    assert (await world.fields("per_anne"))["donations_count"] == 1
    survivor, merged = await world.profile("per_anne"), await world.profile("per_bea")
    assert "donors" in survivor.segments
    assert (merged.merged_into, merged.merged_by, merged.segments) == ("per_anne", "mrg_1", frozenset())
    changed = [output for output in outputs if output.type == PROFILE_CHANGED]
    assert [output.data["person_id"] for output in changed] == ["per_anne"]
    assert changed[0].data["changed"]["tickets_bought"] == 4
    assert sorted(changed[0].data["changed"]["emails"]) == ["per_anne@example.com", "per_bea@example.com"]
    assert "donors" in {output.data["segment"] for output in outputs if output.type == SEGMENT_ENTERED}
    # The merged person leaves every segment it was in; the survivor speaks for the history from now on.
    assert "donors" in {
        output.data["segment"]
        for output in outputs
        if output.type == SEGMENT_EXITED and output.data["person_id"] == "per_bea"
    }
    stored = await world.documents()

    again = await world.deliver(merge)

    assert ids(again) == ids(outputs)
    assert await world.documents() == stored


async def an_unmerge_gives_each_person_back_their_own_facts(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-b", "per_bea", tickets=3))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    unmerge = world.unmerged("mrg_1", "per_anne", "per_bea")

    outputs = await world.deliver(unmerge)

    assert await world.tickets("per_anne") == 1
    assert await world.tickets("per_bea") == 3
    survivor, restored = await world.profile("per_anne"), await world.profile("per_bea")
    assert survivor.merges == ()
    assert (restored.merged_into, restored.merged_by) == (None, None)
    assert restored.segments, "a restored person is in its segments again"
    assert (await world.fields("per_bea"))["emails"] == ["per_bea@example.com"]
    assert (await world.fields("per_anne"))["emails"] == ["per_anne@example.com"]
    assert PROFILE_CHANGED in types_for(outputs, "per_anne")
    assert PROFILE_CHANGED in types_for(outputs, "per_bea")
    assert SEGMENT_ENTERED in types_for(outputs, "per_bea")
    stored = await world.documents()

    again = await world.deliver(unmerge)
    late_merge = await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))

    assert ids(again) == ids(outputs)
    assert late_merge == ()
    assert await world.documents() == stored


async def bea_merged_into_anne(world: World) -> Envelope:
    """Anne (1 ticket) and Béa (2) merged, Béa into Anne; returns the purchase that merged them (3 tickets): Béa's
    box-office id and Anne's email, resolved to Anne as part of Béa's history (an upstream id outranks an email),
    which an unmerge gives back to her."""
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1, person={"external_id": "C-1001"}))
    await world.deliver(world.purchase("sale-b", "per_bea", tickets=2, person={"external_id": "C-2002"}))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    return world.purchase(
        "sale-link",
        "per_anne",
        tickets=3,
        person={"external_id": "C-2002", "email": "per_anne@example.com"},
        history_of="per_bea",
    )


async def the_fact_that_merged_two_persons_goes_back_with_the_one_whose_upstream_id_it_names(world: World) -> None:
    linking = await bea_merged_into_anne(world)
    # In a batch, as the consumer reads it: not one of Anne's plain facts, but Béa's, who is merged away.
    outputs = await world.deliver_batch([linking])
    assert await world.tickets("per_anne") == 6
    assert [output.data["changed"]["tickets_bought"] for output in outputs if output.type == PROFILE_CHANGED] == [6]
    assert types_for(outputs, "per_bea") == [], "a person merged away announces nothing"

    await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    assert await world.tickets("per_anne") == 1
    assert await world.tickets("per_bea") == 5
    assert (await world.fields("per_anne"))["external_ids"] == ["billetterie-principale:C-1001"]
    stored = await world.documents()
    await world.deliver(linking)
    assert await world.documents() == stored

    await world.deliver(world.erasure("per_bea"))

    # Nothing of Béa stays with Anne, nor comes back with the fact delivered again: neither her box-office id nor the
    # purchase it names.
    assert await world.naming("C-2002") == []
    assert await world.deliver(linking) == ()
    assert await world.naming("C-2002") == []
    assert await world.tickets("per_anne") == 1


async def a_person_unmerged_is_told_in_full_even_what_went_back_to_empty_while_merged(world: World) -> None:
    # Downstream (notify's contact) still holds what was announced of Bea before her merge: her tickets refunded while
    # she was merged, the restored profile must say she holds none, not leave it out as the empty profile's value.
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    sale = world.purchase("sale-b", "per_bea", tickets=2)
    await world.deliver(sale)
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    await world.deliver(world.refund("refund-b", "per_bea", sale))

    outputs = await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    assert await world.tickets("per_bea") == 0
    restored = next(
        output.data["changed"]
        for output in outputs
        if output.type == PROFILE_CHANGED and output.data["person_id"] == "per_bea"
    )
    assert restored["tickets_bought"] == 0
    assert restored["last_purchase_at"] is None
    assert set(restored) == set(await world.fields("per_bea"))


async def a_late_fact_for_a_merged_person_lands_on_the_survivor_and_leaves_with_an_unmerge(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    late = world.purchase("sale-late", "per_bea", days_ago=1)

    await lands_on_anne_then_goes_back_to_bea(
        world, world.deliver(late), late, anne_holding=6, anne_after=2, bea_after=4
    )
    logged = await world.store.facts(world.organisation_id, "per_bea", (await world.profile("per_bea")).applied)
    assert "sale-late" in [envelope.id for envelope in logged]


async def lands_on_anne_then_goes_back_to_bea(
    world: World,
    delivering: Awaitable[tuple[Envelope, ...]],
    late: Envelope,
    *,
    anne_holding: int,
    anne_after: int,
    bea_after: int,
) -> None:
    """`late`, a fact of Béa's history (merged into Anne by `mrg_1`), being `delivering`: Anne's profile shows it
    with `anne_holding` tickets and announces them, Béa announces nothing, a redelivery changes nothing; once the
    merge is undone Anne has `anne_after` tickets and Béa `bea_after`."""
    outputs = await delivering

    assert await world.tickets("per_anne") == anne_holding
    changed = [output.data["changed"]["tickets_bought"] for output in outputs if output.type == PROFILE_CHANGED]
    assert changed == [anne_holding]
    assert types_for(outputs, "per_bea") == [], "a person merged away announces nothing"
    stored = await world.documents()
    assert ids(await world.deliver(late)) == ids(outputs)
    assert await world.documents() == stored

    await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    assert (await world.tickets("per_anne"), await world.tickets("per_bea")) == (anne_after, bea_after)


async def a_later_fact_of_a_merged_person_s_history_lands_without_reading_any_history_again_and_leaves_with_an_unmerge(
    world: World,
) -> None:
    linking = await bea_merged_into_anne(world)
    await world.deliver(linking)
    # Béa's box-office id again, while she is merged: identity resolves it to Anne, as part of Béa's history.
    later = world.purchase(
        "sale-later", "per_anne", tickets=4, person={"external_id": "C-2002"}, history_of="per_bea", days_ago=1
    )
    logs_read: list[str] = []
    read_log = world.store.facts

    async def counted(organisation_id: str, person_id: str, through: int) -> list[Envelope]:
        logs_read.append(person_id)
        return await read_log(organisation_id, person_id, through)

    async def counting_logs_read() -> tuple[Envelope, ...]:
        world.store.facts = counted  # type: ignore[method-assign]
        try:
            return await world.deliver(later)
        finally:
            world.store.facts = read_log  # type: ignore[method-assign]

    await lands_on_anne_then_goes_back_to_bea(
        world, counting_logs_read(), later, anne_holding=10, anne_after=1, bea_after=9
    )
    assert logs_read == [], "a regular's every sale would fold their whole history again"


async def a_later_fact_of_a_merged_person_s_history_delivered_again_is_counted_once(world: World) -> None:
    await world.deliver(await bea_merged_into_anne(world))
    # An open and a membership payment add to a count and a sum, where a ticket purchase is known by its order:
    # counted twice, they would show.
    opened = world.email_open("open-later", "per_anne", history_of="per_bea")
    joined = world.membership("member-later", "per_anne", renews_on=date(2027, 9, 1), days_ago=10, history_of="per_bea")

    for fact in (opened, joined):
        first = await world.deliver(fact)
        assert ids(await world.deliver(fact)) == ids(first)

    fields = await world.fields("per_anne")
    # One open, and the catalog example's one payment of 215.00.
    assert (fields["opens_30d"], fields["subscription_spend"]) == (1, Decimal("215.00"))


async def a_later_fact_of_a_merged_person_s_history_is_counted_once_by_a_merge_folding_it_in_before_it_lands(
    world: World,
) -> None:
    await world.deliver(await bea_merged_into_anne(world))
    await world.deliver(world.purchase("sale-z", "per_zoe", days_ago=400))
    slow, store = gated(world)
    # The open is in Béa's log and her profile; before it finds the profile holding her history (reading Anne's
    # first), Anne is merged into Zoé, whose merge reads Béa's log with the open in it.
    gate = store.hold("profile", lambda args: args[1] == "per_anne")
    landing = asyncio.create_task(slow.deliver(slow.email_open("open-later", "per_anne", history_of="per_bea")))
    await gate.reached.wait()
    await world.deliver(world.merged("mrg_2", "per_zoe", "per_anne"))
    gate.opened.set()
    await landing

    assert (await world.fields("per_zoe"))["opens_30d"] == 1
    assert (await world.fields("per_zoe"))["tickets_bought"] == 8


async def erasing_a_person_given_back_leaves_no_profile_recording_how_far_it_read_their_log(world: World) -> None:
    await world.deliver(world.purchase("sale-z", "per_zoe", tickets=1))
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=2))
    # Béa merged into Anne, then Anne into Zoé; the first merge arrives last, before any fact of Béa's.
    first = world.merged("mrg_1", "per_anne", "per_bea")
    await world.deliver(world.merged("mrg_2", "per_zoe", "per_anne"))
    await world.deliver(first)
    # A fact of Anne's history lands on Zoé and folds every history again: Zoé records how far it read Béa's log.
    await world.deliver(world.email_open("open-a", "per_zoe", history_of="per_anne"))
    # Given back, Béa takes nothing out of Zoé's state.
    await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    await world.deliver(world.erasure("per_bea"))

    [proof] = await world.store.privacy_entries(world.organisation_id, person_digest(world.organisation_id, "per_bea"))
    assert await world.naming("per_bea") == []
    assert proof.details["documents_naming_the_person"] == 0


async def an_erasure_leaves_no_document_naming_the_person_and_a_redelivery_does_not_bring_it_back(
    world: World,
) -> None:
    sale = world.purchase("sale-e", "per_emma")
    await world.deliver(sale)
    await world.deliver(world.donation("gift-e", "per_emma"))
    await world.deliver(world.purchase("sale-o", "per_olga"))
    segments = (await world.profile("per_emma")).segments
    erasure = world.erasure("per_emma")

    outputs = await world.deliver(erasure)

    assert {output.data["segment"] for output in outputs if output.type == SEGMENT_EXITED} == segments
    assert [output.type for output in outputs][-1] == "parterre.profile.erased.v1"
    assert {output.data["person_id"] for output in outputs} == {"per_emma"}
    assert await world.store.profile(world.organisation_id, "per_emma") is None
    assert await world.naming("per_emma") == []
    assert await world.tickets("per_olga") == 2
    [proof] = await world.store.privacy_entries(world.organisation_id, person_digest(world.organisation_id, "per_emma"))
    assert proof.action == "erased"
    assert proof.requested_by == "person"
    assert proof.details["documents_naming_the_person"] == 0
    # Olga bought under the same box-office customer id (the fixture's): her profile still holds that detail, and
    # the proof says so rather than hide it.
    assert proof.details["documents_holding_their_details"] == 1
    assert proof.details["collections_searched"]

    assert await world.deliver(sale) == ()
    assert await world.deliver(world.purchase("sale-e2", "per_emma")) == ()
    assert await world.deliver(erasure) == ()
    assert await world.store.profile(world.organisation_id, "per_emma") is None
    assert await world.naming("per_emma") == []


async def a_household_shows_on_the_profile_announced_once_and_an_older_one_never_replaces_it(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    joined = world.household_joined("per_anne", "hh_roy", joined_with="per_bea")

    outputs = await world.deliver(joined)

    assert [(output.type, output.data["changed"]) for output in outputs] == [
        (PROFILE_CHANGED, {"household_id": "hh_roy"})
    ]
    assert (await world.fields("per_anne"))["household_id"] == "hh_roy"
    stored = await world.documents()
    assert ids(await world.deliver(joined)) == ids(outputs)
    assert await world.documents() == stored
    later = await world.deliver(world.purchase("sale-a2", "per_anne"))
    changed = [output.data["changed"] for output in later if output.type == PROFILE_CHANGED]
    assert len(changed) == 1
    assert "household_id" not in changed[0]
    # Identity moves her to another household; the first decision, delivered again after, changes nothing.
    moved = world.household_joined("per_anne", "hh_tremblay", joined_with="per_paul")
    assert [output.data["changed"] for output in await world.deliver(moved)] == [{"household_id": "hh_tremblay"}]
    older = await world.handle(joined)
    assert (older.outputs, older.outcome) == ((), "unchanged")
    assert (await world.fields("per_anne"))["household_id"] == "hh_tremblay"
    # Then back to the first household, told before the move it follows arrives again: she stays back.
    back = await world.deliver(world.household_joined("per_anne", "hh_roy", joined_with="per_luc"))
    assert [output.data["changed"] for output in back] == [{"household_id": "hh_roy"}]
    assert await world.deliver(moved) == ()
    assert (await world.fields("per_anne"))["household_id"] == "hh_roy"
    await world.deliver(world.erasure("per_anne"))
    assert await world.deliver(world.household_joined("per_anne", "hh_roy", joined_with="per_zoe")) == ()
    assert await world.naming("per_anne") == []
    assert await world.naming("hh_roy") == []


async def a_survivor_moves_to_the_household_its_merge_names_whatever_order_the_household_events_arrive_in(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    await world.deliver(world.purchase("sale-c", "per_carl"))
    await world.deliver(world.household_joined("per_anne", "hh_anne"))
    # Decided before the merge, delivered after it (keyed by other persons, they travel other partitions).
    bea_joined = world.household_joined("per_bea", "hh_bea")
    anne_earlier = world.household_joined("per_anne", "hh_earlier")
    merge = world.merged("mrg_1", "per_anne", "per_carl", "per_bea", household_id="hh_bea")

    merged = await world.deliver(merge)

    assert (await world.fields("per_anne"))["household_id"] == "hh_bea"
    changed = [output.data["changed"] for output in merged if output.type == PROFILE_CHANGED]
    assert [one.get("household_id") for one in changed] == ["hh_bea"]
    # A person merged away takes theirs quietly, for an unmerge; the survivor is not moved back by an older one.
    assert await world.deliver(bea_joined) == ()
    assert await world.deliver(world.household_joined("per_carl", "hh_carl")) == ()
    assert await world.deliver(anne_earlier) == ()
    assert (await world.fields("per_anne"))["household_id"] == "hh_bea"

    await world.deliver(world.unmerged("mrg_1", "per_anne", "per_carl", "per_bea"))

    assert (await world.fields("per_bea"))["household_id"] == "hh_bea"
    assert (await world.fields("per_carl"))["household_id"] == "hh_carl"
    # A merge naming no household leaves the survivor in its own.
    await world.deliver(world.purchase("sale-d", "per_dan"))
    await world.deliver(world.merged("mrg_2", "per_bea", "per_dan"))
    assert (await world.fields("per_bea"))["household_id"] == "hh_bea"


def household_changes(outputs: tuple[Envelope, ...], person_id: str) -> list[str | None]:
    """The households the `profile changed` events of `person_id` among `outputs` announce, in order."""
    return [
        output.data["changed"]["household_id"]
        for output in outputs
        if output.type == PROFILE_CHANGED
        and output.data["person_id"] == person_id
        and "household_id" in output.data["changed"]
    ]


async def an_unmerge_gives_the_survivor_back_the_household_it_had_before_the_merge(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    anne_joined = world.household_joined("per_anne", "hh_anne")
    await world.deliver(anne_joined)
    await world.deliver(world.household_joined("per_bea", "hh_bea"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea", household_id="hh_bea"))
    assert (await world.fields("per_anne"))["household_id"] == "hh_bea"
    unmerge = world.unmerged("mrg_1", "per_anne", "per_bea")

    # Handled, then the process dies before Kafka has its events; Anne buys meanwhile.
    first = (await world.handle(unmerge)).outputs
    await world.deliver(world.purchase("sale-a2", "per_anne", days_ago=1))
    again = await world.deliver(unmerge)

    assert household_changes(first, "per_anne") == ["hh_anne"]
    assert ids(again) == ids(first)
    assert (await world.fields("per_anne"))["household_id"] == "hh_anne"
    assert (await world.fields("per_bea"))["household_id"] == "hh_bea"
    # Her own household's decision, delivered again, is the one she shows: it changes nothing.
    assert await world.deliver(anne_joined) == ()
    await world.deliver(world.erasure("per_bea"))
    assert await world.naming("per_bea") == []
    assert (await world.fields("per_anne"))["household_id"] == "hh_anne"


async def a_household_decided_after_a_merge_outlasts_its_unmerge_and_a_later_merge_s_unmerge_gives_it_back(
    world: World,
) -> None:
    for person_id in ("per_anne", "per_bea", "per_carl"):
        await world.deliver(world.purchase(f"sale-{person_id}", person_id))
    await world.deliver(world.household_joined("per_anne", "hh_anne"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea", household_id="hh_bea"))
    await world.deliver(world.household_joined("per_anne", "hh_new", joined_with="per_paul"))
    await world.deliver(world.merged("mrg_2", "per_anne", "per_carl", household_id="hh_carl"))
    assert (await world.fields("per_anne"))["household_id"] == "hh_carl"

    undone_later = await world.deliver(world.unmerged("mrg_2", "per_anne", "per_carl"))

    assert household_changes(undone_later, "per_anne") == ["hh_new"]
    assert (await world.fields("per_anne"))["household_id"] == "hh_new"

    undone_first = await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    assert household_changes(undone_first, "per_anne") == []
    assert (await world.fields("per_anne"))["household_id"] == "hh_new"


async def a_survivor_in_no_household_before_its_merge_is_in_none_once_it_is_undone(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    await world.deliver(world.household_joined("per_bea", "hh_bea"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea", household_id="hh_bea"))
    unmerge = world.unmerged("mrg_1", "per_anne", "per_bea")

    outputs = await world.deliver(unmerge)

    assert household_changes(outputs, "per_anne") == [None]
    survivor = await world.profile("per_anne")
    assert (survivor.household_id, survivor.household_at) == (None, None)
    assert ids(await world.deliver(unmerge)) == ids(outputs)
    # Identity, counting her in a household afterwards, is heard as for anyone in none.
    joined = await world.deliver(world.household_joined("per_anne", "hh_later", joined_with="per_paul"))
    assert household_changes(joined, "per_anne") == ["hh_later"]


async def a_household_decided_before_a_merge_and_delivered_after_it_is_the_one_its_unmerge_gives_back(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    await world.deliver(world.household_joined("per_anne", "hh_anne"))
    # Identity moved her on before the merge; the news travels slower than the merge.
    moved_before = world.household_joined("per_anne", "hh_earlier", joined_with="per_paul")
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea", household_id="hh_bea"))
    assert await world.deliver(moved_before) == ()
    assert (await world.fields("per_anne"))["household_id"] == "hh_bea"

    outputs = await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    assert household_changes(outputs, "per_anne") == ["hh_earlier"]
    assert (await world.fields("per_anne"))["household_id"] == "hh_earlier"


def rules_fired(outputs: tuple[Envelope, ...]) -> list[tuple[str, str]]:
    return [(output.data["rule"], output.data["person_id"]) for output in outputs if output.type == TRIGGER_FIRED]


async def three_productions(world: World, person_id: str, *, days_ago: int = 5) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []
    for production in ("albertine", "hosanna", "belles-soeurs"):
        sale = world.purchase(f"sale-{person_id}-{production}", person_id, production=production, days_ago=days_ago)
        sent += rules_fired(await world.deliver(sale))
    return sent


async def a_member_whose_renewal_is_on_its_way_is_offered_no_season_pass(world: World) -> None:
    # Due two days ago, its renewal not yet charged or not yet here: still a member.
    await world.deliver(world.membership("mem-anne", "per_anne", renews_on=NOW.date() - timedelta(days=2)))
    assert await three_productions(world, "per_anne", days_ago=1) == []

    # Due three weeks ago and never renewed: no longer one.
    await world.deliver(world.membership("mem-bea", "per_bea", renews_on=NOW.date() - timedelta(days=21)))
    assert ("subscription-offer-third-production", "per_bea") in await three_productions(world, "per_bea", days_ago=1)


async def an_older_first_gift_imported_after_its_anniversary_sends_no_late_anniversary(world: World) -> None:
    # First gift a year and five days ago: its anniversary is marked when the gift arrives.
    first = rules_fired(await world.deliver(world.donation("gift-2025", "per_anne", days_ago=370)))
    assert ("donor-anniversary", "per_anne") in first
    # An older gift from the old system, whose anniversary passed months ago: it waits for the next one.
    older = rules_fired(await world.deliver(world.donation("gift-2024", "per_anne", days_ago=500)))
    assert ("donor-anniversary", "per_anne") not in older
    assert (await world.fields("per_anne"))["donations_count"] == 2


async def a_lapsed_buyer_asked_back_is_not_asked_again_when_their_last_order_is_then_refunded_in_full(
    world: World,
) -> None:
    async def asked(fact: Envelope) -> list[str]:
        """What the fact fires, and the sweep after it."""
        delivered = await world.deliver(fact)
        published: list[Envelope] = []
        await world.sweep(published=published)
        return [rule for rule, _ in rules_fired(delivered + tuple(published))]

    latest = world.purchase("sale-latest", "per_anne", days_ago=375)
    assert (await asked(latest)).count("lapsed-buyer") == 1
    # An older purchase arriving late changes nothing; then the latest order is refunded in full, and the last
    # purchase kept goes back to the older one: she was asked about a later one already.
    older = world.purchase("sale-older", "per_anne", days_ago=390)
    assert "lapsed-buyer" not in await asked(older)
    assert "lapsed-buyer" not in await asked(world.refund("refund-latest", "per_anne", latest))
    older_at = datetime.fromisoformat(older.data["original"]["time"])
    assert (await world.fields("per_anne"))["last_purchase_at"] == older_at

    # A purchase made after she was asked is a new one to come back from (a year after it, she is asked again: see
    # the rule's own tests); an older one imported now is not.
    assert "lapsed-buyer" not in await asked(world.purchase("sale-later", "per_anne", days_ago=370))
    assert "lapsed-buyer" not in await asked(world.purchase("sale-now", "per_anne", days_ago=0))


async def a_lapsed_buyers_history_imported_purchase_after_purchase_asks_them_back_once(world: World) -> None:
    # Three purchases of thirteen months ago, each in turn the last one as the old box office's export is read.
    history = [world.purchase(f"old-{days}", "per_max", days_ago=days) for days in (380, 375, 370)]
    fired = [rule for envelope in history for rule, _ in rules_fired(await world.deliver(envelope))]
    published: list[Envelope] = []
    await world.sweep(published=published)
    gifts = [world.donation(f"gift-{days}", "per_max", days_ago=days) for days in (385, 378, 371)]
    fired += [rule for envelope in gifts for rule, _ in rules_fired(await world.deliver(envelope))]
    await world.sweep(published=published)

    assert [rule for rule in fired + [rule for rule, _ in rules_fired(tuple(published))] if "lapsed" in rule] == [
        "lapsed-buyer",
        "lapsed-donor",
    ]


async def a_household_joined_after_a_lapse_the_sweep_has_not_reached_leaves_the_win_back_to_it(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-lea", "per_lea", days_ago=360))
    await world.sweep()
    # Her twelve months pass; before the sweep comes by, identity finds her a household.
    world.clock.at = NOW + timedelta(days=10)
    joined = rules_fired(await world.deliver(world.household_joined("per_lea", "hh_1")))
    published: list[Envelope] = []
    await world.sweep(published=published)

    assert ("lapsed-buyer", "per_lea") not in joined, "a household fires no time-based rule itself"
    assert [rule for rule, _ in rules_fired(tuple(published))] == ["lapsed-buyer"]


async def a_merge_after_a_lapse_the_sweep_has_not_reached_leaves_the_win_back_to_it(world: World) -> None:
    await world.deliver(world.purchase("sale-lea", "per_lea", days_ago=360))
    await world.deliver(world.donation("gift-bea", "per_bea", days_ago=20))
    await world.sweep()
    world.clock.at = NOW + timedelta(days=10)
    merged = rules_fired(await world.deliver(world.merged("mrg_lea", "per_lea", "per_bea")))
    published: list[Envelope] = []
    await world.sweep(published=published)

    assert ("lapsed-buyer", "per_lea") not in merged
    assert [rule for rule, _ in rules_fired(tuple(published)) if rule == "lapsed-buyer"] == ["lapsed-buyer"]


async def a_merge_that_makes_a_rule_hold_fires_it_once_and_again_with_the_merge_delivered_again(world: World) -> None:
    # Two productions under the box office's record, a third under the shop's: one patron, three this season.
    await world.deliver(world.purchase("sale-a1", "per_anne", production="albertine"))
    await world.deliver(world.purchase("sale-a2", "per_anne", production="hosanna"))
    await world.deliver(world.purchase("sale-b1", "per_bea", production="belles-soeurs"))
    merge = world.merged("mrg_1", "per_anne", "per_bea")

    # Handled, then the process dies before Kafka has its events; the survivor changes again meanwhile.
    first = (await world.handle(merge)).outputs
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=1))
    again = await world.deliver(merge)

    # Each was welcomed after their first purchase already (a rule of time, the sweep's): not at the merge.
    assert rules_fired(first) == [("subscription-offer-third-production", "per_anne")]
    assert [output.id for output in again if output.type == TRIGGER_FIRED] == [
        output.id for output in first if output.type == TRIGGER_FIRED
    ]
    assert rules_fired(await world.deliver(world.purchase("sale-a3", "per_anne", production="tartuffe"))) == []


async def a_merge_sends_nothing_a_person_merged_in_was_sent_however_deep_and_in_any_order(world: World) -> None:
    # Carl had his three productions and the offer on his own. Carl is merged into Béa, Béa into Anne, Anne into
    # Zoé, each holding one production of her own; the first two merges arrive in the other order too.
    carl_was_sent = await three_productions(world, "per_carl")
    for person_id in ("per_bea", "per_anne", "per_zoe", "per_yan"):
        await world.deliver(world.purchase(f"sale-{person_id}", person_id, production="tartuffe"))
    carl_into_bea = world.merged("mrg_1", "per_bea", "per_carl")
    bea_into_anne = world.merged("mrg_2", "per_anne", "per_bea")
    anne_into_zoe = world.merged("mrg_3", "per_zoe", "per_anne")

    sent = [
        *await world.deliver(bea_into_anne),
        *await world.deliver(carl_into_bea),
        *await world.deliver(anne_into_zoe),
    ]

    assert ("subscription-offer-third-production", "per_carl") in carl_was_sent
    assert rules_fired(tuple(sent)) == []
    assert (await world.fields("per_zoe"))["season.current.productions"] == 4
    # Zoé merged into Yan later: the whole chain still counts, and nothing is sent again.
    into_yan = await world.deliver(world.merged("mrg_4", "per_yan", "per_zoe"))
    assert rules_fired(into_yan) == []


DONOR_OF_THE_YEAR = load_triggers(
    dedent("""\
        triggers:
          donor-of-the-year:
            title: {fr: Donateur de l'année, en: Donor of the year}
            description: Thank a donor, once a calendar year.
            when: {field: donations_count, op: gte, value: 1}
            period: year
    """)
)


async def a_merge_does_not_send_again_what_a_person_merged_in_held_in_an_earlier_period(world: World) -> None:
    world.deps = replace(world.deps, rules=replace(RULES, triggers=DONOR_OF_THE_YEAR))
    world.clock.at = NOW - timedelta(days=365)
    bea_was_sent = await world.deliver(world.donation("gift-b", "per_bea", days_ago=400))
    await world.deliver(world.purchase("sale-a", "per_anne", days_ago=400))
    world.clock.at = NOW

    merged = await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))

    assert rules_fired(bea_was_sent) == [("donor-of-the-year", "per_bea")]
    assert rules_fired(merged) == []


async def an_unmerge_leaves_the_survivor_free_to_be_sent_what_only_the_person_restored_was_sent(
    world: World,
) -> None:
    await three_productions(world, "per_bea")
    await world.deliver(world.donation("gift-a", "per_anne"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    anne_was_sent = await three_productions(world, "per_anne", days_ago=1)

    assert anne_was_sent == [
        ("welcome-first-purchase", "per_anne"),
        ("subscription-offer-third-production", "per_anne"),
    ]


async def a_merge_reaching_a_survivor_merged_since_fires_what_it_makes_hold_where_the_histories_now_are(
    world: World,
) -> None:
    # Two productions on the box office's record (Anne), a third on the shop's (Béa); Anne's merge into Zoé, the
    # newsletter's record, decided after Béa's into Anne, arrives first.
    await world.deliver(world.purchase("sale-a1", "per_anne", production="albertine", days_ago=40))
    await world.deliver(world.purchase("sale-a2", "per_anne", production="hosanna", days_ago=40))
    await world.deliver(world.purchase("sale-b1", "per_bea", production="belles-soeurs", days_ago=40))
    await world.deliver(world.email_open("open-z", "per_zoe"))
    bea_into_anne = world.merged("mrg_1", "per_anne", "per_bea")
    anne_into_zoe = world.merged("mrg_2", "per_zoe", "per_anne")

    first = await world.deliver(anne_into_zoe)
    second = await world.deliver(bea_into_anne)
    again = await world.deliver(bea_into_anne)

    assert rules_fired(first) == []
    assert (await world.fields("per_zoe"))["season.current.productions"] == 3
    assert rules_fired(second) == [("subscription-offer-third-production", "per_zoe")]
    assert [output.id for output in again if output.type == TRIGGER_FIRED] == [
        output.id for output in second if output.type == TRIGGER_FIRED
    ]


async def anne_freed_then_merged_with_bea(world: World, *, merge_first: bool) -> list[tuple[str, str]]:
    """Two productions on Anne's record, a third on Béa's; Anne merged into Zoé (mrg_0), then identity undoes that and
    merges Béa into Anne (mrg_1). The unmerge and the merge are keyed by different survivors: either comes first."""
    await world.deliver(world.email_open("open-z", "per_zoe"))
    await world.deliver(world.purchase("sale-a1", "per_anne", production="albertine", days_ago=40))
    await world.deliver(world.purchase("sale-a2", "per_anne", production="hosanna", days_ago=40))
    await world.deliver(world.purchase("sale-b1", "per_bea", production="belles-soeurs", days_ago=40))
    await world.deliver(world.merged("mrg_0", "per_zoe", "per_anne"))
    unmerge, merge = world.unmerged("mrg_0", "per_zoe", "per_anne"), world.merged("mrg_1", "per_anne", "per_bea")
    outputs: list[Envelope] = []
    for message in (merge, unmerge) if merge_first else (unmerge, merge):
        outputs += await world.deliver(message)
    return rules_fired(tuple(outputs))


async def a_merge_reaching_a_survivor_freed_from_a_merge_not_yet_undone_fires_what_it_makes_hold(world: World) -> None:
    assert await anne_freed_then_merged_with_bea(world, merge_first=True) == [
        ("subscription-offer-third-production", "per_anne")
    ]
    assert (await world.fields("per_anne"))["season.current.productions"] == 3


async def a_merge_reaching_a_survivor_after_its_earlier_merge_was_undone_fires_what_it_makes_hold(world: World) -> None:
    assert await anne_freed_then_merged_with_bea(world, merge_first=False) == [
        ("subscription-offer-third-production", "per_anne")
    ]


async def a_survivor_is_not_welcomed_again_for_a_first_purchase_a_person_merged_in_was_welcomed_for(
    world: World,
) -> None:
    # Béa bought on the shop and was welcomed; Anne, the box office's record of the same patron, only gave.
    bea_was_sent = await world.deliver(world.purchase("sale-b", "per_bea", days_ago=5))
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=20))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))

    # Anne now holds a first purchase within 30 days: the welcome's condition holds at her next fact.
    after_a_fact = await world.deliver(world.email_open("open-a", "per_anne"))

    assert rules_fired(bea_was_sent) == [("welcome-first-purchase", "per_bea")]
    assert (await world.fields("per_anne"))["first_purchase_at"] is not None
    assert rules_fired(after_a_fact) == []


async def a_survivor_is_not_welcomed_again_through_a_merge_of_a_merge(world: World) -> None:
    # Carl was welcomed, then merged into Béa; Béa, who never bought, into Anne, who never bought either.
    carl_was_sent = await world.deliver(world.purchase("sale-c", "per_carl", days_ago=5))
    await world.deliver(world.donation("gift-b", "per_bea", days_ago=20))
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=20))
    await world.deliver(world.merged("mrg_1", "per_bea", "per_carl"))
    at_bea = await world.deliver(world.email_open("open-b", "per_bea"))
    await world.deliver(world.merged("mrg_2", "per_anne", "per_bea"))

    at_anne = await world.deliver(world.email_open("open-a", "per_anne"))

    assert rules_fired(carl_was_sent) == [("welcome-first-purchase", "per_carl")]
    assert rules_fired(at_bea) == []
    assert rules_fired(at_anne) == []


async def carl_welcomed_then_merged_into_bea_then_bea_into_anne(world: World, *, in_decision_order: bool) -> None:
    # Carl bought and was welcomed; Béa and Anne only gave. Béa's merge into Anne is decided after Carl's into Béa.
    assert rules_fired(await world.deliver(world.purchase("sale-c", "per_carl", days_ago=5))) == [
        ("welcome-first-purchase", "per_carl")
    ]
    await world.deliver(world.donation("gift-b", "per_bea", days_ago=20))
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=20))
    carl_into_bea, bea_into_anne = (
        world.merged("mrg_1", "per_bea", "per_carl"),
        world.merged("mrg_2", "per_anne", "per_bea"),
    )
    for merge in (carl_into_bea, bea_into_anne) if in_decision_order else (bea_into_anne, carl_into_bea):
        await world.deliver(merge)


async def a_survivor_is_not_welcomed_again_when_the_merges_bringing_a_welcomed_person_arrive_out_of_order(
    world: World,
) -> None:
    await carl_welcomed_then_merged_into_bea_then_bea_into_anne(world, in_decision_order=False)

    at_anne = await world.deliver(world.email_open("open-a", "per_anne"))
    in_a_batch = await world.deliver_batch([world.email_open("open-a2", "per_anne")])

    assert (await world.fields("per_anne"))["first_purchase_at"] is not None
    assert rules_fired(at_anne) == []
    assert rules_fired(in_a_batch) == []


async def a_survivor_is_welcomed_once_the_welcomed_person_deep_in_its_merges_is_unmerged(
    world: World,
) -> None:
    await carl_welcomed_then_merged_into_bea_then_bea_into_anne(world, in_decision_order=True)
    await world.deliver(world.unmerged("mrg_1", "per_bea", "per_carl"))
    anne_buys = await world.deliver(world.purchase("sale-a", "per_anne", days_ago=1))

    assert rules_fired(anne_buys) == [("welcome-first-purchase", "per_anne")]


async def a_survivor_is_welcomed_once_the_welcomed_person_deep_in_its_merges_is_erased(world: World) -> None:
    await carl_welcomed_then_merged_into_bea_then_bea_into_anne(world, in_decision_order=True)
    await world.deliver(world.erasure("per_carl"))
    anne_buys = await world.deliver(world.purchase("sale-a", "per_anne", days_ago=1))

    assert rules_fired(anne_buys) == [("welcome-first-purchase", "per_anne")]


async def fact_while_the_survivor_waits(world: World, message: Envelope, change_key: str) -> tuple[Envelope, ...]:
    """What a fact of Anne's fires while `message`, changing someone deeper in her merges, has changed them and
    not yet her (its write to Anne, `change_key`, held)."""
    held_world, store = gated(world)
    gate = store.hold("take_turn", lambda args: args[1] == "per_anne" and str(args[3]).startswith(change_key))
    handling = asyncio.create_task(held_world.deliver(message))
    await gate.reached.wait()
    fired = await world.deliver(world.email_open("open-meanwhile", "per_anne"))
    gate.opened.set()
    await handling
    return fired


async def a_survivor_is_not_welcomed_while_an_unmerge_deeper_in_its_merges_has_not_reached_it(world: World) -> None:
    await carl_welcomed_then_merged_into_bea_then_bea_into_anne(world, in_decision_order=True)

    # Anne still holds Carl's purchase until the unmerge reaches her: it is not hers to be welcomed for.
    meanwhile = await fact_while_the_survivor_waits(
        world, world.unmerged("mrg_1", "per_bea", "per_carl"), "unmerge:mrg_1"
    )
    anne_buys = await world.deliver(world.purchase("sale-a", "per_anne", days_ago=1))

    assert rules_fired(meanwhile) == []
    assert rules_fired(anne_buys) == [("welcome-first-purchase", "per_anne")]


async def a_survivor_is_not_welcomed_while_an_erasure_deeper_in_its_merges_has_not_reached_it(world: World) -> None:
    await carl_welcomed_then_merged_into_bea_then_bea_into_anne(world, in_decision_order=True)

    meanwhile = await fact_while_the_survivor_waits(world, world.erasure("per_carl"), "erasure:")
    anne_buys = await world.deliver(world.purchase("sale-a", "per_anne", days_ago=1))

    assert rules_fired(meanwhile) == []
    assert rules_fired(anne_buys) == [("welcome-first-purchase", "per_anne")]


async def merge_bringing_carl_while_he_is_erased(
    world: World, *, beneath: bool, dies_once_stored: bool = False
) -> tuple[Envelope, ...]:
    """Carl buys, Dan and Anne give; a merge into Anne brings Carl's history (through Dan, merged into Anne, if Carl
    was merged into Dan `beneath` it; else Carl himself) and has read it when Carl's erasure runs, before storing
    Anne. Returns what the merge publishes; if it `dies_once_stored`, what it publishes delivered again."""
    await world.deliver(world.purchase("sale-c", "per_carl", days_ago=5))
    await world.deliver(world.donation("gift-d", "per_dan", days_ago=20))
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=20))
    if beneath:
        await world.deliver(world.merged("mrg_1", "per_dan", "per_carl"))
    merge = world.merged("mrg_2", "per_anne", "per_dan" if beneath else "per_carl")
    merging_world, store = gated(world)
    storing_anne = store.hold("save", lambda args: args[0].person_id == "per_anne")
    if dies_once_stored:
        store.hold("erased_among", lambda args: True, crash=True)
    merging = asyncio.create_task(merging_world.deliver(merge))
    await asyncio.wait_for(storing_anne.reached.wait(), HANG_GUARD_SECONDS)

    await world.deliver(world.erasure("per_carl"))
    storing_anne.opened.set()
    if not dies_once_stored:
        return await asyncio.wait_for(merging, HANG_GUARD_SECONDS)
    with pytest.raises(CrashError):
        await asyncio.wait_for(merging, HANG_GUARD_SECONDS)
    return await world.deliver(merge)


async def a_merge_bringing_a_person_erased_meanwhile_publishes_nothing_naming_them(world: World) -> None:
    published = await merge_bringing_carl_while_he_is_erased(world, beneath=False)

    # His id goes out with the erasure's own events; his details never.
    assert [output.type for output in published if "per_carl@example.com" in output.model_dump_json()] == []
    assert await world.naming("per_carl") == []
    assert "per_carl@example.com" not in (await world.fields("per_anne"))["emails"]


async def a_merge_bringing_a_person_erased_meanwhile_through_a_merge_beneath_publishes_nothing_naming_them(
    world: World,
) -> None:
    published = await merge_bringing_carl_while_he_is_erased(world, beneath=True)

    # His id goes out with the erasure's own events; his details never.
    assert [output.type for output in published if "per_carl@example.com" in output.model_dump_json()] == []
    assert await world.naming("per_carl") == []
    anne = await world.fields("per_anne")
    assert "per_carl@example.com" not in anne["emails"]
    assert "per_dan@example.com" in anne["emails"]
    # What the merge brings besides is told: Dan's gift, with Anne's.
    changed = [output.data["changed"] for output in published if output.type == PROFILE_CHANGED]
    assert any("per_dan@example.com" in change.get("emails", ()) for change in changed)


async def a_merge_that_died_before_leaving_out_a_person_erased_meanwhile_publishes_nothing_naming_them_again(
    world: World,
) -> None:
    published = await merge_bringing_carl_while_he_is_erased(world, beneath=False, dies_once_stored=True)

    assert [output.type for output in published if "per_carl@example.com" in output.model_dump_json()] == []
    assert await world.naming("per_carl") == []
    assert (await world.fields("per_anne"))["emails"] == ["per_anne@example.com"]


async def a_merge_stored_after_an_erasure_marked_the_person_it_brings_publishes_nothing_naming_them(
    world: World,
) -> None:
    # The merge has read Carl's history when his erasure marks him; the erasure goes on looking for the profiles
    # holding him only once the merge has stored Anne and is done.
    await world.deliver(world.purchase("sale-c", "per_carl", days_ago=5))
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=20))
    merging_world, merging_store = gated(world)
    storing_anne = merging_store.hold("save", lambda args: args[0].person_id == "per_anne")
    merging = asyncio.create_task(merging_world.deliver(world.merged("mrg_1", "per_anne", "per_carl")))
    await asyncio.wait_for(storing_anne.reached.wait(), HANG_GUARD_SECONDS)
    erasing_world, erasing_store = gated(world)
    looking = erasing_store.hold("profile", lambda args: args[1] == "per_carl")
    erasing = asyncio.create_task(erasing_world.deliver(world.erasure("per_carl")))
    await asyncio.wait_for(looking.reached.wait(), HANG_GUARD_SECONDS)

    storing_anne.opened.set()
    published = list(await asyncio.wait_for(merging, HANG_GUARD_SECONDS))
    looking.opened.set()
    published += await asyncio.wait_for(erasing, HANG_GUARD_SECONDS)

    assert [output.type for output in published if "per_carl@example.com" in output.model_dump_json()] == []
    assert await world.naming("per_carl") == []
    assert (await world.fields("per_anne"))["emails"] == ["per_anne@example.com"]


async def offer_merge_bringing_carl_while_he_is_erased(world: World, *, then: str) -> tuple[Envelope, ...]:
    """Anne saw two productions, Carl a third: the merge bringing him makes the offer hold. Carl is erased while
    the merge has read his history and not stored Anne; `then` the merge goes on (`goes_on`), dies as it checks who
    it brought (`dies_checking`) or as it gives up its claims (`dies_releasing`), and is delivered again, or is
    undone before it checks (`undone`). Returns what the merge published in the end."""
    await world.deliver(world.purchase("sale-a1", "per_anne", production="albertine"))
    await world.deliver(world.purchase("sale-a2", "per_anne", production="hosanna"))
    await world.deliver(world.purchase("sale-c1", "per_carl", production="belles-soeurs"))
    merge = world.merged("mrg_1", "per_anne", "per_carl")
    merging_world, store = gated(world)
    storing_anne = store.hold("save", lambda args: args[0].person_id == "per_anne")
    dying_at = {"dies_checking": "erased_among", "dies_releasing": "release_triggers"}.get(then)
    if dying_at is not None:
        store.hold(dying_at, lambda args: True, crash=True)
    checking = store.hold("erased_among", lambda args: True) if then == "undone" else None
    merging = asyncio.create_task(merging_world.deliver(merge))
    await asyncio.wait_for(storing_anne.reached.wait(), HANG_GUARD_SECONDS)
    await world.deliver(world.erasure("per_carl"))
    storing_anne.opened.set()
    if checking is not None:
        await asyncio.wait_for(checking.reached.wait(), HANG_GUARD_SECONDS)
        await world.deliver(world.unmerged("mrg_1", "per_anne", "per_carl"))
        checking.opened.set()
    if dying_at is None:
        return await asyncio.wait_for(merging, HANG_GUARD_SECONDS)
    with pytest.raises(CrashError):
        await asyncio.wait_for(merging, HANG_GUARD_SECONDS)
    return await world.deliver(merge)


async def third_production_of_anne(world: World) -> list[tuple[str, str]]:
    return rules_fired(await world.deliver(world.purchase("sale-a3", "per_anne", production="tartuffe")))


async def an_offer_a_merge_fired_for_a_person_erased_meanwhile_is_left_to_fire_later(world: World) -> None:
    assert rules_fired(await offer_merge_bringing_carl_while_he_is_erased(world, then="goes_on")) == []
    assert await third_production_of_anne(world) == [("subscription-offer-third-production", "per_anne")]


async def an_offer_a_merge_fired_for_a_person_erased_meanwhile_is_left_to_fire_later_though_it_died_checking(
    world: World,
) -> None:
    assert rules_fired(await offer_merge_bringing_carl_while_he_is_erased(world, then="dies_checking")) == []
    assert await third_production_of_anne(world) == [("subscription-offer-third-production", "per_anne")]


async def an_offer_a_merge_fired_for_a_person_erased_meanwhile_is_left_to_fire_later_though_it_died_releasing(
    world: World,
) -> None:
    assert rules_fired(await offer_merge_bringing_carl_while_he_is_erased(world, then="dies_releasing")) == []
    assert await third_production_of_anne(world) == [("subscription-offer-third-production", "per_anne")]


async def an_offer_a_merge_fired_for_a_person_erased_meanwhile_is_left_to_fire_later_though_it_was_undone(
    world: World,
) -> None:
    assert rules_fired(await offer_merge_bringing_carl_while_he_is_erased(world, then="undone")) == []
    assert await third_production_of_anne(world) == [("subscription-offer-third-production", "per_anne")]


async def a_merge_that_died_before_leaving_out_a_person_erased_beneath_it_publishes_nothing_naming_them_again(
    world: World,
) -> None:
    published = await merge_bringing_carl_while_he_is_erased(world, beneath=True, dies_once_stored=True)

    assert [output.type for output in published if "per_carl@example.com" in output.model_dump_json()] == []
    assert await world.naming("per_carl") == []
    assert (await world.fields("per_anne"))["emails"] == ["per_dan@example.com", "per_anne@example.com"]


async def a_person_erased_deep_in_a_chain_is_named_by_no_merge_that_brought_them(world: World) -> None:
    await world.deliver(world.purchase("sale-c", "per_carl", days_ago=5))
    await world.deliver(world.donation("gift-d", "per_dan", days_ago=20))
    await world.deliver(world.merged("mrg_1", "per_dan", "per_carl"))
    await world.deliver(world.merged("mrg_2", "per_anne", "per_dan"))
    assert (await world.profile("per_anne")).merges[0].brought == ("per_carl", "per_dan")

    await world.deliver(world.erasure("per_carl"))

    assert (await world.profile("per_anne")).merges[0].brought == ("per_dan",)
    assert await world.naming("per_carl") == []


async def a_merge_delivered_again_after_someone_it_brought_was_erased_since_changes_nothing(world: World) -> None:
    # Anne saw two productions, Dan a third, Carl (merged into Dan) gave: Dan's merge into Anne sends the offer. Long
    # after, Carl is erased, and the merge is delivered again before the erasure's last step.
    await world.deliver(world.purchase("sale-a1", "per_anne", production="albertine"))
    await world.deliver(world.purchase("sale-a2", "per_anne", production="hosanna"))
    await world.deliver(world.purchase("sale-d1", "per_dan", production="belles-soeurs"))
    await world.deliver(world.donation("gift-c", "per_carl", days_ago=20))
    await world.deliver(world.merged("mrg_1", "per_dan", "per_carl"))
    merge = world.merged("mrg_2", "per_anne", "per_dan")
    assert rules_fired(await world.deliver(merge)) == [("subscription-offer-third-production", "per_anne")]
    erasure = await world.handle(world.erasure("per_carl"))
    before = await world.profile("per_anne")

    assert rules_fired(await world.deliver(merge)) == []

    assert (await world.profile("per_anne")).version == before.version
    assert erasure.after_publish is not None
    await erasure.after_publish()
    assert await world.naming("per_carl") == []
    # Sent once this season: a fourth production does not send it again.
    assert rules_fired(await world.deliver(world.purchase("sale-a4", "per_anne", production="tartuffe"))) == []


async def a_merge_whose_erased_person_the_erasure_let_go_meanwhile_still_tells_what_the_others_brought(
    world: World,
) -> None:
    # Carl's erasure marks him while the merge reads him, and takes him out of Anne once the merge stored her,
    # before the merge checks who it brought.
    await world.deliver(world.purchase("sale-c", "per_carl", days_ago=5))
    await world.deliver(world.donation("gift-b", "per_bea", days_ago=20))
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=20))
    merging_world, merging_store = gated(world)
    storing_anne = merging_store.hold("save", lambda args: args[0].person_id == "per_anne")
    checking = merging_store.hold("erased_among", lambda args: True)
    merging = asyncio.create_task(merging_world.deliver(world.merged("mrg_1", "per_anne", "per_bea", "per_carl")))
    await asyncio.wait_for(storing_anne.reached.wait(), HANG_GUARD_SECONDS)
    erasing_world, erasing_store = gated(world)
    looking = erasing_store.hold("profile", lambda args: args[1] == "per_carl")
    erasing = asyncio.create_task(erasing_world.deliver(world.erasure("per_carl")))
    await asyncio.wait_for(looking.reached.wait(), HANG_GUARD_SECONDS)
    storing_anne.opened.set()
    await asyncio.wait_for(checking.reached.wait(), HANG_GUARD_SECONDS)
    looking.opened.set()
    published = list(await asyncio.wait_for(erasing, HANG_GUARD_SECONDS))
    checking.opened.set()
    published += await asyncio.wait_for(merging, HANG_GUARD_SECONDS)

    assert [output.type for output in published if "per_carl@example.com" in output.model_dump_json()] == []
    changed = [output.data["changed"] for output in published if output.type == PROFILE_CHANGED]
    assert [change["donations_count"] for change in changed if "donations_count" in change] == [2]
    assert await world.naming("per_carl") == []


async def merge_that_dies_once_it_stored_carl_erased_meanwhile(world: World, merge: Envelope) -> Handled:
    """The merge reads Carl, Carl's erasure runs but for its last step, the merge stores the survivor and dies
    before its check. Returns the erasure as handled, its last step (`after_publish`) still to run."""
    merging_world, store = gated(world)
    survivor = merge.data["survivor_person_id"]
    storing = store.hold("save", lambda args: args[0].person_id == survivor)
    store.hold("erased_among", lambda args: True, crash=True)
    merging = asyncio.create_task(merging_world.deliver(merge))
    await asyncio.wait_for(storing.reached.wait(), HANG_GUARD_SECONDS)
    erasure = await world.handle(world.erasure("per_carl"))
    storing.opened.set()
    with pytest.raises(CrashError):
        await asyncio.wait_for(merging, HANG_GUARD_SECONDS)
    assert erasure.after_publish is not None
    return erasure


async def a_merge_done_again_on_a_survivor_merged_meanwhile_leaves_it_in_no_segment(world: World) -> None:
    await world.deliver(world.purchase("sale-c", "per_carl", days_ago=5))
    await world.deliver(world.donation("gift-a", "per_anne"))
    await world.deliver(world.purchase("sale-z", "per_zed", days_ago=5))
    carl_into_anne = world.merged("mrg_1", "per_anne", "per_carl")
    erasure = await merge_that_dies_once_it_stored_carl_erased_meanwhile(world, carl_into_anne)
    await world.deliver(world.merged("mrg_2", "per_zed", "per_anne"))
    assert erasure.after_publish is not None
    await erasure.after_publish()

    await world.deliver(carl_into_anne)

    anne = await world.profile("per_anne")
    assert (anne.merged_by, anne.segments, anne.due_at) == ("mrg_2", frozenset(), None)
    assert await world.naming("per_carl") == []


async def a_merge_cut_short_whose_survivor_was_recomputed_before_the_erasure_s_last_step_is_still_told(
    world: World,
) -> None:
    # A late gift of Béa's recomputes Anne, without Carl, before the erasure's last step; the offer the merge
    # claimed as it first stored Anne (Carl's production was her third) was never sent.
    await world.deliver(world.purchase("sale-a1", "per_anne", production="albertine"))
    await world.deliver(world.purchase("sale-a2", "per_anne", production="hosanna"))
    await world.deliver(world.purchase("sale-c1", "per_carl", production="belles-soeurs"))
    await world.deliver(world.donation("gift-b", "per_bea", days_ago=20))
    merge = world.merged("mrg_1", "per_anne", "per_bea", "per_carl")
    erasure = await merge_that_dies_once_it_stored_carl_erased_meanwhile(world, merge)
    published = [*erasure.outputs, *await world.deliver(world.donation("gift-b2", "per_bea", days_ago=1))]
    assert erasure.after_publish is not None
    await erasure.after_publish()

    again = await world.deliver(merge)

    published += again
    assert [output.type for output in published if "per_carl@example.com" in output.model_dump_json()] == []
    assert rules_fired(tuple(published)) == []
    # Told from Anne as she was before the merge: Béa's gifts, which Anne had none of.
    told = [output.data["changed"] for output in again if output.type == PROFILE_CHANGED]
    assert [change.get("donations_count") for change in told] == [2]
    assert await third_production_of_anne(world) == [("subscription-offer-third-production", "per_anne")]


async def a_merge_done_again_by_two_writers_is_stored_once(world: World) -> None:
    # The merge's first delivery stored Anne while Carl was erased, and is slow to do it again; a second delivery
    # (the consumer's partitions moved meanwhile) does it.
    await world.deliver(world.purchase("sale-c", "per_carl", days_ago=5))
    await world.deliver(world.donation("gift-b", "per_bea", days_ago=20))
    merge = world.merged("mrg_1", "per_anne", "per_bea", "per_carl")
    slow_world, store = gated(world)
    storing_anne = store.hold("save", lambda args: args[0].person_id == "per_anne")
    checking = store.hold("erased_among", lambda args: True)
    slow = asyncio.create_task(slow_world.deliver(merge))
    await asyncio.wait_for(storing_anne.reached.wait(), HANG_GUARD_SECONDS)
    await world.deliver(world.erasure("per_carl"))
    storing_anne.opened.set()
    await asyncio.wait_for(checking.reached.wait(), HANG_GUARD_SECONDS)
    second = await world.deliver(merge)
    done_again = await world.profile("per_anne")

    checking.opened.set()
    first = await asyncio.wait_for(slow, HANG_GUARD_SECONDS)

    assert (await world.profile("per_anne")).version == done_again.version
    told = [output for output in (*first, *second) if output.type == PROFILE_CHANGED]
    assert len({output.id for output in told}) == len({output.model_dump_json() for output in told})
    assert [output.type for output in first if "per_carl@example.com" in output.model_dump_json()] == []


async def a_merge_stored_before_the_erasure_s_last_step_and_cut_short_is_done_again_without_them(world: World) -> None:
    # Carl's erasure ran while the merge read him, and its last step (after publication) finds Anne stored with
    # his history; the merge died before its check.
    await world.deliver(world.purchase("sale-c", "per_carl", days_ago=5))
    await world.deliver(world.donation("gift-b", "per_bea", days_ago=20))
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=20))
    merge = world.merged("mrg_1", "per_anne", "per_bea", "per_carl")
    erasure = await merge_that_dies_once_it_stored_carl_erased_meanwhile(world, merge)
    assert erasure.after_publish is not None
    await erasure.after_publish()
    assert await world.naming("per_carl") == []

    published = await world.deliver(merge)

    assert [output.type for output in published if "per_carl@example.com" in output.model_dump_json()] == []
    changed = [output.data["changed"] for output in published if output.type == PROFILE_CHANGED]
    assert [change["donations_count"] for change in changed if "donations_count" in change] == [2]
    assert (await world.fields("per_anne"))["emails"] == ["per_bea@example.com", "per_anne@example.com"]


async def a_merge_done_again_without_a_person_erased_meanwhile_still_tells_what_the_others_brought(
    world: World,
) -> None:
    # Béa and Carl merged into Anne; Carl erased while the merge read him; the merge dies once it stored Anne.
    await world.deliver(world.purchase("sale-c", "per_carl", days_ago=5))
    await world.deliver(world.donation("gift-b", "per_bea", days_ago=20))
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=20))
    merge = world.merged("mrg_1", "per_anne", "per_bea", "per_carl")
    merging_world, store = gated(world)
    storing_anne = store.hold("save", lambda args: args[0].person_id == "per_anne")
    store.hold("erased_among", lambda args: True, crash=True)
    merging = asyncio.create_task(merging_world.deliver(merge))
    await asyncio.wait_for(storing_anne.reached.wait(), HANG_GUARD_SECONDS)
    await world.deliver(world.erasure("per_carl"))
    storing_anne.opened.set()
    with pytest.raises(CrashError):
        await asyncio.wait_for(merging, HANG_GUARD_SECONDS)

    published = await world.deliver(merge)

    assert [output.type for output in published if "per_carl@example.com" in output.model_dump_json()] == []
    # Downstream last heard of Anne's gift alone: Béa's is told.
    changed = [output.data["changed"] for output in published if output.type == PROFILE_CHANGED]
    assert [change["donations_count"] for change in changed if "donations_count" in change] == [2]
    assert "per_bea@example.com" in (await world.fields("per_anne"))["emails"]


async def a_fact_cut_short_and_done_again_by_a_merge_decides_as_it_did_first(world: World) -> None:
    # Carl, welcomed, is merged into Béa after Béa was merged into Anne; Anne's first purchase is claimed and cut
    # short before the merge bringing Carl reaches her, and that merge does it again.
    assert rules_fired(await world.deliver(world.purchase("sale-c", "per_carl", days_ago=5))) == [
        ("welcome-first-purchase", "per_carl")
    ]
    await world.deliver(world.donation("gift-b", "per_bea", days_ago=20))
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=20))
    carl_into_bea, bea_into_anne = (
        world.merged("mrg_1", "per_bea", "per_carl"),
        world.merged("mrg_2", "per_anne", "per_bea"),
    )
    await world.deliver(bea_into_anne)
    sale = world.purchase("sale-a", "per_anne", days_ago=1)
    crashing, store = gated(world)
    store.hold("save", lambda args: args[0].person_id == "per_anne", crash=True)
    with pytest.raises(CrashError):
        await crashing.deliver(sale)

    done_again = await world.deliver(carl_into_bea)
    redelivered = await world.deliver(sale)

    # Decided on Anne as she was when it was first claimed: the welcome it claimed goes out, once.
    sent = [output.id for output in (*done_again, *redelivered) if output.type == TRIGGER_FIRED]
    assert rules_fired(done_again) == [("welcome-first-purchase", "per_anne")]
    assert len(set(sent)) == 1
    assert "welcome-first-purchase:per_anne:once" in (await world.profile("per_anne")).fired


async def rob_merged_three_deep_then_unmerged(world: World) -> None:
    # Rob, welcomed, merged into Sam, Sam into Max, Max into Tia; then identity undid Rob's merge.
    assert rules_fired(await world.deliver(world.purchase("sale-r", "per_rob", days_ago=5))) == [
        ("welcome-first-purchase", "per_rob")
    ]
    for person_id in ("per_sam", "per_max", "per_tia", "per_xav"):
        await world.deliver(world.email_open(f"open-{person_id}", person_id))
    await world.deliver(world.merged("mrg_1", "per_sam", "per_rob"))
    await world.deliver(world.merged("mrg_2", "per_max", "per_sam"))
    await world.deliver(world.merged("mrg_3", "per_tia", "per_max"))
    await world.deliver(world.unmerged("mrg_1", "per_sam", "per_rob"))


async def an_unmerge_deep_in_a_chain_leaves_no_profile_above_with_the_history_it_took_out(world: World) -> None:
    await rob_merged_three_deep_then_unmerged(world)
    # Identity then merged Max into Xav; the unmerge of Max's merge into Tia is still on its way.
    await world.deliver(world.merged("mrg_4", "per_xav", "per_max"))

    xav_buys = await world.deliver(world.purchase("sale-x", "per_xav", days_ago=1))

    for person_id in ("per_max", "per_tia", "per_xav"):
        assert "per_rob@example.com" not in (await world.fields(person_id))["emails"], person_id
    assert rules_fired(xav_buys) == [("welcome-first-purchase", "per_xav")]


async def a_person_unmerged_deep_in_a_chain_then_erased_is_named_nowhere(world: World) -> None:
    await rob_merged_three_deep_then_unmerged(world)

    await world.deliver(world.erasure("per_rob"))

    assert await world.naming("per_rob") == []


async def a_late_fact_landing_while_a_survivor_is_merged_on_reaches_the_profile_that_holds_it_in_the_end(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-b", "per_bea", tickets=2))
    await world.deliver(world.purchase("sale-z", "per_zoe", tickets=4))
    bea_into_anne, anne_into_zoe = (
        world.merged("mrg_1", "per_anne", "per_bea"),
        world.merged("mrg_2", "per_zoe", "per_anne"),
    )
    late = world.purchase("sale-late", "per_bea", tickets=8, days_ago=1)
    held_world, store = gated(world)
    anne_absorbed: list[bool] = []

    def sees_anne_absorb(args: tuple[Any, ...]) -> bool:
        if args[0].person_id == "per_anne" and args[0].last_change == "merge:mrg_1":
            anne_absorbed.append(True)
        return False

    # Béa's merge stored at Anne, its handler held just after; Anne's merge into Zoé held at Zoé's turn, having
    # read Anne; Béa's late purchase held at Anne's.
    store.hold("save", sees_anne_absorb)
    after_absorb = store.hold("is_erased", lambda args: bool(anne_absorbed) and args[1] == "per_bea")
    zoe_turn = store.hold("take_turn", lambda args: args[1] == "per_zoe" and args[3] == "merge:mrg_2")
    late_turn = store.hold("take_turn", lambda args: args[1] == "per_anne" and str(args[3]).startswith("late:"))
    absorbing = asyncio.create_task(held_world.deliver(bea_into_anne))
    await after_absorb.reached.wait()
    merging_on = asyncio.create_task(held_world.deliver(anne_into_zoe))
    await zoe_turn.reached.wait()
    landing = asyncio.create_task(held_world.deliver(late))
    await late_turn.reached.wait()
    zoe_turn.opened.set()
    await merging_on
    late_turn.opened.set()
    await landing
    after_absorb.opened.set()
    await absorbing

    assert await world.tickets("per_zoe") == 15


async def a_late_fact_two_merges_down_landing_while_a_merge_on_is_applied_reaches_the_top(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-c", "per_carl", tickets=2))
    await world.deliver(world.purchase("sale-d", "per_dan", tickets=4))
    await world.deliver(world.merged("mrg_1", "per_carl", "per_dan"))
    carl_into_anne = world.merged("mrg_2", "per_anne", "per_carl")
    late = world.purchase("sale-late", "per_dan", tickets=8, days_ago=1)
    merging_world, merging_store = gated(world)
    landing_world, landing_store = gated(world)
    anne_turn = merging_store.hold("take_turn", lambda args: args[1] == "per_anne" and args[3] == "merge:mrg_2")
    carl_turn = landing_store.hold("take_turn", lambda args: args[1] == "per_carl" and str(args[3]).startswith("late:"))

    # Anne has read Carl and Dan without the late purchase; Dan's purchase, logged, finds Carl at the top.
    merging = asyncio.create_task(merging_world.deliver(carl_into_anne))
    await anne_turn.reached.wait()
    landing = asyncio.create_task(landing_world.deliver(late))
    await carl_turn.reached.wait()
    anne_turn.opened.set()
    await merging
    carl_turn.opened.set()
    await landing

    assert await world.tickets("per_anne") == 15


async def merge_dies_storing(world: World, merge: Envelope, person_id: str) -> None:
    """The merge's process dies as it stores its step at `person_id`; then the merge is delivered again."""
    crashing, store = gated(world)
    change = f"merge:{merge.data['merge_id']}"
    store.hold("save", lambda args: args[0].person_id == person_id and args[0].last_change == change, crash=True)
    with pytest.raises(CrashError):
        await crashing.deliver(merge)
    await world.deliver(merge)


async def a_survivor_left_while_letting_a_history_go_is_not_blocked_for_good(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-c", "per_carl", tickets=2))
    await world.deliver(world.purchase("sale-d", "per_dan", tickets=4))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_carl"))
    # Identity undid Carl's merge into Anne and merged him into Dan; the unmerge is still on its way.
    unmerge = world.unmerged("mrg_1", "per_anne", "per_carl")
    carl_into_dan = world.merged("mrg_2", "per_dan", "per_carl")
    # Carl is marked merged into Dan; Anne takes her number to let his history go, and the process dies there.
    await merge_dies_storing(world, carl_into_dan, "per_anne")
    # Anne's next writer does the step held again: Carl's tickets leave her before the unmerge arrives.
    await world.deliver(world.purchase("sale-a2", "per_anne", tickets=1))
    before_the_unmerge = (await world.tickets("per_anne"), await world.tickets("per_dan"))
    await world.deliver(unmerge)

    assert before_the_unmerge == (2, 6)
    assert (await world.tickets("per_anne"), await world.tickets("per_dan")) == (2, 6)


async def a_survivor_left_while_letting_a_history_go_by_a_merge_undone_since_is_not_blocked_for_good(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-c", "per_carl", tickets=2))
    await world.deliver(world.purchase("sale-d", "per_dan", tickets=4))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_carl"))
    # Identity undid Carl's merge into Anne, merged him into Dan, then undid that too; the first unmerge is late.
    unmerge = world.unmerged("mrg_1", "per_anne", "per_carl")
    carl_into_dan = world.merged("mrg_2", "per_dan", "per_carl")
    # Carl is marked merged into Dan; Anne takes her number to let his history go, and the process dies there.
    await merge_dies_storing(world, carl_into_dan, "per_anne")
    await world.deliver(world.unmerged("mrg_2", "per_dan", "per_carl"))
    anne_buys = await world.deliver(world.purchase("sale-a2", "per_anne", tickets=1))
    # Carl's history left Anne with the step done again, before the late unmerge.
    assert not (await world.profile("per_anne")).holds("mrg_1", "per_carl")
    assert await world.tickets("per_anne") == 2
    await world.deliver(unmerge)

    assert anne_buys
    assert [await world.tickets(person) for person in ("per_anne", "per_carl", "per_dan")] == [2, 2, 4]


async def a_holder_left_while_letting_go_a_survivor_freed_by_a_later_merge_is_not_blocked_for_good(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-t", "per_tia", tickets=8))
    await world.deliver(world.purchase("sale-d", "per_dan", tickets=4))
    await world.deliver(world.purchase("sale-c", "per_carl", tickets=2))
    await world.deliver(world.merged("mrg_t", "per_tia", "per_dan"))
    # Identity undid Dan's merge into Tia, then merged Carl into Dan; the unmerge is still on its way.
    unmerge = world.unmerged("mrg_t", "per_tia", "per_dan")
    carl_into_dan = world.merged("mrg_2", "per_dan", "per_carl")
    # Dan takes Carl in and is active again; Tia takes her number to let Dan's history go, and the process dies.
    await merge_dies_storing(world, carl_into_dan, "per_tia")
    tia_buys = await world.deliver(world.purchase("sale-t2", "per_tia", tickets=1))
    # Dan's history left Tia with the step done again, before the late unmerge.
    assert not (await world.profile("per_tia")).holds("mrg_t", "per_dan")
    assert await world.tickets("per_tia") == 9
    await world.deliver(unmerge)

    assert tia_buys
    assert [await world.tickets(person) for person in ("per_tia", "per_dan")] == [9, 6]


async def carl_in_anne_then_dan_both_undone(world: World) -> tuple[Envelope, Envelope, Envelope, Envelope]:
    """Anne, Carl and Dan with 1, 2 and 4 tickets, Carl merged into Anne; identity then undid that (the unmerge is
    late), merged Carl into Dan, undid that too and merged Carl into Anne again. The four identity events after the
    first merge, in identity's order."""
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-c", "per_carl", tickets=2))
    await world.deliver(world.purchase("sale-d", "per_dan", tickets=4))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_carl"))
    return (
        world.unmerged("mrg_1", "per_anne", "per_carl"),
        world.merged("mrg_2", "per_dan", "per_carl"),
        world.unmerged("mrg_2", "per_dan", "per_carl"),
        world.merged("mrg_3", "per_anne", "per_carl"),
    )


async def a_merge_in_force_again_is_not_let_go_by_a_held_step_of_a_merge_undone_since(world: World) -> None:
    unmerge_1, carl_into_dan, unmerge_2, carl_into_anne_again = await carl_in_anne_then_dan_both_undone(world)
    crashing, store = gated(world)
    anne_turn = store.hold("take_turn", lambda args: args[1] == "per_anne" and args[3] == "merge:mrg_2")
    store.hold(
        "save", lambda args: args[0].person_id == "per_anne" and args[0].last_change == "merge:mrg_2", crash=True
    )
    merging = asyncio.create_task(crashing.deliver(carl_into_dan))
    await anne_turn.reached.wait()
    # Carl is marked merged into Dan; before that merge's step reaches Anne, the merge back into her is handled.
    await world.deliver(carl_into_anne_again)
    assert await world.tickets("per_anne") == 3
    anne_turn.opened.set()
    with pytest.raises(CrashError):
        await merging

    await world.deliver(carl_into_dan)
    await world.deliver(unmerge_2)
    await world.deliver(world.purchase("sale-a2", "per_anne", tickets=1))
    await world.deliver(unmerge_1)

    anne, carl = await world.profile("per_anne"), await world.profile("per_carl")
    assert (carl.merged_by, carl.merged_into) == ("mrg_3", "per_anne")
    assert anne.holds("mrg_3", "per_carl")
    assert [await world.tickets(person) for person in ("per_anne", "per_dan")] == [4, 4]
    # Carl's next purchase reaches Anne.
    await world.deliver(world.purchase("sale-c2", "per_carl", tickets=3))
    assert await world.tickets("per_anne") == 7


async def a_helper_doing_a_held_step_again_late_does_not_let_go_a_merge_stored_since(world: World) -> None:
    unmerge_1, carl_into_dan, unmerge_2, carl_into_anne_again = await carl_in_anne_then_dan_both_undone(world)
    await merge_dies_storing(world, carl_into_dan, "per_anne")
    await world.deliver(unmerge_2)
    # Two writers of Anne find her number held and do the step again; the slow one reads Dan as the fast one is
    # done, and the merge back into Anne is handled in between.
    fast, fast_store = gated(world)
    slow, slow_store = gated(world)
    fast_turn = fast_store.hold("take_turn", lambda args: args[1] == "per_anne" and args[3] == "merge:mrg_2")
    slow_redo = slow_store.hold("profile", lambda args: args[1] == "per_dan")
    fast_buys = asyncio.create_task(fast.deliver(world.purchase("sale-a2", "per_anne", tickets=1)))
    slow_buys = asyncio.create_task(slow.deliver(world.purchase("sale-a3", "per_anne", tickets=1)))
    await slow_redo.reached.wait()
    await fast_turn.reached.wait()
    fast_turn.opened.set()
    await fast_buys
    await world.deliver(carl_into_anne_again)
    assert await world.tickets("per_anne") == 4
    slow_redo.opened.set()
    await slow_buys
    await world.deliver(unmerge_1)

    assert (await world.profile("per_anne")).holds("mrg_3", "per_carl")
    assert await world.tickets("per_anne") == 5


async def carl_erased_while_a_step_letting_him_go_holds_anne(world: World, *, undone_first: bool) -> None:
    unmerge_1, carl_into_dan, unmerge_2, _ = await carl_in_anne_then_dan_both_undone(world)
    # Carl is marked merged into Dan; Anne takes her number to let his history go, and the process dies there.
    await merge_dies_storing(world, carl_into_dan, "per_anne")
    if undone_first:
        await world.deliver(unmerge_2)

    # The erasure forgets the messages naming Carl, that of the step holding Anne's number among them.
    await world.deliver(world.erasure("per_carl"))
    anne_buys = await world.deliver(world.purchase("sale-a2", "per_anne", tickets=1))
    # The erasure took Carl's history out of Anne, before the late unmerge.
    assert not (await world.profile("per_anne")).holds("mrg_1", "per_carl")
    assert await world.tickets("per_anne") == 2
    await world.deliver(unmerge_1)
    if not undone_first:
        await world.deliver(unmerge_2)

    assert anne_buys
    assert [await world.tickets(person) for person in ("per_anne", "per_dan")] == [2, 4]
    assert await world.naming("per_carl") == []


async def a_person_erased_while_a_step_letting_them_go_holds_a_profile_does_not_block_it(world: World) -> None:
    await carl_erased_while_a_step_letting_him_go_holds_anne(world, undone_first=False)


async def a_person_erased_while_a_step_of_a_merge_undone_since_holds_a_profile_does_not_block_it(
    world: World,
) -> None:
    await carl_erased_while_a_step_letting_him_go_holds_anne(world, undone_first=True)


async def passed_over_while_stalled(world: World, person_id: str) -> None:
    """Waits until the person's profile has moved past the number a stalled writer holds (see `_pass_over`)."""
    before = (await world.profile(person_id)).applied
    for _ in range(600):
        if (await world.profile(person_id)).applied > before:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{person_id}'s held number was never passed over")


async def a_live_writer_whose_number_was_passed_over_makes_its_change_again(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-c", "per_carl", tickets=2))
    await world.deliver(world.purchase("sale-e", "per_eve", tickets=4))
    merge = world.merged("mrg_1", "per_anne", "per_carl", "per_eve")
    slow, store = gated(world)
    # The merge's writer has marked Carl and Eve and taken Anne's number, and is slow filing her look-ups.
    stall = store.hold("index_lookups", lambda args: args[1] == "per_anne")
    merging = asyncio.create_task(slow.deliver(merge))
    await stall.reached.wait()
    # Carl's erasure forgets the merge's message; Anne's next writer, after waiting, passes her number over.
    await world.deliver(world.erasure("per_carl"))
    buying = asyncio.create_task(world.deliver(world.purchase("sale-a2", "per_anne", tickets=1)))
    await passed_over_while_stalled(world, "per_anne")
    stall.opened.set()
    with pytest.raises(ProfileBusyError):
        await merging
    await buying

    # Not acknowledged, the merge is delivered again and made at a later number.
    await world.deliver(merge)
    await world.deliver(world.purchase("sale-e2", "per_eve", tickets=3))

    eve, anne = await world.profile("per_eve"), await world.profile("per_anne")
    assert (eve.merged_by, eve.merged_into) == ("mrg_1", "per_anne")
    assert anne.holds("mrg_1", "per_eve")
    assert await world.tickets("per_anne") == 9


async def a_live_writer_whose_number_was_passed_over_announces_nothing_it_did_not_store(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-c", "per_carl", tickets=2))
    joined = world.household_joined("per_anne", "hh_1", joined_with="per_carl")
    slow, store = gated(world)
    # Slow just before its check that the profile was not overtaken.
    stall = store.hold("applied", lambda args: list(args[1]) == ["per_anne"])
    joining = asyncio.create_task(slow.deliver(joined))
    await stall.reached.wait()
    await world.deliver(world.erasure("per_carl"))
    buying = asyncio.create_task(world.deliver(world.purchase("sale-a2", "per_anne", tickets=1)))
    await passed_over_while_stalled(world, "per_anne")
    stall.opened.set()
    with pytest.raises(ProfileBusyError):
        await joining
    await buying

    assert (await world.profile("per_anne")).household_id is None
    announced = await world.deliver(joined)
    assert [output.data["changed"].get("household_id") for output in announced if output.type == PROFILE_CHANGED] == [
        "hh_1"
    ]
    assert (await world.profile("per_anne")).household_id == "hh_1"


async def bea_marked_into_anne_as_anne_is_erased(world: World, *, writer_dies: bool) -> None:
    """Bea's merge into Anne marks Bea, then takes Anne's number; Anne's erasure runs before Anne holds the merge, so
    it finds no Bea to leave merged into no one. The merge's writer is still at work then (it finds Anne erased
    when it has stored her), or it died storing Anne (the merge, delivered again, finds her erased)."""
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-b", "per_bea", tickets=3))
    merge = world.merged("mrg_1", "per_anne", "per_bea")
    merging, store = gated(world)
    stall = store.hold(
        "save", lambda args: args[0].person_id == "per_anne" and args[0].last_change == "merge:mrg_1", crash=writer_dies
    )
    under_way = asyncio.create_task(merging.deliver(merge))
    await stall.reached.wait()
    assert (await world.profile("per_bea")).merged_into == "per_anne"

    await world.deliver(world.erasure("per_anne"))
    if writer_dies:
        with pytest.raises(CrashError):
            await under_way
        await world.deliver(merge)
    else:
        stall.opened.set()
        await under_way

    assert await world.naming("per_anne") == []
    merged = await world.profile("per_bea")
    assert (merged.merged_by, merged.merged_into) == ("mrg_1", None)
    await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))
    assert await world.tickets("per_bea") == 3
    assert not (await world.profile("per_bea")).is_merged


async def a_person_merged_into_a_survivor_erased_as_the_merge_is_stored_is_left_to_an_unmerge(world: World) -> None:
    await bea_marked_into_anne_as_anne_is_erased(world, writer_dies=False)


async def a_person_merged_into_a_survivor_erased_after_the_merge_died_is_left_to_an_unmerge(world: World) -> None:
    await bea_marked_into_anne_as_anne_is_erased(world, writer_dies=True)


async def a_merge_whose_survivor_was_erased_as_it_was_stored_announces_the_same_exits_again(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-b", "per_bea", tickets=3))
    assert (await world.profile("per_bea")).segments
    merge = world.merged("mrg_1", "per_anne", "per_bea")
    merging, store = gated(world)
    stall = store.hold("save", lambda args: args[0].person_id == "per_anne" and args[0].last_change == "merge:mrg_1")
    # Handled, not published: the process dies before Kafka has its events.
    under_way = asyncio.create_task(merging.handle(merge))
    await stall.reached.wait()
    await world.deliver(world.erasure("per_anne"))
    stall.opened.set()
    first = await under_way
    assert SEGMENT_EXITED in types_for(first.outputs, "per_bea")

    again = await world.deliver(merge)

    assert ids(tuple(output for output in again if output.data.get("person_id") == "per_bea")) == ids(
        tuple(output for output in first.outputs if output.data.get("person_id") == "per_bea")
    )


async def a_late_merge_undone_since_announces_nothing_of_a_later_merge_left_without_its_survivor(world: World) -> None:
    for person_id, tickets in {"per_anne": 1, "per_bea": 3, "per_carl": 2}.items():
        await world.deliver(world.purchase(f"sale-{person_id}", person_id, tickets=tickets))
    # Identity merged Bea into Carl, undid it, and merged her into Anne; the first merge arrives last.
    into_carl = world.merged("mrg_0", "per_carl", "per_bea")
    into_anne = world.merged("mrg_1", "per_anne", "per_bea")
    world.unmerged("mrg_0", "per_carl", "per_bea")
    assert SEGMENT_EXITED in types_for(await world.deliver(into_anne), "per_bea")
    await world.deliver(world.erasure("per_anne"))
    assert (await world.profile("per_bea")).merged_into is None

    late = await world.deliver(into_carl)

    assert types_for(late, "per_bea") == []


async def two_writers_passing_one_number_over_leave_what_the_faster_stored_after_it(world: World) -> None:
    tickets = {"per_anne": 1, "per_carl": 2, "per_dan": 4, "per_quinn": 8, "per_zoe": 16}
    for person_id, count in tickets.items():
        await world.deliver(world.purchase(f"sale-{person_id}", person_id, tickets=count))
    await world.deliver(world.merged("mrg_h", "per_anne", "per_carl"))
    await world.deliver(world.merged("mrg_q", "per_quinn", "per_anne"))
    unmerge = world.unmerged("mrg_h", "per_anne", "per_carl")
    await merge_dies_storing(world, world.merged("mrg_2", "per_dan", "per_carl"), "per_quinn")
    slow, store = gated(world)
    stall = store.hold("pass_turn", lambda args: args[1] == "per_quinn")
    # Anne's late purchase climbs to Quinn, finds her number held by the step, and is slow passing it over.
    buying = asyncio.create_task(slow.deliver(world.purchase("sale-a2", "per_anne", tickets=1)))
    await stall.reached.wait()
    # Zoe's merge (another topic) passes the number over too, and is stored at the next one.
    await world.deliver(world.merged("mrg_z", "per_quinn", "per_zoe"))
    assert (await world.profile("per_quinn")).holds("mrg_z", "per_zoe")
    stall.opened.set()
    try:
        await buying
    except ProfileBusyError:
        # Not acknowledged: the consumer delivers it again.
        await world.deliver(world.purchase("sale-a2", "per_anne", tickets=1))
    await world.deliver(unmerge)

    zoe = await world.profile("per_zoe")
    assert (zoe.merged_by, zoe.merged_into) == ("mrg_z", "per_quinn")
    assert (await world.profile("per_quinn")).holds("mrg_z", "per_zoe")
    assert await world.tickets("per_quinn") == 1 + 8 + 1 + 16


async def quinn_above_a_step_left_half_done(world: World, holder_id: str, held_id: str) -> None:
    """Quinn holds `holder_id`, who holds `held_id` through a merge identity undid (the unmerge is late) before merging
    Carl into Dan. That merge lets `held_id` go at the holder (Carl, merged; or Dan, its survivor, active again),
    then recomputes Quinn and dies storing her; delivered again, it never comes back to Quinn. Quinn's number is
    passed over: she holds the history let go until the late unmerge recomputes her."""
    tickets = {holder_id: 1, "per_carl": 2, "per_dan": 4, "per_quinn": 8}
    for person_id, count in tickets.items():
        await world.deliver(world.purchase(f"sale-{person_id}", person_id, tickets=count))
    await world.deliver(world.merged("mrg_h", holder_id, held_id))
    await world.deliver(world.merged("mrg_q", "per_quinn", holder_id))
    assert await world.tickets("per_quinn") == 9 + tickets[held_id]
    unmerge = world.unmerged("mrg_h", holder_id, held_id)
    await merge_dies_storing(world, world.merged("mrg_2", "per_dan", "per_carl"), "per_quinn")

    quinn_buys = await world.deliver(world.purchase("sale-q2", "per_quinn", tickets=1))
    await world.deliver(unmerge)

    assert quinn_buys
    assert [await world.tickets(person) for person in ("per_quinn", "per_dan")] == [10, 6]


async def a_step_recomputing_the_holder_above_a_history_let_go_is_not_held_for_good(world: World) -> None:
    await quinn_above_a_step_left_half_done(world, "per_anne", "per_carl")


async def a_step_recomputing_the_holder_above_a_freed_survivor_is_not_held_for_good(world: World) -> None:
    await quinn_above_a_step_left_half_done(world, "per_tia", "per_dan")


async def a_late_fact_finding_the_holder_above_held_by_a_step_fires_what_it_makes_hold(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", production="hosanna"))
    await world.deliver(world.purchase("sale-c", "per_carl", production="hosanna"))
    await world.deliver(world.purchase("sale-d", "per_dan", production="hosanna"))
    await world.deliver(world.purchase("sale-q", "per_quinn", production="albertine"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_carl"))
    await world.deliver(world.merged("mrg_q", "per_quinn", "per_anne"))
    # The merge of Carl into Dan dies storing Quinn, above Anne, who let Carl go.
    carl_into_dan = world.merged("mrg_2", "per_dan", "per_carl")
    await merge_dies_storing(world, carl_into_dan, "per_quinn")

    # Anne's purchase of a third production reaches Quinn once her held number is dealt with.
    late = await world.deliver(world.purchase("sale-a3", "per_anne", production="belles-soeurs"))

    assert rules_fired(late) == [("subscription-offer-third-production", "per_quinn")]
    assert (await world.profile("per_quinn")).last_change == "late:sale-a3"


async def an_unmerged_survivor_is_welcomed_for_its_own_first_purchase(world: World) -> None:
    await world.deliver(world.purchase("sale-b", "per_bea", days_ago=5))
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=20))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    anne_buys = await world.deliver(world.purchase("sale-a", "per_anne", days_ago=1))

    assert rules_fired(anne_buys) == [("welcome-first-purchase", "per_anne")]


async def a_fact_merging_persons_and_finding_a_relative_leaves_the_survivor_in_the_relative_s_household(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-c", "per_carl"))
    merge = world.merged("mrg_1", "per_anne", "per_carl", household_id="hh_carl")
    merge_data = parse_data(merge)
    assert isinstance(merge_data, PersonsMergedV1)
    # Identity decided both at the fact's moment, the merge's move first; they may arrive in any order.
    relative = world.household_joined("per_anne", "hh_relative", at=merge_data.merged_at)

    await world.deliver(relative)
    await world.deliver(merge)

    assert (await world.fields("per_anne"))["household_id"] == "hh_relative"
    await world.deliver(relative)
    await world.deliver(merge)
    assert (await world.fields("per_anne"))["household_id"] == "hh_relative"


async def erasing_a_merged_person_takes_its_history_out_of_the_survivor(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))

    outputs = await world.deliver(world.erasure("per_bea"))

    assert await world.tickets("per_anne") == 2
    assert (await world.fields("per_anne"))["emails"] == ["per_anne@example.com"]
    assert [output.data["changed"]["tickets_bought"] for output in outputs if output.type == PROFILE_CHANGED] == [2]
    assert await world.naming("per_bea") == []


async def erasing_a_survivor_leaves_the_persons_merged_into_it_to_an_unmerge(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea", tickets=3))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))

    await world.deliver(world.erasure("per_anne"))

    assert await world.naming("per_anne") == []
    merged = await world.profile("per_bea")
    assert (merged.merged_by, merged.merged_into) == ("mrg_1", None)
    # A late fact of the merged person stays its own: the profile that held it is gone.
    assert await world.deliver(world.purchase("sale-late", "per_bea", days_ago=1)) == ()

    outputs = await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    assert await world.tickets("per_bea") == 5
    assert PROFILE_CHANGED in types_for(outputs, "per_bea")
    assert await world.naming("per_anne") == []


async def a_late_fact_climbs_a_chain_of_merges_and_an_inner_unmerge_takes_it_out(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-b", "per_bea", tickets=2))
    await world.deliver(world.purchase("sale-c", "per_cleo", tickets=4))
    await world.deliver(world.merged("mrg_ab", "per_bea", "per_anne"))
    await world.deliver(world.merged("mrg_bc", "per_cleo", "per_bea"))
    assert await world.tickets("per_cleo") == 7

    await world.deliver(world.purchase("sale-late", "per_anne", tickets=8, days_ago=1))

    assert await world.tickets("per_cleo") == 15

    outputs = await world.deliver(world.unmerged("mrg_ab", "per_bea", "per_anne"))

    assert await world.tickets("per_cleo") == 6
    assert await world.tickets("per_anne") == 9
    assert [output.data["changed"]["tickets_bought"] for output in outputs if output.type == PROFILE_CHANGED] == [
        6,
        9,
    ]


async def a_merge_into_a_survivor_merged_since_reaches_the_profile_holding_it(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-b", "per_bea", tickets=2))
    await world.deliver(world.purchase("sale-c", "per_cleo", tickets=4))
    # Identity merged Anne into Béa, then Béa into Cléo; the second merge happens to arrive first.
    first, second = world.merged("mrg_ab", "per_bea", "per_anne"), world.merged("mrg_bc", "per_cleo", "per_bea")
    await world.deliver(second)

    outputs = await world.deliver(first)

    assert await world.tickets("per_cleo") == 7
    assert [output.data["changed"]["tickets_bought"] for output in outputs if output.type == PROFILE_CHANGED] == [7]


async def a_person_merged_again_before_its_unmerge_arrives_leaves_the_first_survivor(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", tickets=1))
    await world.deliver(world.purchase("sale-b", "per_bea", tickets=2))
    await world.deliver(world.purchase("sale-c", "per_cleo", tickets=4))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    # Identity undid the first merge and merged Béa into Cléo; the unmerge is still on its way.
    await world.deliver(world.merged("mrg_2", "per_cleo", "per_bea"))

    assert await world.tickets("per_anne") == 1
    assert await world.tickets("per_cleo") == 6
    assert "per_bea" not in repr((await world.profile("per_anne")).merges)

    await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    assert await world.tickets("per_anne") == 1
    assert await world.tickets("per_cleo") == 6
    assert (await world.profile("per_bea")).merged_into == "per_cleo"


async def a_late_fact_racing_a_merge_still_lands_on_the_survivor(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    world, store = gated(world)
    # The survivor has read Béa's profile and is about to store the merge when Béa's late fact comes in.
    gate = store.hold("take_turn", lambda args: args[1] == "per_anne" and args[3] == "merge:mrg_1")
    merging = asyncio.create_task(world.deliver(world.merged("mrg_1", "per_anne", "per_bea")))
    await gate.reached.wait()

    await world.deliver(world.purchase("sale-late", "per_bea", days_ago=1))
    gate.opened.set()
    await merging

    assert await world.tickets("per_anne") == 6


async def a_fact_finding_its_next_number_held_by_a_merge_under_way_waits_for_it(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    world, store = gated(world)
    # The merge (another Kafka key, handled alongside) has taken Béa's next number and is slow to store her profile.
    gate = store.hold("save", lambda args: args[0].person_id == "per_bea")
    merging = asyncio.create_task(world.deliver(world.merged("mrg_1", "per_anne", "per_bea")))
    await gate.reached.wait()

    applying = asyncio.create_task(world.deliver(world.purchase("sale-late", "per_bea", days_ago=1)))
    await asyncio.sleep(0.2)
    gate.opened.set()
    await merging
    await applying

    assert await world.tickets("per_anne") == 6


async def a_fact_stored_while_its_person_is_erased_is_deleted_too(world: World) -> None:
    await world.deliver(world.purchase("sale-e", "per_emma"))
    world, store = gated(world)
    # The fact has its number in Emma's log and is about to store her profile when the erasure runs.
    gate = store.hold("save", lambda args: args[0].person_id == "per_emma")
    applying = asyncio.create_task(world.deliver(world.purchase("sale-e2", "per_emma")))
    await gate.reached.wait()

    await world.deliver(world.erasure("per_emma"))
    gate.opened.set()

    assert await applying == ()
    assert await world.store.profile(world.organisation_id, "per_emma") is None
    assert await world.naming("per_emma") == []


async def own_fact_slow_to_store(
    world: World, event_id: str, person_id: str, *, days_ago: int = 30
) -> tuple[Gate, "asyncio.Task[tuple[Envelope, ...]]"]:
    """A purchase of one ticket by `person_id` that has taken their next number and is held just before it checks
    and stores their profile, as a writer slow with look-ups, triggers and its due entry would be: its gate, and the
    task delivering it."""
    slow, store = gated(world)
    gate = store.hold("applied", lambda args: person_id in args[1])
    own = asyncio.create_task(slow.deliver(slow.purchase(event_id, person_id, tickets=1, days_ago=days_ago)))
    await gate.reached.wait()
    return gate, own


async def a_writer_overtaken_while_storing_never_puts_back_an_older_profile(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    before = (await world.profile("per_anne")).applied
    gate, own = await own_fact_slow_to_store(world, "sale-a2", "per_anne")
    # Meanwhile a late fact of Béa (another Kafka key) lands on Anne: it stores Anne's fact first, then its own change.
    await world.deliver(world.purchase("sale-b-late", "per_bea", days_ago=1))
    assert (await world.profile("per_anne")).applied == before + 2
    gate.opened.set()
    await own

    # The slow writer's profile (without the late fact) is not stored over the later one.
    assert (await world.profile("per_anne")).applied == before + 2
    assert await world.tickets("per_anne") == 2 + 2 + 1 + 2
    await world.deliver(world.purchase("sale-a3", "per_anne"))
    await world.deliver(world.purchase("sale-b-late2", "per_bea", days_ago=1))
    assert await world.tickets("per_anne") == 2 + 2 + 1 + 2 + 2 + 2


async def a_merge_marking_a_person_whose_own_fact_is_slow_to_store_stays_marked(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    gate, own = await own_fact_slow_to_store(world, "sale-b2", "per_bea")
    # The merge (Anne's key) stores Béa's fact for her, marks her merged and takes her history into Anne.
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    gate.opened.set()
    await own

    assert (await world.profile("per_bea")).merged_into == "per_anne"
    await world.deliver(world.purchase("sale-b3", "per_bea", days_ago=1))
    assert await world.tickets("per_anne") == 2 + 2 + 1 + 2


async def a_writer_overtaken_by_a_later_fact_and_a_step_stores_nothing_over_them(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    gate, own = await own_fact_slow_to_store(world, "sale-b2", "per_bea")
    # Béa's next fact, delivered again elsewhere after a restart, stores her slow fact first, then itself; the
    # merge then marks her, a step on top of a fact.
    await world.deliver(world.purchase("sale-b3", "per_bea"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    gate.opened.set()
    await own

    assert (await world.profile("per_bea")).merged_into == "per_anne"
    await world.deliver(world.purchase("sale-b4", "per_bea", days_ago=1))
    assert await world.tickets("per_anne") == 2 + 2 + 1 + 2 + 2


async def batch_overtaken_while_storing(
    world: World, facts: list[Envelope], overtaking: Envelope, *, later_by: timedelta = timedelta(0)
) -> tuple[Envelope, ...]:
    """A batch of `facts` logs them and is held as it files due entries, before storing; meanwhile, `later_by` after
    the batch decided, `overtaking` (another Kafka key, another process, or the batch's first fact delivered again
    there) finds the first fact's number held and stores that fact itself, and goes on past it if it is another
    change. Returns what the batch publishes once it has gone on to its end."""
    slow, store = gated(world)
    gate = store.hold("schedule_all", lambda args: True)
    batch = asyncio.create_task(slow.deliver_batch(facts))
    await gate.reached.wait()
    world.clock.at += later_by
    await world.deliver(overtaking)
    gate.opened.set()
    return await batch


async def a_batch_overtaken_while_storing_never_puts_back_an_older_profile(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    # The merge stores Béa's fact of the batch for her, marks her merged and takes her history into Anne.
    await batch_overtaken_while_storing(
        world, [world.purchase("sale-b2", "per_bea", tickets=1)], world.merged("mrg_1", "per_anne", "per_bea")
    )

    assert (await world.profile("per_bea")).merged_into == "per_anne"
    await world.deliver(world.purchase("sale-b3", "per_bea", days_ago=1))
    assert await world.tickets("per_anne") == 2 + 2 + 1 + 2


async def a_batch_creating_a_person_overtaken_by_a_merge_into_them_leaves_the_merge_stored(world: World) -> None:
    await world.deliver(world.purchase("sale-z", "per_zoe"))
    # The batch holds Léa's first fact, which identity has just created her for; identity merges Zoé into her at
    # once, and the merge stores Léa's fact for her, then takes Zoé's history into her.
    await batch_overtaken_while_storing(
        world, [world.purchase("sale-l", "per_lea", tickets=1)], world.merged("mrg_1", "per_lea", "per_zoe")
    )

    assert await world.tickets("per_lea") == 1 + 2
    assert (await world.profile("per_zoe")).merged_into == "per_lea"


async def a_batch_overtaken_by_a_writer_deciding_a_day_later_announces_only_the_triggers_stored(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-z", "per_zoe"))
    # Léa's first purchase, 29 days before the batch decides: a first purchase within 30 days is welcomed. The
    # merge into her stores that purchase a day later, when it is more than 30 days old: no welcome.
    outputs = await batch_overtaken_while_storing(
        world,
        [world.purchase("sale-l", "per_lea", tickets=1, days_ago=29)],
        world.merged("mrg_1", "per_lea", "per_zoe"),
        later_by=timedelta(days=1, seconds=1),
    )

    assert TRIGGER_FIRED not in types_for(outputs, "per_lea")
    assert (await world.profile("per_lea")).fired == frozenset()
    await world.deliver(world.erasure("per_lea"))
    assert await world.naming("per_lea") == [], "nothing, not even the batch's claim of the welcome, names her"


async def a_batch_whose_fact_another_writer_stored_later_leaves_that_writers_profile_stored(world: World) -> None:
    await world.deliver(world.purchase("sale-b", "per_bea", days_ago=364))
    opened = world.email_open("open-1", "per_bea")
    # The same fact, delivered again elsewhere (a partition changing hands) two days after the batch decided, is
    # stored there first, and goes no further: by then Béa has lapsed, and that writer fired the win-back. The
    # batch's profile, decided before, must not be stored over it: the claim is the fact's, so a profile without
    # it would never announce the win-back again, and its due moment would no longer match the entry filed.
    await batch_overtaken_while_storing(world, [opened], opened, later_by=timedelta(days=2))

    stored = await world.profile("per_bea")
    assert any(key.startswith("lapsed-buyer:") for key in stored.fired)
    assert TRIGGER_FIRED in types_for(await world.deliver(opened), "per_bea")


async def a_batch_whose_first_fact_another_writer_stored_later_goes_on_from_that_writers_profile(world: World) -> None:
    await world.deliver(world.purchase("sale-b", "per_bea", days_ago=364))
    before = (await world.profile("per_bea")).applied
    first, second = world.email_open("open-1", "per_bea"), world.email_open("open-2", "per_bea")
    # The batch's first fact, delivered again elsewhere two days later, is stored there alone, with the win-back
    # Béa has lapsed into by then: the batch stores nothing over it, and its second fact goes on from there.
    outputs = await batch_overtaken_while_storing(world, [first, second], first, later_by=timedelta(days=2))

    stored = await world.profile("per_bea")
    assert stored.applied == before + 2
    assert any(key.startswith("lapsed-buyer:") for key in stored.fired)
    # The win-back that writer fired is published again with its fact, once, and the batch's decision of day 0
    # (no win-back yet) is not.
    assert [output.data["rule"] for output in outputs if output.type == TRIGGER_FIRED] == ["lapsed-buyer"]


async def a_batch_creating_a_person_whose_first_fact_another_writer_stored_later_welcomes_no_one(
    world: World,
) -> None:
    # Léa's first purchase, 29 days before the batch decides, would be welcomed (a first purchase within 30 days);
    # delivered again elsewhere two days later, it is stored there alone, unwelcomed, before the batch stores.
    first, second = world.purchase("sale-l", "per_lea", tickets=1, days_ago=29), world.email_open("open-l", "per_lea")
    outputs = await batch_overtaken_while_storing(world, [first, second], first, later_by=timedelta(days=2))

    stored = await world.profile("per_lea")
    assert stored.applied == 2
    assert stored.fired == frozenset()
    assert TRIGGER_FIRED not in types_for(outputs, "per_lea")
    await world.deliver(world.erasure("per_lea"))
    assert await world.naming("per_lea") == [], "nothing, not even the batch's claim of the welcome, names her"


async def a_writer_overtaken_by_a_writer_deciding_a_day_later_announces_only_the_triggers_stored(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", days_ago=200))
    await world.deliver(world.email_open("open-b", "per_bea"))
    # Béa's first purchase, 29 days before her writer decides, is welcomed; the merge stores it for her a day later.
    gate, own = await own_fact_slow_to_store(world, "sale-b2", "per_bea", days_ago=29)
    world.clock.at += timedelta(days=1, seconds=1)
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    gate.opened.set()
    outputs = await own

    assert TRIGGER_FIRED not in types_for(outputs, "per_bea")
    await world.deliver(world.erasure("per_bea"))
    assert await world.naming("per_bea") == [], "nothing, not even the slow writer's claim of the welcome, names her"


async def merge_of_bea_into_anne_cut_short(world: World, *, storing: str) -> Envelope:
    """Anne and Béa buy, then the merge of Béa into Anne dies as it stores the profile of `storing`, after taking
    their next change number; returns the merge, as identity would deliver it again."""
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    merge = world.merged("mrg_1", "per_anne", "per_bea")
    crashing, store = gated(world)
    store.hold("save", lambda args: args[0].person_id == storing, crash=True)
    with pytest.raises(CrashError):
        await crashing.deliver(merge)
    return merge


async def a_merge_cut_short_after_marking_its_persons_is_completed_when_delivered_again(world: World) -> None:
    # Béa is marked merged, Anne has taken her next change number for the merge, and the process dies.
    merge = await merge_of_bea_into_anne_cut_short(world, storing="per_anne")
    assert (await world.profile("per_bea")).merged_by == "mrg_1"
    assert await world.tickets("per_anne") == 2

    outputs = await world.deliver(merge)

    assert await world.tickets("per_anne") == 4
    assert PROFILE_CHANGED in types_for(outputs, "per_anne")
    assert ids(await world.deliver(merge)) == ids(outputs)


async def a_merge_delivered_again_after_a_late_fact_of_the_person_it_marked_announces_their_exits_again(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.donation("gift-b", "per_bea"))
    merge = world.merged("mrg_1", "per_anne", "per_bea")

    # Handled, then the process dies before Kafka has its events; a fact of Béa's lands on Anne meanwhile.
    first = (await world.handle(merge)).outputs
    await world.deliver(world.purchase("sale-late", "per_bea", days_ago=1))
    again = await world.deliver(merge)

    assert SEGMENT_EXITED in types_for(first, "per_bea")
    assert ids(tuple(output for output in again if output.data.get("person_id") == "per_bea")) == ids(
        tuple(output for output in first if output.data.get("person_id") == "per_bea")
    )


async def a_merge_cut_short_after_marking_then_a_late_fact_still_announces_the_exits_when_delivered_again(
    world: World,
) -> None:
    await world.deliver(world.donation("gift-b", "per_bea"))
    # Béa is marked merged (leaving her segments), Anne has taken her next change number, and the process dies.
    merge = await merge_of_bea_into_anne_cut_short(world, storing="per_anne")
    await world.deliver(world.purchase("sale-late", "per_bea", days_ago=1))

    outputs = await world.deliver(merge)

    assert "donors" in {output.data["segment"] for output in outputs if output.type == SEGMENT_EXITED}
    assert await world.tickets("per_anne") == 6


async def an_unmerge_delivered_again_after_a_fact_of_the_person_restored_announces_their_return_again(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.donation("gift-b", "per_bea"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    unmerge = world.unmerged("mrg_1", "per_anne", "per_bea")

    # Handled, then the process dies before Kafka has its events; Béa buys meanwhile.
    first = (await world.handle(unmerge)).outputs
    await world.deliver(world.purchase("sale-b", "per_bea", days_ago=1))
    again = await world.deliver(unmerge)

    assert SEGMENT_ENTERED in types_for(first, "per_bea")
    assert ids(again) == ids(first)


async def a_late_fact_delivered_again_after_its_survivor_changed_announces_what_it_fired_again(world: World) -> None:
    await world.deliver(world.purchase("sale-a1", "per_anne", production="albertine"))
    await world.deliver(world.purchase("sale-a2", "per_anne", production="hosanna"))
    await world.deliver(world.purchase("sale-b", "per_bea", production="hosanna"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    late = world.purchase("sale-late", "per_bea", production="belles-soeurs", days_ago=1)

    # Handled, then the process dies before Kafka has its events; Anne gives meanwhile (a fact on her own key).
    first = (await world.handle(late)).outputs
    await world.deliver(world.donation("gift-a", "per_anne", days_ago=1))
    again = await world.deliver(late)

    assert rules_fired(first) == [("subscription-offer-third-production", "per_anne")]
    assert ids(again) == ids(first)


async def a_late_fact_delivered_again_after_the_profile_holding_its_survivor_changed_announces_it_again(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a1", "per_anne", production="albertine"))
    await world.deliver(world.purchase("sale-b", "per_bea", production="albertine"))
    await world.deliver(world.purchase("sale-q", "per_quinn", production="hosanna"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    await world.deliver(world.merged("mrg_q", "per_quinn", "per_anne"))
    late = world.purchase("sale-late", "per_bea", production="belles-soeurs", days_ago=1)

    # Handled, then the process dies before Kafka has its events; Quinn, at the top, gives meanwhile.
    first = (await world.handle(late)).outputs
    await world.deliver(world.donation("gift-q", "per_quinn", days_ago=1))
    again = await world.deliver(late)

    assert rules_fired(first) == [("subscription-offer-third-production", "per_quinn")]
    assert ids(again) == ids(first)


async def a_late_fact_delivered_again_after_another_merged_persons_late_fact_landed_announces_it_again(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a1", "per_anne", production="albertine"))
    await world.deliver(world.purchase("sale-a2", "per_anne", production="hosanna"))
    await world.deliver(world.purchase("sale-b", "per_bea", production="hosanna"))
    await world.deliver(world.donation("gift-c", "per_carl"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    await world.deliver(world.merged("mrg_2", "per_anne", "per_carl"))
    bea_late = world.purchase("sale-b-late", "per_bea", production="belles-soeurs", days_ago=1)
    carl_late = world.purchase("sale-c-late", "per_carl", days_ago=1)

    # Handled, then the process dies before Kafka has its events; a late fact of Carl's (another key) lands on Anne
    # meanwhile.
    first = (await world.handle(bea_late)).outputs
    carl_first = await world.deliver(carl_late)
    again = await world.deliver(bea_late)
    carl_again = await world.deliver(carl_late)

    assert rules_fired(first) == [("subscription-offer-third-production", "per_anne")]
    assert ids(again) == ids(first)
    assert PROFILE_CHANGED in types_for(carl_first, "per_anne")
    assert ids(carl_again) == ids(carl_first)


async def a_late_fact_delivered_again_after_the_profile_it_landed_on_was_merged_on_announces_it_again(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a1", "per_anne", production="albertine"))
    await world.deliver(world.purchase("sale-a2", "per_anne", production="hosanna"))
    await world.deliver(world.purchase("sale-b", "per_bea", production="hosanna"))
    await world.deliver(world.purchase("sale-q", "per_quinn", production="tartuffe"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    late = world.purchase("sale-late", "per_bea", production="belles-soeurs", days_ago=1)

    # Lands on Anne, then the process dies before Kafka has its events; Anne is merged into Quinn meanwhile, so the
    # fact delivered again finds Quinn holding its history, already with the fact in it.
    first = (await world.handle(late)).outputs
    await world.deliver(world.merged("mrg_q", "per_quinn", "per_anne"))
    again = await world.deliver(late)

    assert rules_fired(first) == [("subscription-offer-third-production", "per_anne")]
    assert PROFILE_CHANGED in types_for(first, "per_anne")
    assert ids(again) == ids(first)
    # Published again, not applied again: five purchases of two tickets.
    assert await world.tickets("per_quinn") == 10


async def late_facts_delivered_again_two_merges_above_where_each_landed_announce_each_its_own_again(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a1", "per_anne", production="albertine"))
    await world.deliver(world.purchase("sale-a2", "per_anne", production="hosanna"))
    await world.deliver(world.purchase("sale-b", "per_bea", production="hosanna"))
    await world.deliver(world.purchase("sale-q", "per_quinn", production="tartuffe"))
    await world.deliver(world.purchase("sale-z", "per_zoe", production="tartuffe"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    first_late = world.purchase("sale-late-1", "per_bea", production="belles-soeurs", days_ago=2)
    second_late = world.purchase("sale-late-2", "per_bea", days_ago=1)

    # The first lands on Anne, the second on Quinn once Anne is merged into her; each handling dies before Kafka has
    # its events, and Quinn is merged into Zoé before either is delivered again.
    first = (await world.handle(first_late)).outputs
    await world.deliver(world.merged("mrg_q", "per_quinn", "per_anne"))
    second = (await world.handle(second_late)).outputs
    await world.deliver(world.merged("mrg_z", "per_zoe", "per_quinn"))
    first_again = await world.deliver(first_late)
    second_again = await world.deliver(second_late)

    assert rules_fired(first) == [("subscription-offer-third-production", "per_anne")]
    assert PROFILE_CHANGED in types_for(second, "per_quinn")
    assert ids(first_again) == ids(first)
    assert ids(second_again) == ids(second)
    assert await world.tickets("per_zoe") == 14


async def an_unmerge_forgets_what_the_late_facts_of_the_person_it_gives_back_announced_and_keeps_the_others(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    await world.deliver(world.donation("gift-c", "per_carl"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    await world.deliver(world.merged("mrg_2", "per_anne", "per_carl"))
    bea_late = world.purchase("sale-b-late", "per_bea", days_ago=1)
    carl_late = world.purchase("sale-c-late-2", "per_carl", days_ago=1)
    await world.deliver(bea_late)
    await world.deliver(world.purchase("sale-c-late-1", "per_carl", days_ago=2))
    carl_first = await world.deliver(carl_late)
    # One kept for each person, their last.
    assert [(landed.person_id, landed.change) for landed in (await world.profile("per_anne")).landed] == [
        ("per_bea", "late:sale-b-late"),
        ("per_carl", "late:sale-c-late-2"),
    ]

    await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    assert [landed.person_id for landed in (await world.profile("per_anne")).landed] == ["per_carl"]
    # Béa's late fact is hers alone again: delivered again, it announces nothing of Anne.
    assert types_for(await world.deliver(bea_late), "per_anne") == []
    assert ids(await world.deliver(carl_late)) == ids(carl_first)


async def an_erasure_leaves_nothing_of_a_late_fact_landed_on_a_profile_that_no_longer_holds_the_person(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    await world.deliver(world.donation("gift-c", "per_carl"))
    await world.deliver(world.merged("mrg_1", "per_carl", "per_bea"))
    await world.deliver(world.merged("mrg_2", "per_anne", "per_carl"))
    await world.deliver(world.purchase("sale-b-late", "per_bea", days_ago=1))
    # Carl gives Béa back: Anne, recomputed without her history, still keeps what Béa's late fact announced there.
    await world.deliver(world.unmerged("mrg_1", "per_carl", "per_bea"))
    assert [landed.person_id for landed in (await world.profile("per_anne")).landed] == ["per_bea"]

    await world.deliver(world.erasure("per_bea"))

    assert (await world.profile("per_anne")).landed == ()
    assert await world.naming("per_bea") == []


async def an_erasure_cut_short_before_its_announcements_were_out_announces_them_again(world: World) -> None:
    await world.deliver(world.donation("gift-e", "per_emma"))
    erasure = world.erasure("per_emma")

    first = await world.handle(erasure)
    again = await world.deliver(erasure)

    assert SEGMENT_EXITED in [output.type for output in first.outputs]
    assert ids(again) == ids(first.outputs)
    assert await world.naming("per_emma") == []


async def time_alone_makes_a_buyer_lapse_and_the_sweep_announces_it_once(world: World) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.sweep()  # the first sweep only sets its position
    before = await world.profile("per_lea")
    assert before.due_at is not None
    assert "lapsed-buyers" not in before.segments

    world.clock.at = NOW + timedelta(days=10)
    published: list[Envelope] = []
    report = await world.sweep(published=published)

    after = await world.profile("per_lea")
    assert "lapsed-buyers" in after.segments
    assert after.due_at is not None
    assert after.due_at > world.clock.at
    types = [output.type for output in published]
    assert SEGMENT_ENTERED in types
    assert PROFILE_CHANGED in types
    assert [output.data["rule"] for output in published if output.type == TRIGGER_FIRED] == ["lapsed-buyer"]
    assert report.outcomes.get("swept", 0) >= 1

    again: list[Envelope] = []
    await world.sweep(published=again)
    assert again == []
    assert (await world.profile("per_lea")).version == after.version


async def the_sweep_visits_only_the_profiles_due_and_files_each_for_its_next_moment(world: World) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.deliver(world.purchase("sale-m", "per_max", days_ago=1))
    await world.sweep()
    lea, max_ = await world.profile("per_lea"), await world.profile("per_max")
    assert lea.due_at is not None
    assert max_.due_at is not None
    world.clock.at = lea.due_at + timedelta(minutes=20)
    assert max_.due_at > world.clock.at, "the scenario needs Max due later than Lea"

    report = await world.sweep()

    assert report.outcomes == {"swept": 1}
    assert (await world.profile("per_max")).version == max_.version
    assert (await world.profile("per_lea")).version == lea.version + 1


async def a_sweep_cut_short_visits_the_rest_next_time_and_announces_the_same_events(world: World) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.sweep()
    world.clock.at = NOW + timedelta(days=10)

    with pytest.raises(CrashError):
        await world.sweep(fail_on="per_lea")
    published: list[Envelope] = []
    await world.sweep(published=published)
    again: list[Envelope] = []
    await world.sweep(published=again)

    assert [output.data["rule"] for output in published if output.type == TRIGGER_FIRED] == ["lapsed-buyer"]
    assert again == []


async def a_buyer_back_before_lapsing_is_not_swept_into_lapsed(world: World) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.sweep()
    await world.deliver(world.purchase("sale-l2", "per_lea", days_ago=0))
    world.clock.at = NOW + timedelta(days=10)

    published: list[Envelope] = []
    await world.sweep(published=published)

    assert "lapsed-buyers" not in (await world.profile("per_lea")).segments
    assert [output for output in published if output.type == TRIGGER_FIRED] == []


async def a_due_moment_put_off_files_nothing_until_the_sweep_files_it_again_for_it(world: World) -> None:
    # A buyer a few days from turning less active; buying again (five days after) puts that moment off by as much.
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=170))
    await world.sweep()
    first = await world.profile("per_lea")
    assert first.due_at is not None
    assert first.filed_at == first.due_at

    await world.deliver(world.purchase("sale-l2", "per_lea", days_ago=165))
    later = await world.profile("per_lea")
    assert later.due_at is not None
    assert later.due_at > first.due_at, "the scenario needs the purchase to put Lea's due moment off"
    # Still filed where she was: nothing filed for the new moment, nothing let go.
    assert (later.due_handle, later.filed_at) == (first.due_handle, first.due_at)
    assert await world.store.filed_in(slot_of(later.due_at)) == []

    world.clock.at = first.due_at + timedelta(minutes=20)
    published: list[Envelope] = []
    report = await world.sweep(published=published)

    assert report.outcomes == {"refiled": 1}
    assert published == []
    refiled = await world.profile("per_lea")
    assert refiled.state == later.state
    assert refiled.filed_at == refiled.due_at == later.due_at
    filed = await world.store.filed_in(slot_of(later.due_at))
    assert [entry.person_id for part in filed for entry in part.entries] == ["per_lea"]

    # At the due moment itself, time changes her profile as it would have.
    world.clock.at = later.due_at + timedelta(minutes=20)
    report = await world.sweep(published=published)
    assert report.outcomes == {"swept": 1}
    assert PROFILE_CHANGED in [output.type for output in published]


async def a_due_moment_put_off_close_to_the_sweep_is_filed_anew(world: World) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=170))
    await world.sweep()
    first = await world.profile("per_lea")
    assert first.due_at is not None
    # Within reach of the sweep (less than a slot and its grace ahead), an entry kept could be let go before the
    # profile keeping it is stored.
    world.clock.at = first.due_at - timedelta(minutes=10)
    assert timedelta(minutes=10) < KEEP_AHEAD

    await world.deliver(world.purchase("sale-l2", "per_lea", days_ago=0))

    later = await world.profile("per_lea")
    assert later.due_at is not None
    assert later.due_at > first.due_at
    assert later.filed_at == later.due_at
    assert later.due_handle != first.due_handle
    filed = await world.store.filed_in(slot_of(later.due_at))
    assert [entry.person_id for part in filed for entry in part.entries] == ["per_lea"]


async def an_entry_gone_stale_changes_nothing_and_its_slot_is_let_go(world: World) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.sweep()
    before = await world.profile("per_lea")
    assert before.due_at is not None
    # Filed for a moment the profile is no longer due at (a crash between filing and storing leaves such).
    stale = DueEntry(due_at=NOW + timedelta(hours=1), organisation_id=world.organisation_id, person_id="per_lea")
    assert stale.due_at < before.due_at
    await world.store.schedule(stale)
    world.clock.at = stale.due_at + timedelta(minutes=20)

    published: list[Envelope] = []
    report = await world.sweep(published=published)

    assert report.outcomes == {"unchanged": 1}
    assert published == []
    assert (await world.profile("per_lea")).version == before.version
    assert await world.store.filed_in(slot_of(stale.due_at)) == []


async def lea_due_to_lapse_and_not_filed(world: World) -> datetime:
    """Lea, a buyer due to lapse, whose due entry is not filed (yet): her due moment."""
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.sweep()
    lea = await world.profile("per_lea")
    assert lea.due_at is not None
    assert lea.due_handle is not None
    await world.store.unschedule(lea.due_handle)
    return lea.due_at


async def a_due_entry_filed_after_the_sweep_passed_its_slot_is_visited_by_the_next_sweep(world: World) -> None:
    # The write that files Lea lags past her slot's grace: the sweep goes by before her entry is there.
    due_at = await lea_due_to_lapse_and_not_filed(world)
    world.clock.at = due_at + timedelta(minutes=20)
    assert (await world.sweep()).visited == 0
    await world.store.schedule(DueEntry(due_at, world.organisation_id, "per_lea"))

    await the_next_sweep_lapses_lea_from_her_entry_and_its_copy(world)


async def the_next_sweep_lapses_lea_from_her_entry_and_its_copy(world: World) -> None:
    """Lea's entry, filed late in her slot behind the sweep and again at its position: the next sweep reads the slot
    behind its position too, and visits both. The second visit finds her swept, and announces the same events again
    (the same ids)."""
    world.clock.at += timedelta(minutes=20)
    published: list[Envelope] = []
    report = await world.sweep(published=published)

    assert report.outcomes == {"swept": 1, "unchanged": 1}
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments
    fired = {output.id: output.data["rule"] for output in published if output.type == TRIGGER_FIRED}
    assert list(fired.values()) == ["lapsed-buyer"]


class FilingAsTheSweepMovesOn:
    """The store, with an entry filed in the slot being swept just before the sweep moves past it: after the slot
    was read and emptied, by a writer that read the position before it moved."""

    def __init__(self, inner: ProfileStore, entry: DueEntry) -> None:
        self._inner = inner
        self._entry: DueEntry | None = entry

    async def advance_sweep(self, slot: datetime, to: datetime) -> bool:
        entry, self._entry = self._entry, None
        # Moving past the entry's slot, whether from it or from an empty slot before it.
        if entry is not None and slot <= slot_of(entry.due_at) < to:
            await self._inner.schedule(entry)
        else:
            self._entry = entry
        return await self._inner.advance_sweep(slot, to)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def an_entry_filed_while_the_sweep_leaves_its_slot_is_visited_by_that_sweep(world: World) -> None:
    due_at = await lea_due_to_lapse_and_not_filed(world)
    racing = World(
        cast(ProfileStore, FilingAsTheSweepMovesOn(world.store, DueEntry(due_at, world.organisation_id, "per_lea"))),
        world.documents,
        world.organisation_id,
    )
    racing.clock = world.clock
    racing.deps = replace(racing.deps, clock=world.clock)
    world.clock.at = due_at + timedelta(minutes=20)

    report = await racing.sweep()

    assert report.outcomes == {"swept": 1}
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments


class FilingLeaAMonthLate:
    """The store, filing Lea's due entries a month after her due moment: her own slot holds nothing."""

    def __init__(self, inner: ProfileStore) -> None:
        self._inner = inner

    async def schedule(self, entry: DueEntry) -> str:
        return await self._inner.schedule(self._moved(entry))

    async def schedule_all(self, entries: list[DueEntry]) -> list[str]:
        return await self._inner.schedule_all([self._moved(entry) for entry in entries])

    @staticmethod
    def _moved(entry: DueEntry) -> DueEntry:
        return replace(entry, due_at=entry.due_at + timedelta(days=30)) if entry.person_id == "per_lea" else entry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def world_on(store: Any, like: World) -> World:
    """A world on `store` (a wrapper of `like`'s) sharing `like`'s clock."""
    other = World(cast(ProfileStore, store), like.documents, like.organisation_id)
    other.clock = like.clock
    other.deps = replace(like.deps, store=cast(ProfileStore, store))
    return other


async def lea_due_with_nothing_filed_around(world: World) -> datetime:
    """Lea, due to lapse, with nothing filed in her slot nor for hours around it: her due moment."""
    elsewhere = world_on(FilingLeaAMonthLate(world.store), world)
    await elsewhere.sweep()
    await elsewhere.deliver(elsewhere.purchase("sale-l", "per_lea", days_ago=360))
    due_at = (await world.profile("per_lea")).due_at
    assert due_at is not None
    around = (slot_of(due_at) - timedelta(hours=2), slot_of(due_at) + timedelta(hours=2))
    assert await world.store.slots_filed(*around) == []
    return due_at


async def an_entry_filed_as_the_sweep_passes_empty_slots_in_one_move_is_visited_by_that_sweep(world: World) -> None:
    # The sweep passes Lea's slot and those around it in one move, and her entry is filed there just before it
    # moves, by a writer that read the position before.
    due_at = await lea_due_with_nothing_filed_around(world)
    racing = world_on(FilingAsTheSweepMovesOn(world.store, DueEntry(due_at, world.organisation_id, "per_lea")), world)
    world.clock.at = due_at + timedelta(minutes=20)

    report = await racing.sweep()

    assert report.outcomes == {"swept": 1}
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments


class DyingAsTheSweepMoves:
    """The store, with Lea's entry filed in her slot by a writer that read the position before the sweep moved past
    it (so it files no copy ahead), and the sweep's process dying right after the move."""

    def __init__(self, inner: ProfileStore, entry: DueEntry) -> None:
        self._inner = inner
        self._entry: DueEntry | None = entry

    async def advance_sweep(self, slot: datetime, to: datetime) -> bool:
        entry = self._entry
        if entry is None or not slot <= slot_of(entry.due_at) < to:
            return await self._inner.advance_sweep(slot, to)
        self._entry = None
        await self._inner.schedule(entry)
        await self._inner.advance_sweep(slot, to)
        raise CrashError("the sweep dies once moved, before reading the slots it passed again")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def an_entry_filed_as_a_sweep_cut_short_passes_it_in_one_move_is_visited_by_the_next_sweep(world: World) -> None:
    due_at = await lea_due_with_nothing_filed_around(world)
    dying = world_on(DyingAsTheSweepMoves(world.store, DueEntry(due_at, world.organisation_id, "per_lea")), world)
    # Her slot and the three after it have ended: the move past hers passes several.
    world.clock.at = due_at + timedelta(hours=1)
    with pytest.raises(CrashError):
        await dying.sweep()
    world.clock.at += timedelta(minutes=20)

    report = await world.sweep()

    assert report.outcomes == {"swept": 1}
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments


class FindingNoPositionYet:
    """The store of a sweep that read the position just before another sweeper set it: its first read finds none."""

    def __init__(self, inner: ProfileStore) -> None:
        self._inner = inner
        self._first_read = True

    async def sweep_left(self) -> tuple[datetime, datetime] | None:
        if self._first_read:
            self._first_read = False
            return None
        return await self._inner.sweep_left()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def a_sweep_finding_no_position_reads_again_what_the_sweep_setting_it_first_passed_and_died(
    world: World,
) -> None:
    # Two sweepers start at once. One sets the position and, runs later, passes Lea's slot in one move and dies;
    # the other, which found no position, starts only now.
    due_at = await lea_due_with_nothing_filed_around(world)
    dying = world_on(DyingAsTheSweepMoves(world.store, DueEntry(due_at, world.organisation_id, "per_lea")), world)
    world.clock.at = due_at + timedelta(hours=1)
    with pytest.raises(CrashError):
        await dying.sweep()
    world.clock.at += timedelta(minutes=20)

    report = await world_on(FindingNoPositionYet(world.store), world).sweep()

    assert report.outcomes == {"swept": 1}
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments


class AnotherSweepRunsAsThisOneMoves:
    """The store of a sweep that, as it moves past Lea's slot, has her entry filed there by a writer that read the
    position before, and another sweep run whole before it reads the slots it passed again."""

    def __init__(self, inner: ProfileStore, entry: DueEntry, other: World) -> None:
        self._inner = inner
        self._entry: DueEntry | None = entry
        self._other = other

    async def advance_sweep(self, slot: datetime, to: datetime) -> bool:
        entry = self._entry
        if entry is None or not slot <= slot_of(entry.due_at) < to:
            return await self._inner.advance_sweep(slot, to)
        self._entry = None
        await self._inner.schedule(entry)
        moved = await self._inner.advance_sweep(slot, to)
        await self._other.sweep()
        return moved

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def an_entry_filed_as_a_sweep_passes_it_in_one_move_is_visited_though_another_sweep_leaves_the_day(
    world: World,
) -> None:
    # The other sweep moves on from the next day's first slot, letting Lea's day go (the real store does), before
    # the first reads the slots it passed again.
    due_at = await lea_due_with_nothing_filed_around(world)
    entry = DueEntry(due_at, world.organisation_id, "per_lea")
    first = world_on(AnotherSweepRunsAsThisOneMoves(world.store, entry, world), world)
    world.clock.at = slot_of(due_at).replace(hour=0, minute=40) + timedelta(days=1)

    await first.sweep()

    assert "lapsed-buyers" in (await world.profile("per_lea")).segments


async def an_entry_found_as_the_sweep_leaves_its_slot_by_a_sweep_cut_short_is_visited_by_the_next(
    world: World,
) -> None:
    # The sweep has moved past Lea's slot when it reads the slot once more and finds her; publishing her events
    # fails. No later sweep starts behind the position, so the next one (in the same process) must read that slot
    # again itself.
    due_at = await lea_due_to_lapse_and_not_filed(world)
    racing_store = FilingAsTheSweepMovesOn(world.store, DueEntry(due_at, world.organisation_id, "per_lea"))
    racing = World(cast(ProfileStore, racing_store), world.documents, world.organisation_id)
    racing.clock = world.clock
    racing.deps = replace(world.deps, store=cast(ProfileStore, racing_store))
    world.clock.at = due_at + timedelta(minutes=20)
    with pytest.raises(CrashError):
        await racing.sweep(fail_on="per_lea")
    world.clock.at += timedelta(minutes=20)

    published: list[Envelope] = []
    report = await world.sweep(published=published)

    # Her profile was stored before publishing failed: the visit finds it swept, and announces the same again.
    assert report.visited == 1
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments
    assert [output.data["rule"] for output in published if output.type == TRIGGER_FIRED] == ["lapsed-buyer"]


async def two_tickets_scanned_at_one_performance_thank_the_patron_once_and_another_performance_again(
    world: World,
) -> None:
    def thanks(outputs: tuple[Envelope, ...]) -> list[str]:
        return [output.id for output in outputs if output.data.get("rule") == "thank-you-after-performance"]

    first = await world.deliver(world.scan("scan-1", "per_ida", ticket_id="T-1", performance_id="giselle-1"))
    second = await world.deliver(world.scan("scan-2", "per_ida", ticket_id="T-2", performance_id="giselle-1"))
    other = await world.deliver(world.scan("scan-3", "per_ida", ticket_id="T-3", performance_id="giselle-2"))

    assert (len(thanks(first)), thanks(second), len(thanks(other))) == (1, [], 1)


async def a_first_timer_scanned_at_the_door_before_the_curtain_rises_is_thanked(world: World) -> None:
    scanned = await world.deliver(
        world.scan("scan-1", "per_ida", ticket_id="T-1", performance_id="giselle-1", starts_in=timedelta(minutes=25))
    )

    assert [output.data["rule"] for output in scanned if output.type == TRIGGER_FIRED] == [
        "thank-you-after-performance"
    ]


async def a_fact_after_a_due_moment_not_swept_yet_announces_what_time_changed_too(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.sweep()
    lea = await world.profile("per_lea")
    assert lea.due_at is not None
    assert "lapsed-buyers" not in lea.segments
    # Lea lapsed a few minutes ago; the sweep reads her slot only once it has ended.
    world.clock.at = lea.due_at + timedelta(minutes=5)

    outputs = await world.deliver(world.email_open("open-l", "per_lea"))

    [changed] = [output.data["changed"] for output in outputs if output.type == PROFILE_CHANGED]
    # What the open changed, and what time changed since Lea was last announced.
    assert {"opens_30d", "lifecycle_stage", "rfm.recency", "rfm.score"} <= set(changed)
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments
    assert [output.data["rule"] for output in outputs if output.type == TRIGGER_FIRED] == ["lapsed-buyer"]
    world.clock.at += timedelta(minutes=30)
    later: list[Envelope] = []
    await world.sweep(published=later)
    assert later == []


async def merged_and_erased_persons_are_not_swept(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne", days_ago=360))
    await world.deliver(world.purchase("sale-b", "per_bea", days_ago=360))
    await world.deliver(world.purchase("sale-e", "per_emma", days_ago=360))
    await world.sweep()
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    await world.deliver(world.erasure("per_emma"))
    world.clock.at = NOW + timedelta(days=10)

    published: list[Envelope] = []
    await world.sweep(published=published)

    assert {output.data["person_id"] for output in published} == {"per_anne"}
    assert await world.naming("per_emma") == []


async def a_profile_is_found_by_its_email_phone_and_upstream_id_until_erased(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    await world.deliver(world.purchase("sale-o", "per_olga", phone="+1 (514) 555-0199"))

    async def found(key: str) -> list[str]:
        return [profile.person_id for profile in await profiles_found_by(world.deps, world.organisation_id, key)]

    # Bea's email finds the profile holding her history now: Anne's.
    assert await found(email_lookup(" PER_BEA@example.com ")) == ["per_anne"]
    assert await found(email_lookup("per_olga@example.com")) == ["per_olga"]
    assert await found(phone_lookup("514 555 0199")) == ["per_olga"]
    assert await found(external_lookup("billetterie-principale", "C-004521")) == ["per_anne", "per_olga"]
    assert await found(email_lookup("nobody@example.com")) == []

    await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))
    assert await found(email_lookup("per_bea@example.com")) == ["per_bea"]

    await world.deliver(world.erasure("per_olga"))
    assert await found(email_lookup("per_olga@example.com")) == []
    assert await world.naming("per_olga") == []


async def a_patron_is_found_by_the_sound_of_their_names_or_an_upstream_id_alone_once_until_unmerged_or_erased(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-h", "per_helene", person=named_patron("Hélène", "Côté", "C-1001")))
    # The same patron at the door, typed without accents: identity merges the two.
    await world.deliver(world.purchase("sale-w", "per_walkup", person=named_patron("Helene", "Cote", "C-1002")))
    await world.deliver(world.purchase("sale-m", "per_marc", person=named_patron("Marc", "Tremblay", "C-2001")))
    await world.deliver(world.purchase("sale-l", "per_luc", person=named_patron("Luc", "Gagnon-Tremblay", "C-3001")))
    await world.deliver(world.merged("mrg_1", "per_helene", "per_walkup"))

    async def search(text: str, limit: int = 20) -> list[tuple[str, str]]:
        result = await search_profiles(world.deps, world.organisation_id, read_query(text), limit=limit)
        return [(found.candidate.person_id, found.matched_by.value) for found, _ in result.found]

    assert await search("cote helene") == [("per_helene", "name")]
    assert await search("c-1002") == [("per_helene", "upstream_id")], "the merged person's id finds the survivor"
    assert await search("Tremblai") == [("per_luc", "name"), ("per_marc", "name")]
    assert await search("Marc Tremblay") == [("per_marc", "name")]
    assert await search("PER_MARC@example.com") == [("per_marc", "email")]

    await world.deliver(world.unmerged("mrg_1", "per_helene", "per_walkup"))

    assert await search("c-1002") == [("per_walkup", "upstream_id")]
    assert await search("per_walkup@example.com") == [("per_walkup", "email")]
    assert await search("helene cote") == [("per_helene", "name"), ("per_walkup", "name")]

    await world.deliver(world.erasure("per_marc"))

    assert await search("Marc Tremblay") == []
    assert await search("C-2001") == []
    assert await world.naming("per_marc") == []


async def file_patron(world: World, key: str, first_name: str, last_name: str) -> None:
    """`per_<key>`, named so, filed by a purchase of their own."""
    await world.deliver(world.purchase(f"sale-{key}", f"per_{key}", person=named_patron(first_name, last_name, key)))


async def searched(world: World, text: str, *, limit: int = 20, **bounds: int) -> tuple[list[str], bool]:
    """The persons a search for `text` finds, best first, and whether it says it may have left some out."""
    result = await search_profiles(world.deps, world.organisation_id, read_query(text), limit=limit, **bounds)
    return [found.candidate.person_id for found, _ in result.found], result.truncated


async def a_search_says_when_it_may_have_left_patrons_out(world: World) -> None:
    for index, first in enumerate(("Anne", "Élise", "Luc")):
        await file_patron(world, str(index), first, "Gagnon")

    assert await searched(world, "gagnon", limit=3) == (["per_0", "per_1", "per_2"], False)
    assert await searched(world, "gagnon", limit=2) == (["per_0", "per_1"], True)
    assert await searched(world, "gagnon", limit=3, max_candidates=2) == (["per_0", "per_1"], True)
    assert await searched(world, "elise gagnon", limit=3, max_candidates=1) == (["per_1"], True), "the pair's list"


async def a_name_typed_halfway_finds_its_patron_among_more_patrons_of_its_sound_than_a_search_reads(
    world: World,
) -> None:
    # `Gau` sounds K as Côté does: in an audience with more Côtés than a search reads (500), the list of that sound
    # alone would fill the search and the list of the names beginning `gau` would never be read.
    budget = 5
    for index in range(budget):
        await file_patron(world, f"cote{index}", f"Luc{index}", "Côté")
    await file_patron(world, "line", "Line", "Gauthier")

    assert await searched(world, "Gau", max_candidates=budget) == (["per_line"], True)
    # More names beginning `gau` than a search reads too: those are read before the sound, and fill the search.
    for index in range(budget + 1):
        await file_patron(world, f"gau{index}", "Anne", f"Gaudet{index}")
    found, truncated = await searched(world, "Gau", max_candidates=budget)
    assert (len(found), truncated) == (budget, True)
    assert not [person_id for person_id in found if person_id.startswith("per_cote")], found


async def a_second_name_typed_halfway_finds_its_patron_among_more_patrons_of_the_first_than_a_search_reads(
    world: World,
) -> None:
    # Every Marie's list is longer than a search reads (500): read first, it filled the search before the list of the
    # names beginning `tremb`, which holds the one Marie Tremblay, was read.
    budget = 5
    for index in range(budget + 1):
        await file_patron(world, f"marie{index}", "Marie", f"Gagnon{index}")
    await file_patron(world, "tremblay", "Marie", "Tremblay")

    assert await searched(world, "Marie Tremb", max_candidates=budget) == (["per_tremblay"], True)
    # Within the budget: every list read, nothing left out.
    assert await searched(world, "Marie Tremb") == (["per_tremblay"], False)


async def a_short_word_typed_with_a_name_finds_its_patron_among_more_patrons_of_either_than_a_search_reads(
    world: World,
) -> None:
    # `Gau` sounds K as Côté does, and more Lines and Côtés than a search reads are filed before Line Gauthier: the
    # list of the names beginning `gau`, which holds her alone, must be read before theirs fill the search.
    budget = 10
    for index in range(budget + 2):
        await file_patron(world, f"roy{index}", "Line", f"Roy{index}")
    for index in range(budget * 3):
        await file_patron(world, f"cote{index}", f"Luc{index}", "Côté")
    await file_patron(world, "line", "Line", "Gauthier")

    found, _ = await searched(world, "Gau Line", max_candidates=budget)
    assert found == ["per_line"]


async def the_best_match_of_two_words_comes_first_among_more_namesakes_than_asked_for(world: World) -> None:
    # Both words sound the same: more Jeannottes than asked for begin `jeann` and match both words, and Jean Jeanotte,
    # the best match, is under the lists of `jean` alone.
    limit = 5
    for index in range(limit + 1):
        await file_patron(world, f"luc{index}", f"Luc{index}", "Jeannotte")
    await file_patron(world, "jean", "Jean", "Jeanotte")

    found, _ = await searched(world, "Jean Jeannotte", limit=limit)
    assert found[:1] == ["per_jean"]


async def profiles_stored_before_name_keys_are_found_by_name_once_reindexed_and_reindexing_again_files_nothing(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-h", "per_helene", person=named_patron("Hélène", "Côté", "C-1001")))
    await world.deliver(world.purchase("sale-w", "per_walkup", person=named_patron("Helene", "Cote", "C-1002")))
    await world.deliver(world.merged("mrg_1", "per_helene", "per_walkup"))
    await world.deliver(world.purchase("sale-m", "per_marc", person=named_patron("Marc", "Tremblay", "C-2001")))
    missing = sum([await forget_search_keys(world, person) for person in ("per_helene", "per_walkup", "per_marc")])

    async def search(text: str) -> list[str]:
        result = await search_profiles(world.deps, world.organisation_id, read_query(text), limit=20)
        return [found.candidate.person_id for found, _ in result.found]

    assert await search("Helene Cote") == []
    assert await search("C-2001") == []
    assert await search("Trem") == []

    elsewhere = await reindex_lookups(world.store, "festival-sud")
    first = await reindex_lookups(world.store, world.organisation_id)
    again = await reindex_lookups(world.store, None)

    assert (elsewhere.profiles, elsewhere.filed) == (0, 0)
    assert (first.profiles, first.filed) == (3, missing)
    assert (again.profiles, again.filed) == (3, 0)
    assert await search("Helene Cote") == ["per_helene"]
    assert await search("c-1002") == ["per_helene"]
    assert await search("Tremblai") == ["per_marc"]
    assert await search("Trem") == ["per_marc"]


async def a_profile_erased_or_renamed_while_reindexed_is_left_under_no_key_it_no_longer_holds(world: World) -> None:
    await world.deliver(world.purchase("sale-e", "per_emma", person=named_patron("Emma", "Roy", "C-5001")))
    await world.deliver(
        world.purchase("sale-n", "per_noe", person=named_patron("Noé", "Lavoie", "C-6001"), days_ago=40)
    )
    for person in ("per_emma", "per_noe"):
        await forget_search_keys(world, person)
    gated_world, store = gated(world)
    filing_emma = store.hold("index_lookups", lambda args: args[1] == "per_emma")
    filing_noe = store.hold("index_lookups", lambda args: args[1] == "per_noe")

    reindexing = asyncio.create_task(reindex_lookups(gated_world.store, world.organisation_id, concurrency=2))
    await asyncio.wait_for(asyncio.gather(filing_emma.reached.wait(), filing_noe.reached.wait()), HANG_GUARD_SECONDS)
    await world.deliver(world.erasure("per_emma"))
    # Noé's newest purchase gives a new family name: the one the reindex read is no longer his.
    await world.deliver(
        world.purchase("sale-n2", "per_noe", person=named_patron("Noé", "Tremblay", "C-6001"), days_ago=1)
    )
    filing_emma.opened.set()
    filing_noe.opened.set()
    await asyncio.wait_for(reindexing, HANG_GUARD_SECONDS)

    assert await world.naming("per_emma") == []
    assert await world.store.found_by(world.organisation_id, name_lookup("LF")) == []
    assert await world.store.found_by(world.organisation_id, name_lookup("TRMBL")) == ["per_noe"]


async def an_erasure_withdraws_the_keys_a_change_cut_short_left_filed(world: World) -> None:
    await world.deliver(world.purchase("sale-n", "per_noe", person=named_patron("Noé", "Lavoie", "C-6001"), days_ago=9))
    # His new family name is stored, and the process dies before the keys of the old one are withdrawn.
    crashing, store = gated(world)
    store.hold("unindex_lookups", lambda args: args[1] == "per_noe", crash=True)
    with pytest.raises(CrashError):
        await crashing.deliver(
            world.purchase("sale-n2", "per_noe", person=named_patron("Noé", "Tremblay", "C-6001"), days_ago=1)
        )
    assert await world.store.found_by(world.organisation_id, name_lookup("LF")) == ["per_noe"]

    await world.deliver(world.erasure("per_noe"))

    assert await world.store.found_by(world.organisation_id, name_lookup("LF")) == []
    assert await world.naming("per_noe") == []


async def an_erasure_of_a_person_whose_first_change_a_merge_died_storing_leaves_nothing_naming_them(
    world: World,
) -> None:
    # Dora has no profile yet: the merge of Dora into Béa takes her first change number and dies storing it.
    merge = world.merged("mrg_1", "per_bea", "per_dora")
    crashing, store = gated(world)
    store.hold("save", lambda args: args[0].person_id == "per_dora", crash=True)
    with pytest.raises(CrashError):
        await crashing.deliver(merge)

    await world.deliver(world.erasure("per_dora"))
    await world.deliver(merge)

    assert await world.naming("per_dora") == []


async def an_unmerge_stored_then_cut_short_keeps_no_message_naming_a_person_erased_before(world: World) -> None:
    await world.deliver(world.purchase("sale-d", "per_dora"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    await world.deliver(world.merged("mrg_1", "per_dora", "per_bea"))
    await world.deliver(world.erasure("per_bea"))
    # The unmerge stores Dora, then dies before letting go of its message, which names Béa.
    unmerge = world.unmerged("mrg_1", "per_dora", "per_bea")
    crashing, store = gated(world)
    store.hold("settle_turn", lambda args: args[1] == "per_dora", crash=True)
    with pytest.raises(CrashError):
        await crashing.deliver(unmerge)

    await world.deliver(unmerge)

    assert await world.naming("per_bea") == []


async def forget_search_keys(world: World, person_id: str) -> int:
    """Withdraws the keys of kinds the profile service files since the search box exists, as a profile stored before
    then lacks them; returns how many."""
    stored = await world.profile(person_id)
    new_kinds = {key for key in lookup_keys(stored.state) if key.startswith(("name:", "names:", "upstream:", "start:"))}
    await world.store.unindex_lookups(world.organisation_id, person_id, new_kinds)
    return len(new_kinds)


def named_patron(first_name: str, last_name: str, external_id: str) -> dict[str, str]:
    return {"first_name": first_name, "last_name": last_name, "external_id": external_id}


async def an_erasure_leaves_no_trace_in_a_profile_that_gave_the_history_back_by_an_unmerge(world: World) -> None:
    # Anne held Cléo's history through Béa until Cléo's merge into Béa was undone; Anne keeps what she announced
    # when she took Béa in, Cléo's purchase among it, for a redelivery of that merge.
    await world.deliver(world.purchase("sale-c", "per_cleo"))
    await world.deliver(world.merged("mrg_1", "per_bea", "per_cleo"))
    await world.deliver(world.merged("mrg_2", "per_anne", "per_bea"))
    await world.deliver(world.unmerged("mrg_1", "per_bea", "per_cleo"))

    await world.deliver(world.erasure("per_cleo"))

    assert await world.naming("per_cleo") == []
    assert await world.store.profile(world.organisation_id, "per_anne") is not None


async def an_erasure_whose_proof_failed_proves_it_when_delivered_again(world: World) -> None:
    await world.deliver(world.purchase("sale-e", "per_emma"))
    erasure = world.erasure("per_emma")
    crashing, store = gated(world)
    store.hold("profiles_naming", lambda args: args[1] == "per_emma", crash=True)
    with pytest.raises(CrashError):
        await crashing.deliver(erasure)
    digest = person_digest(world.organisation_id, "per_emma")
    assert await world.store.privacy_entries(world.organisation_id, digest) == []

    await world.deliver(erasure)

    [proof] = await world.store.privacy_entries(world.organisation_id, digest)
    assert proof.action == "erased"
    assert proof.details["documents_naming_the_person"] == 0
    assert await world.naming("per_emma") == []


async def a_profile_the_sweep_cannot_visit_does_not_hold_back_the_others_and_is_visited_by_the_next(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.deliver(world.purchase("sale-m", "per_max", days_ago=360))
    await world.sweep()
    sweeping, store = gated(world)
    store.hold("take_turn", lambda args: args[1] == "per_lea", crash=True)
    world.clock.at = NOW + timedelta(days=10)

    published: list[Envelope] = []
    report = await sweeping.sweep(published=published)

    assert report.outcomes.get("failed") == 1
    assert "lapsed-buyers" in (await world.profile("per_max")).segments
    assert [output.data["person_id"] for output in published if output.type == TRIGGER_FIRED] == ["per_max"]
    # The sweep went on past the slot of the profile it could not visit.
    position = await world.store.sweep_position()
    assert position is not None
    assert position >= world.clock.at - timedelta(minutes=30)
    # The next sweep visits her again: her lapse is not lost with the slot she was filed in.
    world.clock.at += timedelta(hours=1)
    later: list[Envelope] = []
    await world.sweep(published=later)
    assert [output.data["person_id"] for output in later if output.type == TRIGGER_FIRED] == ["per_lea"]
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments
    world.clock.at += timedelta(hours=1)
    assert (await world.sweep()).outcomes == {}


class FailingToVisit:
    """The store, failing every change to one person's profile while `failing` (a damaged document, say)."""

    def __init__(self, inner: ProfileStore, person_id: str) -> None:
        self._inner = inner
        self._person_id = person_id
        self.failing = True

    async def take_turn(self, organisation_id: str, person_id: str, *args: Any, **kwargs: Any) -> bool:
        if self.failing and person_id == self._person_id:
            raise CrashError(f"the profile of {person_id} cannot be changed")
        return await self._inner.take_turn(organisation_id, person_id, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class KilledOnceItsSlotIsLetGo:
    """The store of a sweep whose process is killed right after letting go of the document holding one person's
    entry: nothing it would do after reaches the store, clean-up included."""

    def __init__(self, inner: Any, person_id: str) -> None:
        self._inner = inner
        self._person_id = person_id
        self.killed = False

    async def drop_filed(self, filed: FiledDue) -> bool:
        dropped = bool(await self._inner.drop_filed(filed))
        if dropped and any(entry.person_id == self._person_id for entry in filed.entries):
            self.killed = True
            raise CrashError(f"killed once the slot holding {self._person_id} was let go")
        return dropped

    def __getattr__(self, name: str) -> Any:
        inner = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(inner):
            return inner

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.killed:
                raise CrashError(f"{name} after the process was killed")
            return await inner(*args, **kwargs)

        return call


async def filed_for(world: World, person_id: str, start: datetime) -> list[DueEntry]:
    """The entries filed for the person in the day from `start`, earliest slot first."""
    return [
        entry
        for slot in await world.store.slots_filed(start, start + timedelta(days=1))
        for filed in await world.store.filed_in(slot)
        for entry in filed.entries
        if entry.person_id == person_id
    ]


async def a_profile_the_sweep_cannot_visit_is_filed_again_before_its_slot_is_let_go(world: World) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.sweep()
    killed = KilledOnceItsSlotIsLetGo(FailingToVisit(world.store, "per_lea"), "per_lea")
    world.clock.at = NOW + timedelta(days=10)

    # Her visit fails, and the process is killed once her slot is let go, before the sweep ends.
    with pytest.raises(CrashError):
        await world_on(killed, world).sweep()

    assert killed.killed
    [retry] = await filed_for(world, "per_lea", slot_of(world.clock.at))
    assert (retry.failed_visits, retry.retry_at) == (1, world.clock.at + timedelta(minutes=15))
    # A later sweep visits her: her lapse is not lost with the process.
    world.clock.at += timedelta(hours=1)
    published: list[Envelope] = []
    assert (await world.sweep(published=published)).outcomes == {"swept": 1}
    assert [output.data["person_id"] for output in published if output.type == TRIGGER_FIRED] == ["per_lea"]


async def a_visit_failing_again_and_again_is_tried_less_often_and_a_visit_that_succeeds_ends_the_count(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.sweep()
    failing = FailingToVisit(world.store, "per_lea")
    sweeping = world_on(failing, world)
    world.clock.at = NOW + timedelta(days=10)

    delays: list[timedelta] = []
    for failures in range(1, 5):
        failed_at = world.clock.at
        assert (await sweeping.sweep()).outcomes == {"failed": 1}
        [retry] = await filed_for(world, "per_lea", slot_of(failed_at))
        assert retry.failed_visits == failures
        assert retry.retry_at is not None
        delays.append(retry.retry_at - failed_at)
        # Not visited by every sweep: none before her retry's slot has ended.
        swept_from = slot_of(retry.retry_at) + SLOT + GRACE
        world.clock.at = swept_from - timedelta(minutes=1)
        assert (await sweeping.sweep()).outcomes == {}
        world.clock.at = swept_from

    assert delays == [timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2)]
    # Repaired: the next try visits her, and her next due moment is filed as a first try.
    failing.failing = False
    published: list[Envelope] = []
    assert (await sweeping.sweep(published=published)).outcomes == {"swept": 1}
    assert [output.data["person_id"] for output in published if output.type == TRIGGER_FIRED] == ["per_lea"]
    lea = await world.profile("per_lea")
    assert lea.due_at is not None
    [next_visit] = await filed_for(world, "per_lea", slot_of(lea.due_at))
    assert (next_visit.due_at, next_visit.failed_visits, next_visit.retry_at) == (lea.due_at, 0, None)
    # A visit of that moment failing is tried again as soon as a first failure is.
    failing.failing = True
    world.clock.at = lea.due_at + timedelta(hours=1)
    assert (await sweeping.sweep()).outcomes == {"failed": 1}
    [retry] = await filed_for(world, "per_lea", slot_of(world.clock.at))
    first_retry = world.clock.at + timedelta(minutes=15)
    assert (retry.due_at, retry.failed_visits, retry.retry_at) == (lea.due_at, 1, first_retry)


async def a_fact_that_failed_for_good_after_taking_its_number_is_applied_by_the_next_one(world: World) -> None:
    await world.deliver(world.purchase("sale-1", "per_lea", tickets=1))
    crashing, store = gated(world)
    store.hold("save", lambda args: args[0].person_id == "per_lea", crash=True)
    with pytest.raises(CrashError):
        # It holds change number 2 and is never delivered again (dead-lettered, say).
        await crashing.deliver(world.purchase("sale-2", "per_lea", tickets=2))

    outputs = await world.deliver(world.purchase("sale-3", "per_lea", tickets=4))

    assert await world.tickets("per_lea") == 7
    assert (await world.profile("per_lea")).applied == 3
    changes = [output.data["changed"].get("tickets_bought") for output in outputs if output.type == PROFILE_CHANGED]
    assert changes == [3, 7]


async def a_fact_resolved_again_to_a_person_created_anew_holds_up_none_of_their_facts(world: World) -> None:
    await world.deliver(world.purchase("sale-1", "per_lea", tickets=1))
    # Identity died before keeping what it resolved, and resolved the same fact again to a person it created anew:
    # the batch takes Léo's first number for it before finding the fact logged for Léa.
    again = await world.deliver_batch([world.purchase("sale-1", "per_leo", tickets=1)])
    assert again == ()
    held = await world.store.turn_at(world.organisation_id, "per_leo", 1)
    assert held is not None
    assert held.change == "sale-1", "the number stays held by a fact logged for someone else"

    outputs = await world.deliver_batch(
        [world.purchase("sale-2", "per_leo", tickets=2), world.purchase("sale-3", "per_leo", tickets=4)]
    )

    changes = [output.data["changed"].get("tickets_bought") for output in outputs if output.type == PROFILE_CHANGED]
    assert changes == [2, 6]
    assert await world.tickets("per_leo") == 6
    assert await world.tickets("per_lea") == 1
    assert (await world.profile("per_leo")).applied == 3
    assert await world.deliver(world.purchase("sale-1", "per_leo", tickets=1)) == ()
    assert await world.tickets("per_leo") == 6


async def a_merge_whose_writer_died_holding_a_number_is_done_again_by_the_next_fact_there(world: World) -> None:
    # It holds Béa's change number 2. Its message waits behind Béa's next fact (in a batch yet to come, say), or was
    # dead-lettered: the fact cannot wait for it.
    merge = await merge_of_bea_into_anne_cut_short(world, storing="per_bea")

    outputs = await world.deliver(world.purchase("sale-b2", "per_bea", tickets=3))

    assert (await world.profile("per_bea")).merged_into == "per_anne"
    assert await world.tickets("per_anne") == 7
    # The merge, then the late fact, each announced by the survivor.
    survivor_changes = [
        output.data["changed"].get("tickets_bought")
        for output in outputs
        if output.type == PROFILE_CHANGED and output.data["person_id"] == "per_anne"
    ]
    assert survivor_changes == [4, 7]
    held = await world.store.turn_at(world.organisation_id, "per_bea", 2)
    assert held is not None
    assert held.change == "merged:mrg_1"
    assert held.origin is None, "a step stored keeps no copy of its message"

    await world.deliver(merge)

    assert await world.tickets("per_anne") == 7


async def a_sweep_that_died_holding_a_number_is_done_again_by_the_next_fact_there(world: World) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.sweep()
    sweeping, store = gated(world)
    store.hold("save", lambda args: args[0].person_id == "per_lea", crash=True)
    world.clock.at = NOW + timedelta(days=10)
    report = await sweeping.sweep()
    assert report.outcomes.get("failed") == 1

    outputs = await world.deliver(world.purchase("sale-l2", "per_lea", days_ago=0))

    # What the sweep found (Léa lapsed), done again and announced, then her purchase.
    assert "lapsed-buyers" in {output.data["segment"] for output in outputs if output.type == SEGMENT_ENTERED}
    assert "lapsed-buyers" in {output.data["segment"] for output in outputs if output.type == SEGMENT_EXITED}
    assert await world.tickets("per_lea") == 4
    assert (await world.profile("per_lea")).applied == 3


async def an_erasure_forgets_the_messages_kept_for_steps_never_stored_that_name_the_person(world: World) -> None:
    await world.deliver(world.purchase("sale-a", "per_anne"))
    await world.deliver(world.purchase("sale-b", "per_bea"))
    # A merge's writer died holding Anne's next number, and no writer of Anne came since to do the step again.
    merge = world.merged("mrg_9", "per_anne", "per_bea")
    assert await world.store.take_turn(world.organisation_id, "per_anne", 2, "merge:mrg_9", merge)

    await world.deliver(world.erasure("per_bea"))

    assert await world.naming("per_bea") == []
    held = await world.store.turn_at(world.organisation_id, "per_anne", 2)
    assert held is not None
    assert (held.change, held.origin) == ("merge:mrg_9", None)


async def facts_folded_into_no_profile_are_each_noted_filtered_once_with_their_reason(world: World) -> None:
    sale = world.purchase("sale-e", "per_emma")
    await world.deliver(sale)
    await world.deliver(world.donation("gift-e", "per_emma"))
    access = world.access_request("access-e", "per_emma")
    erasure = world.erasure("per_emma", upstream=True)

    assert (await world.handle(access)).filtered == ("not_a_profile_fact",)
    assert (await world.handle(access)).filtered == ()
    erased = await world.handle(erasure)
    # The request itself, and both facts it took out of Emma's history.
    assert sorted(erased.filtered) == ["erased", "erased", "erasure_request"]
    await world.deliver(erasure)
    assert (await world.handle(erasure)).filtered == ()
    assert (await world.handle(sale)).filtered == ()
    assert (await world.handle(world.purchase("sale-e2", "per_emma"))).filtered == ("erased_person",)
    assert await world.naming("per_emma") == []


async def an_erasure_parterre_asked_for_notes_the_facts_it_erased_but_not_itself(world: World) -> None:
    await world.deliver(world.purchase("sale-o", "per_olga"))

    erased = await world.handle(world.erasure("per_olga"))

    # The request came from Parterre's own API, not through ingest: it is no upstream fact to account for.
    assert erased.filtered == ("erased",)


# ---------------------------------------------------------------------------------------------------------------
# A writer that dies between claiming a trigger and publishing it


async def an_erasure_leaves_no_claim_of_a_trigger_whose_fact_died_before_storing_the_profile(world: World) -> None:
    for production in ("albertine", "hosanna"):
        await world.deliver(world.purchase(f"sale-e-{production}", "per_emma", production=production))
    dying, store = gated(world)
    # The third production claims the offer's dedupe key, then the process dies before the profile is stored.
    store.hold("save", lambda args: args[0].person_id == "per_emma", crash=True)
    with pytest.raises(CrashError):
        await dying.deliver(dying.purchase("sale-e-belles-soeurs", "per_emma", production="belles-soeurs"))

    await world.deliver(world.erasure("per_emma"))

    # The claim names her: it must go with the rest.
    assert await world.naming("per_emma") == []


async def a_sweep_that_died_before_publishing_and_a_fact_after_it_still_announce_the_lapse_once(world: World) -> None:
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.sweep()
    world.clock.at = NOW + timedelta(days=10)
    # The sweep stores Lea lapsed, claiming the trigger's key, then dies before Kafka has its events.
    with pytest.raises(CrashError):
        await world.sweep(fail_on="per_lea")
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments

    # Before the next sweep, Lea opens an email: her profile changes again.
    published = list(await world.deliver(world.email_open("open-l", "per_lea")))
    await world.sweep(published=published)

    assert [output.data["rule"] for output in published if output.type == TRIGGER_FIRED] == ["lapsed-buyer"]
    assert [output.data["segment"] for output in published if output.type == SEGMENT_ENTERED] == ["lapsed-buyers"]


async def an_address_that_bounced_hard_is_announced_undeliverable_and_no_trigger_names_it(world: World) -> None:
    # The bounce arrives before the purchase it follows: a fact may come in any order.
    await world.deliver(world.email_bounce("bounce-anne", "per_anne", email="per_anne@example.com", days_ago=1))

    outputs = await world.deliver(world.purchase("sale-anne", "per_anne", days_ago=5))

    changed = [output.data["changed"] for output in outputs if output.type == PROFILE_CHANGED]
    assert [(fields["emails"], fields["undeliverable_emails"]) for fields in changed] == [
        (["per_anne@example.com"], ["per_anne@example.com"])
    ]
    welcomes = [output.data for output in outputs if output.type == TRIGGER_FIRED]
    assert [(welcome["rule"], welcome["contact_points"]) for welcome in welcomes] == [("welcome-first-purchase", [])]

    given_again = await world.deliver(world.purchase("sale-anne-2", "per_anne", days_ago=0))

    changed = [output.data["changed"] for output in given_again if output.type == PROFILE_CHANGED]
    assert [fields["undeliverable_emails"] for fields in changed] == [[]]


async def stored_before_dead_addresses_were_kept(world: World, person_id: str) -> None:
    """The person's stored profile as a release that did not keep hard bounces and cleanings stored it."""
    stored = await world.profile(person_id)
    await world.store.save(replace(stored, state=replace(stored.state, emails_undeliverable_at={})))


async def recompute(
    world: World, *, run: str | None = None, fail_on: str | None = None, store_all: bool = False
) -> tuple[RecomputeReport, list[Envelope]]:
    """One run of `recompute_profiles` over the world's organisation (`run`, or a new one), and what it published.
    With `fail_on`, publishing the events of that person fails, as a crash before Kafka had them would."""
    published: list[Envelope] = []

    async def publish(outputs: tuple[Envelope, ...]) -> None:
        if fail_on is not None and any(output.data.get("person_id") == fail_on for output in outputs):
            raise CrashError(f"publishing for {fail_on}")
        published.extend(outputs)

    run = run or new_recompute_run(world.clock.now())
    report = await recompute_profiles(
        world.deps, world.organisation_id, run, publish, concurrency=4, store_all=store_all
    )
    return report, published


def undeliverable_announced(published: list[Envelope]) -> list[tuple[str, Any]]:
    return [
        (output.data["person_id"], output.data["changed"].get("undeliverable_emails"))
        for output in published
        if output.type == PROFILE_CHANGED
    ]


async def a_profile_stored_before_dead_addresses_were_kept_names_them_once_recomputed_and_a_second_run_changes_nothing(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-anne", "per_anne", days_ago=5))
    await world.deliver(world.email_bounce("bounce-anne", "per_anne", email="per_anne@example.com", days_ago=1))
    await world.deliver(world.purchase("sale-marc", "per_marc", days_ago=5))
    await stored_before_dead_addresses_were_kept(world, "per_anne")
    assert (await world.fields("per_anne"))["undeliverable_emails"] == []
    marc = await world.profile("per_marc")

    first, published = await recompute(world)
    anne = await world.profile("per_anne")
    again, published_again = await recompute(world)

    assert (first.visited, first.recomputed, first.unchanged, first.skipped) == (2, 1, 1, 0)
    assert undeliverable_announced(published) == [("per_anne", ["per_anne@example.com"])]
    assert [output.type for output in published if output.type == TRIGGER_FIRED] == [], "no fact happened"
    assert (await world.fields("per_anne"))["undeliverable_emails"] == ["per_anne@example.com"]
    assert await world.profile("per_marc") == marc
    assert (again.visited, again.recomputed, again.unchanged) == (2, 0, 2)
    assert published_again == []
    assert await world.profile("per_anne") == anne


async def a_recomputation_after_the_segments_file_is_edited_puts_every_profile_where_it_now_belongs(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-lea", "per_lea", days_ago=20))
    await world.deliver(world.purchase("sale-max", "per_max", days_ago=20))
    assert "high-value" not in (await world.profile("per_lea")).segments
    # The organisation lowers the threshold from $2,500 to $1 and restarts the service with the file.
    bundled = BUNDLED_SEGMENTS.read_text()
    edited = bundled.replace("op: gte, value: 2500}", "op: gte, value: 1}")
    assert edited != bundled
    world.deps = replace(world.deps, rules=replace(world.deps.rules, segments=load_segments(edited)))

    first, published = await recompute(world)
    again, published_again = await recompute(world)

    entered = {
        (output.data["person_id"], output.data["segment"]) for output in published if output.type == SEGMENT_ENTERED
    }
    assert entered == {("per_lea", "high-value"), ("per_max", "high-value")}
    assert [output for output in published if output.type == TRIGGER_FIRED] == [], "no fact happened"
    assert "high-value" in (await world.profile("per_lea")).segments
    assert (first.recomputed, again.recomputed, again.unchanged) == (2, 0, 2)
    assert published_again == []


async def a_recomputation_leaves_a_profile_merged_away_to_its_survivor_and_an_erased_one_gone(world: World) -> None:
    await world.deliver(world.purchase("sale-bea", "per_bea"))
    await world.deliver(world.purchase("sale-cleo", "per_cleo"))
    await world.deliver(world.email_bounce("bounce-cleo", "per_cleo", email="per_cleo@example.com", days_ago=1))
    await world.deliver(world.merged("mrg_1", "per_bea", "per_cleo"))
    await world.deliver(world.purchase("sale-emma", "per_emma"))
    # Emma's erasure is stored: only the document holding its announcements is left, until they are out.
    erasing = await world.handle(world.erasure("per_emma"))
    for person_id in ("per_bea", "per_cleo"):
        await stored_before_dead_addresses_were_kept(world, person_id)
    cleo, emma = await world.profile("per_cleo"), await world.profile("per_emma")

    report, published = await recompute(world)

    assert (report.visited, report.recomputed, report.merged_away, report.erased) == (3, 1, 1, 1)
    assert undeliverable_announced(published) == [("per_bea", ["per_cleo@example.com"])]
    assert (await world.fields("per_bea"))["undeliverable_emails"] == ["per_cleo@example.com"]
    assert await world.profile("per_cleo") == cleo, "a profile merged away is folded by its survivor"
    assert await world.profile("per_emma") == emma
    assert erasing.after_publish is not None
    await erasing.after_publish()
    assert await world.naming("per_emma") == []


async def a_run_storing_every_profile_stores_each_again_as_it_was_merged_away_ones_too_announcing_nothing(
    world: World,
) -> None:
    await world.deliver(world.purchase("sale-anne", "per_anne", days_ago=5))
    await world.deliver(world.email_bounce("bounce-anne", "per_anne", email="per_anne@example.com", days_ago=1))
    await world.deliver(world.purchase("sale-bea", "per_bea"))
    await world.deliver(world.purchase("sale-cleo", "per_cleo"))
    await world.deliver(world.merged("mrg_1", "per_bea", "per_cleo"))
    await stored_before_dead_addresses_were_kept(world, "per_anne")
    before = {person_id: await world.profile(person_id) for person_id in ("per_anne", "per_bea", "per_cleo")}
    run = new_recompute_run(world.clock.now(), store_all=True)

    report, published = await recompute(world, run=run, store_all=True)

    # Anne's profile learns her dead address and is announced, as in any run; the others are stored as they were.
    assert (report.visited, report.recomputed, report.stored_again, report.skipped) == (3, 1, 2, 0)
    assert undeliverable_announced(published) == [("per_anne", ["per_anne@example.com"])]
    for person_id in ("per_bea", "per_cleo"):
        after = await world.profile(person_id)
        assert after.version == before[person_id].version + 1
        assert after.applied == before[person_id].applied + 1
        assert replace(after, version=0, applied=0, last_change=None, last_outputs=()) == replace(
            before[person_id], version=0, applied=0, last_change=None, last_outputs=()
        )
    stored = {person_id: await world.profile(person_id) for person_id in before}
    # Carried on, the run announces again what it stored for Anne, and stores nothing again.
    carried_on, published_again = await recompute(world, run=run, store_all=True)
    assert (carried_on.announced_again, carried_on.stored_again) == (1, 2), carried_on
    assert ids(tuple(published_again)) == ids(tuple(published))
    assert {person_id: await world.profile(person_id) for person_id in before} == stored
    # The profiles go on as before: Cléo's late purchase lands on Béa, who holds her history.
    await world.deliver(world.purchase("sale-cleo-2", "per_cleo", days_ago=1))
    assert await world.tickets("per_bea") == 2 + 2 + 2


async def a_run_storing_every_profile_publishes_what_a_writer_that_died_holding_a_number_left(world: World) -> None:
    await world.deliver(world.purchase("sale-anne", "per_anne"))
    dying, store = gated(world)
    store.hold("save", lambda args: args[0].person_id == "per_anne", crash=True)
    with pytest.raises(CrashError):
        await dying.deliver(world.purchase("sale-anne-2", "per_anne", tickets=1))

    report, published = await recompute(world, store_all=True)

    # The run does the dead writer's fact first, as its redelivery would, and publishes what it announces: that
    # redelivery, finding the profile past the fact, publishes nothing.
    assert report.stored_again == 1
    assert PROFILE_CHANGED in types_for(tuple(published), "per_anne")
    assert await world.tickets("per_anne") == 2 + 1
    assert await world.deliver(world.purchase("sale-anne-2", "per_anne", tickets=1)) == ()


async def a_profile_erased_while_it_is_recomputed_does_not_come_back(world: World) -> None:
    await world.deliver(world.purchase("sale-emma", "per_emma"))
    await world.deliver(world.email_bounce("bounce-emma", "per_emma", email="per_emma@example.com", days_ago=1))
    await stored_before_dead_addresses_were_kept(world, "per_emma")
    gated_world, store = gated(world)
    taking = store.hold("take_turn", lambda args: args[1] == "per_emma")

    recomputing = asyncio.create_task(recompute(gated_world))
    await asyncio.wait_for(taking.reached.wait(), HANG_GUARD_SECONDS)
    await world.deliver(world.erasure("per_emma"))
    taking.opened.set()
    report, published = await asyncio.wait_for(recomputing, HANG_GUARD_SECONDS)

    assert (report.visited, report.recomputed, report.erased) == (1, 0, 1)
    assert published == []
    assert await world.store.profile(world.organisation_id, "per_emma") is None
    assert await world.naming("per_emma") == []


async def a_recomputation_cut_short_before_publishing_announces_the_same_events_when_carried_on(world: World) -> None:
    for person_id in ("per_anne", "per_bea"):
        await world.deliver(world.purchase(f"sale-{person_id}", person_id, days_ago=5))
        await world.deliver(
            world.email_bounce(f"bounce-{person_id}", person_id, email=f"{person_id}@example.com", days_ago=1)
        )
        await stored_before_dead_addresses_were_kept(world, person_id)
    run = new_recompute_run(world.clock.now())
    with pytest.raises(CrashError):
        await recompute(world, run=run, fail_on="per_anne")
    stored = await world.profile("per_anne")
    assert stored.last_change == f"recompute:{run}", "stored, then cut short before Kafka had its events"

    carried_on, published = await recompute(world, run=run)
    another, published_by_another = await recompute(world)

    assert (carried_on.visited, carried_on.recomputed + carried_on.announced_again) == (2, 2)
    assert carried_on.announced_again >= 1
    assert sorted(undeliverable_announced(published)) == [
        ("per_anne", ["per_anne@example.com"]),
        ("per_bea", ["per_bea@example.com"]),
    ]
    assert {output.id for output in published if output.data["person_id"] == "per_anne"} == {
        Envelope.from_json_bytes(raw).id for raw in stored.last_outputs
    }
    assert (another.recomputed, another.announced_again, another.unchanged) == (0, 0, 2)
    assert published_by_another == []


SCENARIOS: tuple[Callable[[World], Awaitable[None]], ...] = (
    a_merge_reaching_a_survivor_freed_from_a_merge_not_yet_undone_fires_what_it_makes_hold,
    a_merge_reaching_a_survivor_after_its_earlier_merge_was_undone_fires_what_it_makes_hold,
    a_person_unmerged_is_told_in_full_even_what_went_back_to_empty_while_merged,
    an_address_that_bounced_hard_is_announced_undeliverable_and_no_trigger_names_it,
    a_profile_stored_before_dead_addresses_were_kept_names_them_once_recomputed_and_a_second_run_changes_nothing,
    a_recomputation_after_the_segments_file_is_edited_puts_every_profile_where_it_now_belongs,
    a_recomputation_leaves_a_profile_merged_away_to_its_survivor_and_an_erased_one_gone,
    a_run_storing_every_profile_stores_each_again_as_it_was_merged_away_ones_too_announcing_nothing,
    a_run_storing_every_profile_publishes_what_a_writer_that_died_holding_a_number_left,
    a_profile_erased_while_it_is_recomputed_does_not_come_back,
    a_recomputation_cut_short_before_publishing_announces_the_same_events_when_carried_on,
    a_member_whose_renewal_is_on_its_way_is_offered_no_season_pass,
    a_lapsed_buyer_asked_back_is_not_asked_again_when_their_last_order_is_then_refunded_in_full,
    a_lapsed_buyers_history_imported_purchase_after_purchase_asks_them_back_once,
    a_household_joined_after_a_lapse_the_sweep_has_not_reached_leaves_the_win_back_to_it,
    a_merge_after_a_lapse_the_sweep_has_not_reached_leaves_the_win_back_to_it,
    an_older_first_gift_imported_after_its_anniversary_sends_no_late_anniversary,
    a_household_shows_on_the_profile_announced_once_and_an_older_one_never_replaces_it,
    a_survivor_moves_to_the_household_its_merge_names_whatever_order_the_household_events_arrive_in,
    a_fact_merging_persons_and_finding_a_relative_leaves_the_survivor_in_the_relative_s_household,
    an_unmerge_gives_the_survivor_back_the_household_it_had_before_the_merge,
    a_household_decided_after_a_merge_outlasts_its_unmerge_and_a_later_merge_s_unmerge_gives_it_back,
    a_survivor_in_no_household_before_its_merge_is_in_none_once_it_is_undone,
    a_household_decided_before_a_merge_and_delivered_after_it_is_the_one_its_unmerge_gives_back,
    a_merge_that_makes_a_rule_hold_fires_it_once_and_again_with_the_merge_delivered_again,
    a_merge_sends_nothing_a_person_merged_in_was_sent_however_deep_and_in_any_order,
    a_merge_reaching_a_survivor_merged_since_fires_what_it_makes_hold_where_the_histories_now_are,
    a_survivor_is_not_welcomed_again_for_a_first_purchase_a_person_merged_in_was_welcomed_for,
    a_survivor_is_not_welcomed_again_through_a_merge_of_a_merge,
    an_unmerged_survivor_is_welcomed_for_its_own_first_purchase,
    a_survivor_is_not_welcomed_again_when_the_merges_bringing_a_welcomed_person_arrive_out_of_order,
    a_survivor_is_welcomed_once_the_welcomed_person_deep_in_its_merges_is_unmerged,
    a_survivor_is_welcomed_once_the_welcomed_person_deep_in_its_merges_is_erased,
    a_survivor_is_not_welcomed_while_an_unmerge_deeper_in_its_merges_has_not_reached_it,
    a_survivor_is_not_welcomed_while_an_erasure_deeper_in_its_merges_has_not_reached_it,
    a_fact_cut_short_and_done_again_by_a_merge_decides_as_it_did_first,
    an_unmerge_deep_in_a_chain_leaves_no_profile_above_with_the_history_it_took_out,
    a_person_unmerged_deep_in_a_chain_then_erased_is_named_nowhere,
    a_late_fact_landing_while_a_survivor_is_merged_on_reaches_the_profile_that_holds_it_in_the_end,
    a_late_fact_two_merges_down_landing_while_a_merge_on_is_applied_reaches_the_top,
    a_survivor_left_while_letting_a_history_go_is_not_blocked_for_good,
    a_survivor_left_while_letting_a_history_go_by_a_merge_undone_since_is_not_blocked_for_good,
    a_holder_left_while_letting_go_a_survivor_freed_by_a_later_merge_is_not_blocked_for_good,
    a_merge_in_force_again_is_not_let_go_by_a_held_step_of_a_merge_undone_since,
    a_helper_doing_a_held_step_again_late_does_not_let_go_a_merge_stored_since,
    a_person_erased_while_a_step_letting_them_go_holds_a_profile_does_not_block_it,
    a_person_erased_while_a_step_of_a_merge_undone_since_holds_a_profile_does_not_block_it,
    a_live_writer_whose_number_was_passed_over_makes_its_change_again,
    a_live_writer_whose_number_was_passed_over_announces_nothing_it_did_not_store,
    a_person_merged_into_a_survivor_erased_as_the_merge_is_stored_is_left_to_an_unmerge,
    a_person_merged_into_a_survivor_erased_after_the_merge_died_is_left_to_an_unmerge,
    a_merge_whose_survivor_was_erased_as_it_was_stored_announces_the_same_exits_again,
    two_writers_passing_one_number_over_leave_what_the_faster_stored_after_it,
    a_late_merge_undone_since_announces_nothing_of_a_later_merge_left_without_its_survivor,
    a_step_recomputing_the_holder_above_a_history_let_go_is_not_held_for_good,
    a_step_recomputing_the_holder_above_a_freed_survivor_is_not_held_for_good,
    a_late_fact_finding_the_holder_above_held_by_a_step_fires_what_it_makes_hold,
    an_unmerge_leaves_the_survivor_free_to_be_sent_what_only_the_person_restored_was_sent,
    a_merge_does_not_send_again_what_a_person_merged_in_held_in_an_earlier_period,
    a_merge_adds_the_histories_up_and_a_redelivery_changes_nothing,
    an_unmerge_gives_each_person_back_their_own_facts,
    the_fact_that_merged_two_persons_goes_back_with_the_one_whose_upstream_id_it_names,
    a_late_fact_for_a_merged_person_lands_on_the_survivor_and_leaves_with_an_unmerge,
    a_later_fact_of_a_merged_person_s_history_lands_without_reading_any_history_again_and_leaves_with_an_unmerge,
    a_later_fact_of_a_merged_person_s_history_delivered_again_is_counted_once,
    a_later_fact_of_a_merged_person_s_history_is_counted_once_by_a_merge_folding_it_in_before_it_lands,
    erasing_a_person_given_back_leaves_no_profile_recording_how_far_it_read_their_log,
    an_erasure_leaves_no_document_naming_the_person_and_a_redelivery_does_not_bring_it_back,
    erasing_a_merged_person_takes_its_history_out_of_the_survivor,
    erasing_a_survivor_leaves_the_persons_merged_into_it_to_an_unmerge,
    a_late_fact_climbs_a_chain_of_merges_and_an_inner_unmerge_takes_it_out,
    a_merge_into_a_survivor_merged_since_reaches_the_profile_holding_it,
    a_person_merged_again_before_its_unmerge_arrives_leaves_the_first_survivor,
    a_late_fact_racing_a_merge_still_lands_on_the_survivor,
    a_fact_finding_its_next_number_held_by_a_merge_under_way_waits_for_it,
    a_fact_stored_while_its_person_is_erased_is_deleted_too,
    a_writer_overtaken_while_storing_never_puts_back_an_older_profile,
    a_merge_marking_a_person_whose_own_fact_is_slow_to_store_stays_marked,
    a_writer_overtaken_by_a_later_fact_and_a_step_stores_nothing_over_them,
    a_batch_overtaken_while_storing_never_puts_back_an_older_profile,
    a_batch_creating_a_person_overtaken_by_a_merge_into_them_leaves_the_merge_stored,
    a_batch_overtaken_by_a_writer_deciding_a_day_later_announces_only_the_triggers_stored,
    a_batch_whose_fact_another_writer_stored_later_leaves_that_writers_profile_stored,
    a_batch_whose_first_fact_another_writer_stored_later_goes_on_from_that_writers_profile,
    a_batch_creating_a_person_whose_first_fact_another_writer_stored_later_welcomes_no_one,
    a_writer_overtaken_by_a_writer_deciding_a_day_later_announces_only_the_triggers_stored,
    a_merge_whose_writer_died_holding_a_number_is_done_again_by_the_next_fact_there,
    a_sweep_that_died_holding_a_number_is_done_again_by_the_next_fact_there,
    an_erasure_forgets_the_messages_kept_for_steps_never_stored_that_name_the_person,
    a_merge_cut_short_after_marking_its_persons_is_completed_when_delivered_again,
    a_merge_delivered_again_after_a_late_fact_of_the_person_it_marked_announces_their_exits_again,
    a_merge_cut_short_after_marking_then_a_late_fact_still_announces_the_exits_when_delivered_again,
    an_unmerge_delivered_again_after_a_fact_of_the_person_restored_announces_their_return_again,
    a_late_fact_delivered_again_after_its_survivor_changed_announces_what_it_fired_again,
    a_late_fact_delivered_again_after_the_profile_holding_its_survivor_changed_announces_it_again,
    a_late_fact_delivered_again_after_another_merged_persons_late_fact_landed_announces_it_again,
    a_late_fact_delivered_again_after_the_profile_it_landed_on_was_merged_on_announces_it_again,
    late_facts_delivered_again_two_merges_above_where_each_landed_announce_each_its_own_again,
    an_unmerge_forgets_what_the_late_facts_of_the_person_it_gives_back_announced_and_keeps_the_others,
    an_erasure_leaves_nothing_of_a_late_fact_landed_on_a_profile_that_no_longer_holds_the_person,
    an_erasure_cut_short_before_its_announcements_were_out_announces_them_again,
    time_alone_makes_a_buyer_lapse_and_the_sweep_announces_it_once,
    the_sweep_visits_only_the_profiles_due_and_files_each_for_its_next_moment,
    a_sweep_cut_short_visits_the_rest_next_time_and_announces_the_same_events,
    a_buyer_back_before_lapsing_is_not_swept_into_lapsed,
    a_due_moment_put_off_files_nothing_until_the_sweep_files_it_again_for_it,
    a_due_moment_put_off_close_to_the_sweep_is_filed_anew,
    an_entry_gone_stale_changes_nothing_and_its_slot_is_let_go,
    a_due_entry_filed_after_the_sweep_passed_its_slot_is_visited_by_the_next_sweep,
    an_entry_filed_while_the_sweep_leaves_its_slot_is_visited_by_that_sweep,
    an_entry_filed_as_the_sweep_passes_empty_slots_in_one_move_is_visited_by_that_sweep,
    an_entry_filed_as_a_sweep_cut_short_passes_it_in_one_move_is_visited_by_the_next_sweep,
    a_sweep_finding_no_position_reads_again_what_the_sweep_setting_it_first_passed_and_died,
    an_entry_filed_as_a_sweep_passes_it_in_one_move_is_visited_though_another_sweep_leaves_the_day,
    an_entry_found_as_the_sweep_leaves_its_slot_by_a_sweep_cut_short_is_visited_by_the_next,
    a_fact_after_a_due_moment_not_swept_yet_announces_what_time_changed_too,
    two_tickets_scanned_at_one_performance_thank_the_patron_once_and_another_performance_again,
    a_first_timer_scanned_at_the_door_before_the_curtain_rises_is_thanked,
    merged_and_erased_persons_are_not_swept,
    a_profile_is_found_by_its_email_phone_and_upstream_id_until_erased,
    a_patron_is_found_by_the_sound_of_their_names_or_an_upstream_id_alone_once_until_unmerged_or_erased,
    a_search_says_when_it_may_have_left_patrons_out,
    a_name_typed_halfway_finds_its_patron_among_more_patrons_of_its_sound_than_a_search_reads,
    a_second_name_typed_halfway_finds_its_patron_among_more_patrons_of_the_first_than_a_search_reads,
    a_short_word_typed_with_a_name_finds_its_patron_among_more_patrons_of_either_than_a_search_reads,
    the_best_match_of_two_words_comes_first_among_more_namesakes_than_asked_for,
    profiles_stored_before_name_keys_are_found_by_name_once_reindexed_and_reindexing_again_files_nothing,
    a_profile_erased_or_renamed_while_reindexed_is_left_under_no_key_it_no_longer_holds,
    an_erasure_withdraws_the_keys_a_change_cut_short_left_filed,
    an_erasure_of_a_person_whose_first_change_a_merge_died_storing_leaves_nothing_naming_them,
    an_unmerge_stored_then_cut_short_keeps_no_message_naming_a_person_erased_before,
    a_merge_bringing_a_person_erased_meanwhile_publishes_nothing_naming_them,
    a_merge_bringing_a_person_erased_meanwhile_through_a_merge_beneath_publishes_nothing_naming_them,
    a_merge_stored_after_an_erasure_marked_the_person_it_brings_publishes_nothing_naming_them,
    a_merge_that_died_before_leaving_out_a_person_erased_meanwhile_publishes_nothing_naming_them_again,
    an_offer_a_merge_fired_for_a_person_erased_meanwhile_is_left_to_fire_later,
    an_offer_a_merge_fired_for_a_person_erased_meanwhile_is_left_to_fire_later_though_it_died_checking,
    an_offer_a_merge_fired_for_a_person_erased_meanwhile_is_left_to_fire_later_though_it_died_releasing,
    an_offer_a_merge_fired_for_a_person_erased_meanwhile_is_left_to_fire_later_though_it_was_undone,
    a_merge_that_died_before_leaving_out_a_person_erased_beneath_it_publishes_nothing_naming_them_again,
    a_merge_done_again_without_a_person_erased_meanwhile_still_tells_what_the_others_brought,
    a_merge_delivered_again_after_someone_it_brought_was_erased_since_changes_nothing,
    a_merge_whose_erased_person_the_erasure_let_go_meanwhile_still_tells_what_the_others_brought,
    a_merge_done_again_by_two_writers_is_stored_once,
    a_merge_done_again_on_a_survivor_merged_meanwhile_leaves_it_in_no_segment,
    a_merge_cut_short_whose_survivor_was_recomputed_before_the_erasure_s_last_step_is_still_told,
    a_merge_stored_before_the_erasure_s_last_step_and_cut_short_is_done_again_without_them,
    a_person_erased_deep_in_a_chain_is_named_by_no_merge_that_brought_them,
    an_erasure_leaves_no_trace_in_a_profile_that_gave_the_history_back_by_an_unmerge,
    an_erasure_whose_proof_failed_proves_it_when_delivered_again,
    a_profile_the_sweep_cannot_visit_does_not_hold_back_the_others_and_is_visited_by_the_next,
    a_profile_the_sweep_cannot_visit_is_filed_again_before_its_slot_is_let_go,
    a_visit_failing_again_and_again_is_tried_less_often_and_a_visit_that_succeeds_ends_the_count,
    a_fact_that_failed_for_good_after_taking_its_number_is_applied_by_the_next_one,
    a_fact_resolved_again_to_a_person_created_anew_holds_up_none_of_their_facts,
    facts_folded_into_no_profile_are_each_noted_filtered_once_with_their_reason,
    an_erasure_parterre_asked_for_notes_the_facts_it_erased_but_not_itself,
    an_erasure_leaves_no_claim_of_a_trigger_whose_fact_died_before_storing_the_profile,
    a_sweep_that_died_before_publishing_and_a_fact_after_it_still_announce_the_lapse_once,
)
